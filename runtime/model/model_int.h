/* Internals of runtime/model: the validated model (tensor views into the
 * mapping) and helpers shared by model_load.c, rope.c and forward.c. */
#ifndef QLM_MODEL_INT_H
#define QLM_MODEL_INT_H

#include "runtime/model/model.h"
#include "simd/kernels.h"

/* Longest context: keeps RoPE angles inside qlm_sincos_d's range. */
#define QLM_MAX_CTX (1 << 20)

/* A 2-D weight W[rows][cols] used in place from the mapping; Q8/Q4 ones
 * may also have a copy in the packing kernel set's layout (pack.c). */
typedef struct {
    const void *data;
    uint32_t dtype; /* F32, F16, BF16, Q8, Q4 or a GPU block format */
    int64_t rows, cols;
    void *packed;   /* NULL, or the copy for qlm_model.pk->mm_packed (in qlm_model.arena) */
    const char *name; /* the tensor's name (owned by the file) */
    const int32_t *perm; /* NULL, or [cols]: column j multiplies x[perm[j]] (an act-order
                          * int4 checkpoint's input permutation, "NAME.perm"; a permutation) */
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
    const qlm_kernels *pk;      /* the set whose layout the packed copies use (NULL: none) */
    void *arena;                /* all packed copies (pack.c), or NULL */
};

/* True for Q8/Q4: the input must be quantized with quant_act first. */
static inline int qlm_mat_quantized(const qlm_mat *w) { return w->dtype == QLM_DT_Q8 || w->dtype == QLM_DT_Q4; }

/* Give every Q8/Q4 matrix a packed copy for kernel set k if k packs and
 * memory allows (else all keep the file layout: same results, slower), and
 * drop the copied file pages from resident memory; qlm_model_unpack frees
 * the copies. */
void qlm_model_pack(qlm_model *m, const qlm_kernels *k);
void qlm_model_unpack(qlm_model *m);

/* RoPE inverse frequencies for the hyper-parameters (rope.c); *out malloc'd. */
qlm_status qlm_rope_inv_freq(const qlm_hparams *hp, float **out);
/* cos/sin rows for one position: c[i], s[i] for i < head_dim/2. */
void qlm_rope_row(const float *inv_freq, int64_t half, int64_t pos, float *c, float *s);

#endif
