/* The context's layout, shared by ctx.c (allocation) and forward.c (use). */
#ifndef QLM_CTX_INT_H
#define QLM_CTX_INT_H

#include "runtime/model/gpu_mm.h"
#include "runtime/model/model_int.h"

#define QLM_MAX_THREADS 256
#define ATT_ROWS 16 /* query rows per attention unit (forward.c) */
#define KEY_BLOCK 64 /* keys per attention block (forward.c) */
#define OWN_ROWS 4  /* rows each thread normalizes for itself (forward.c, norm_input) */

struct qlm_ctx {
    const qlm_model *m;
    const qlm_kernels *k;
    int64_t n_ctx, pos, n_batch;
    int n_threads;
    qlm_kv_type kv;
    float *kc, *vc;             /* f32 cache: [layer][n_ctx][n_kv_heads*head_dim] */
    int8_t *kq, *vq;            /* q8 cache: codes, the same layout */
    float *ks, *vs;             /* q8 cache: [layer][n_ctx][n_kv_heads*blocks per head] scales */
    float *kn, *vn;             /* q8: [B][kvd] new K, V rows, quantized once RoPE is applied */
    float *kvs;                 /* q8: [n_threads][KEY_BLOCK][head_dim] rows dequantized for attention */
    /* scratch, n_batch rows each */
    float *x, *xb, *xb2;        /* [B][dim]: residual stream, normed input, projection output */
    float *q, *att;             /* [B][n_heads*head_dim] */
    float *hb, *hb2;            /* [B][ffn]: gate, up */
    float *rc, *rs;             /* [B][head_dim/2]: RoPE cos/sin of each row's position */
    float *scores;              /* [n_threads][ATT_ROWS][n_ctx] attention scores */
    qlm_block_q8a *xq;          /* [B][widest/32]: quantized activations for Q8/Q4 weights */
    float *xp;                  /* [B][widest]: permuted activations of act-order weights; NULL if none */
    qlm_block_q8a *xq2;         /* [B][ffn/32]: the same for hb (forward.c, xq_of) */
    float *xb_own;              /* [n_threads][OWN_ROWS][dim]: each thread's normed rows */
    qlm_block_q8a *xq_own;      /* [n_threads][OWN_ROWS][dim/32]: and their blocks */
    qlm_path path;
    int64_t widest;             /* widest activation row: max(dim, ffn, heads*head_dim) */
    qlm_gpu_scratch *gs;        /* GPU-contract operands; NULL when no weight runs one */
    qlm_dump_fn dump;           /* qlm_ctx_set_dump (qlm ref; GPTQ calibration reads the matmul inputs) */
    void *dump_user;
};

/* The KV cache (kv_cache.c). */
qlm_status qlm_kv_alloc(qlm_ctx *c); /* cache and the scratch a Q8 cache needs; after n_ctx, n_batch, n_threads */
void qlm_kv_free(qlm_ctx *c);
/* Store nt new rows of K and V ([nt][kvd] each) at positions pos0.. of layer l. */
void qlm_kv_store(const qlm_ctx *c, int64_t l, const float *k, const float *v, int64_t nt, int64_t pos0);
/* Rows j0..j0+n-1 (n <= KEY_BLOCK) of KV head h of layer l's K (v 0) or V
 * (v 1) cache, *ld floats apart: in place for an f32 cache, else
 * dequantized into scratch[KEY_BLOCK][head_dim]. */
const float *qlm_kv_rows(const qlm_ctx *c, int v, int64_t l, int64_t h, int64_t j0, int64_t n, float *scratch,
                         int64_t *ld);
/* The cache as arrays of [layer][n_ctx] rows of `row` bytes, K's before V's
 * (state save/load); returns how many (2 for f32, 4 for q8). */
typedef struct {
    void *p;
    size_t row;
} qlm_kv_part;
int qlm_kv_parts(const qlm_ctx *c, qlm_kv_part parts[4]);

/* Run layers [l0, l1) on nt rows x[nt][dim] (nt <= n_batch) as positions
 * 0..nt-1 of an empty cache, result into y[nt][dim]. For calibration, which
 * keeps every sequence's residual stream between layers (forward.c). */
void qlm_ctx_run_layers(qlm_ctx *c, const float *x, int64_t nt, int64_t l0, int64_t l1, float *y);
/* Embedding rows of nt tokens into y[nt][dim] (forward.c). */
void qlm_ctx_embed(const qlm_ctx *c, const int32_t *tok, int64_t nt, float *y);

#endif
