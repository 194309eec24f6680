/* Internals of runtime/model: the validated model (tensor views into the
 * mapping) and helpers shared by model_load.c, rope.c and forward.c. */
#ifndef QLM_MODEL_INT_H
#define QLM_MODEL_INT_H

#include "runtime/model/model.h"
#include "simd/kernels.h"

/* Longest context: keeps RoPE angles inside qlm_sincos_d's range. */
#define QLM_MAX_CTX (1 << 20)

/* A 2-D weight W[rows][cols] used in place from the mapping. */
typedef struct {
    const void *data;
    uint32_t dtype; /* F32, F16, BF16, Q8 or Q4 */
    int64_t rows, cols;
} qlm_mat;

typedef struct {
    const float *attn_norm, *ffn_norm;
    qlm_mat wq, wk, wv, wo, gate, up, down;
    const float *bq, *bk, *bv;        /* qwen2, else NULL */
    const float *q_norm, *k_norm;     /* qwen3, else NULL */
} qlm_layer;

struct qlm_model {
    qlm_file *file;
    qlm_hparams hp;
    qlm_mat embd, output;       /* output aliases embd when tied */
    const float *output_norm;
    qlm_layer *layers;
    float *inv_freq;            /* head_dim/2 RoPE inverse frequencies (float32, HF precision path) */
};

/* True for Q8/Q4: the input must be quantized with quant_act first. */
static inline int qlm_mat_quantized(const qlm_mat *w) { return w->dtype == QLM_DT_Q8 || w->dtype == QLM_DT_Q4; }

/* RoPE inverse frequencies for the hyper-parameters (rope.c); *out malloc'd. */
qlm_status qlm_rope_inv_freq(const qlm_hparams *hp, float **out);
/* cos/sin rows for one position: c[i], s[i] for i < head_dim/2. */
void qlm_rope_row(const float *inv_freq, int64_t half, int64_t pos, float *c, float *s);

#endif
