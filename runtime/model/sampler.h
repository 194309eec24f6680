/* Choosing the next token from logits.
 *
 * QLM_SAMPLER_DEFAULT applies, in this order (Hugging Face's order):
 * repetition penalty over the last repeat_last_n tokens (logit / penalty if
 * positive, * penalty otherwise, once per distinct token), then greedy argmax
 * if temp == 0 (lowest id on ties); else logits / temp, top-k, softmax,
 * top-p (smallest prefix of the sorted distribution whose mass >= top_p),
 * min-p (drop tokens with p < min_p * p_max), and a draw from what is left.
 * Candidates are ordered by logit, then by id, so every step is
 * deterministic; the random numbers come from our own splitmix64 stream, so
 * a seed gives the same tokens on every platform.
 *
 * QLM_SAMPLER_LLAMA2C reproduces llama2.c run.c's sample(): temperature,
 * softmax, then top-p ("nucleus", with its cutoff pre-filter) or plain
 * multinomial, driven by run.c's xorshift generator seeded with `seed`.
 */
#ifndef QLM_SAMPLER_H
#define QLM_SAMPLER_H

#include <stdint.h>

#include "formats/common/err.h"

typedef enum { QLM_SAMPLER_DEFAULT, QLM_SAMPLER_LLAMA2C } qlm_sampler_mode;

typedef struct {
    qlm_sampler_mode mode;
    double temp;            /* 0: greedy */
    int64_t top_k;          /* 0: off */
    double top_p;           /* 1: off */
    double min_p;           /* 0: off */
    double repeat_penalty;  /* 1: off */
    int64_t repeat_last_n;  /* penalty window; 0: off, -1: the whole history */
    uint64_t seed;
} qlm_sampler_params;

typedef struct qlm_sampler qlm_sampler;

/* llama.cpp's defaults: temp 0.8, top-k 40, top-p 0.95, min-p 0.05, no
 * repetition penalty (window 64), seed 0. */
void qlm_sampler_defaults(qlm_sampler_params *p);
/* QLM_E_ARG naming the parameter if one is out of range. */
qlm_status qlm_sampler_new(const qlm_sampler_params *p, int64_t n_vocab, qlm_sampler **out);
void qlm_sampler_free(qlm_sampler *s);
/* Next token; `logits` (n_vocab floats) is used as scratch and modified.
 * `hist` holds the n_hist tokens so far (prompt and generated). */
int32_t qlm_sampler_sample(qlm_sampler *s, float *logits, const int32_t *hist, int64_t n_hist);

#endif
