/* Synthetic-weight models (shared/golden/SYNTH.md, generator version 1):
 * real architectures with deterministic pseudo-random weights, written as a
 * Hugging Face folder so they go through the same converter as real models.
 *
 * The generator is specified bit for bit: fnv1a64 of the HF parameter name
 * xor the seed, splitmix64 per element, a 24-bit uniform in double, a scale
 * chosen by the name, then double -> f32 -> bf16 with separate roundings
 * (this file must be built with -ffp-contract=off, as the whole project is).
 */
#ifndef QLM_SYNTH_H
#define QLM_SYNTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "formats/common/err.h"

uint64_t qlm_fnv1a64(const void *data, size_t n);

typedef struct {
    uint64_t s0;  /* seed ^ fnv1a64(name) */
    int kind;     /* 0: v*0.1 + 1.0 (norm gains); 1: v*0.1; 2: v*scale */
    double scale; /* 1.0/sqrt(S[1]) for kind 2 */
} qlm_synth_gen;

/* Generator of parameter `name` with shape dims[rank]; QLM_E_SHAPE for a
 * linear weight that is not 2-D (its scale needs S[1]). */
qlm_status qlm_synth_gen_init(qlm_synth_gen *g, const char *name, uint32_t rank, const uint64_t *dims, uint64_t seed);
/* bf16 values of elements first .. first+count-1 (0-based). */
void qlm_synth_gen_bf16(const qlm_synth_gen *g, uint64_t first, size_t count, uint16_t *out);

typedef struct {
    const char *config;    /* config.json path, or "SYNTH_JSON#MODEL" (a model of synth.json) */
    const char *tokenizer; /* folder with tokenizer.json (+ tokenizer_config.json, ...) */
    uint64_t seed;
    bool have_seed;        /* required unless config names a synth.json model (its seed) */
    const char *out_dir;   /* created if missing */
    int threads;           /* 0: default */
} qlm_synth_opts;

/* Writes out_dir/config.json, out_dir/model.safetensors (bf16, parameters in
 * named_parameters() order) and copies the tokenizer files. */
qlm_status qlm_synth(const qlm_synth_opts *o);

#endif
