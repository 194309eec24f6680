/* Synthetic-weight models of shared/golden/synth.json end to end: `qlm synth`
 * + `qlm convert`, then the forward pass against the float64 Hugging Face
 * reference (SYNTH.md "How to compare"). Shared by the fast suite (small
 * models) and tests/slow (the 0.5B/0.6B ones). */
#ifndef QLM_SYNTHCHECK_H
#define QLM_SYNTHCHECK_H

/* Synthesize `name` (once per test binary) and convert it to `type`
 * (f32|bf16|q8|q4); returns the .qlm path (static buffer). */
const char *synth_model(const char *name, const char *type);
/* Delete the synthesized folder and every conversion of `name`. */
void synth_cleanup(const char *name);
/* f32: every prompt position's top-8 logits and the last position's full
 * vector within 1e-3 of the reference; the 24-token greedy continuation equal
 * (a different token only where the two candidates are within 2e-3). */
void synth_check_f32(const char *name, const char *qlm);
/* Quantized/bf16: prints mean KL(reference || ours) over the last positions
 * (full vocabulary) and top-1 agreement over every prompt position. */
void synth_report(const char *name, const char *type, const char *qlm);

#endif
