/* Tiny random-weight models written with qlm_writer, and an independent
 * double-precision reference forward pass (naive loops, nothing shared with
 * runtime/model). Used by the model and CLI tests. */
#ifndef QLM_TINYMODEL_H
#define QLM_TINYMODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "formats/qlm/dtype.h"

typedef struct {
    const char *arch;   /* llama | qwen2 | qwen3 */
    int64_t V, D, L, F, H, KV, hd, ctx;
    bool tied, bias, qk_norm;
    int rope_scaling;   /* 0 none, 1 llama3, 2 linear */
    double theta;
    qlm_dtype wtype;    /* dtype of every 2-D weight */
} tiny_spec;

/* The weights exactly as stored (dequantized), as doubles. */
typedef struct tiny_model tiny_model;

/* Write the model to `path`; `skip` (tensor name or NULL) is left out and
 * `bad_shape` (name or NULL) gets a wrong first dim, for error tests. */
tiny_model *tiny_write(const tiny_spec *s, const char *path, const char *skip, const char *bad_shape);
void tiny_free(tiny_model *m);
/* Reference logits of every position: out[n * V]. */
void tiny_reference(const tiny_model *m, const int32_t *tok, int64_t n, double *out);
/* The same with K and V rounded as the Q8 KV cache stores them (kv_q8). */
void tiny_reference_kv(const tiny_model *m, const int32_t *tok, int64_t n, bool kv_q8, double *out);

#endif
