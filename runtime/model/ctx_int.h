/* The context's layout, shared by ctx.c (allocation) and forward.c (use). */
#ifndef QLM_CTX_INT_H
#define QLM_CTX_INT_H

#include "runtime/model/gpu_mm.h"
#include "runtime/model/model_int.h"

#define QLM_MAX_THREADS 256
#define ATT_ROWS 16 /* query rows per attention unit (forward.c) */

/* Calibration tap (runtime/quant/calib.c): sees the input rows of every
 * matmul group of a layer as the forward pass computes them. */
enum { QLM_TAP_QKV, QLM_TAP_WO, QLM_TAP_GATE_UP, QLM_TAP_DOWN, QLM_TAP_COUNT };
typedef void (*qlm_tap_fn)(void *ud, int64_t layer, int point, const float *x, int64_t nt, int64_t cols);

struct qlm_ctx {
    const qlm_model *m;
    const qlm_kernels *k;
    int64_t n_ctx, pos, n_batch;
    int n_threads;
    float *kc, *vc;             /* [layer][n_ctx][n_kv_heads*head_dim] */
    /* scratch, n_batch rows each */
    float *x, *xb, *xb2;        /* [B][dim]: residual stream, normed input, projection output */
    float *q, *att;             /* [B][n_heads*head_dim] */
    float *hb, *hb2;            /* [B][ffn]: gate, up */
    float *rc, *rs;             /* [B][head_dim/2]: RoPE cos/sin of each row's position */
    float *scores;              /* [n_threads][ATT_ROWS][n_ctx] attention scores */
    qlm_block_q8a *xq;          /* [B][widest/32]: quantized activations for Q8/Q4 weights */
    qlm_path path;
    int64_t widest;             /* widest activation row: max(dim, ffn, heads*head_dim) */
    qlm_gpu_scratch *gs;        /* GPU-contract operands; NULL when no weight runs one */
    qlm_dump_fn dump;           /* qlm_ctx_set_dump */
    void *dump_user;
    qlm_tap_fn tap;             /* NULL except while calibrating */
    void *tap_ud;
};

/* Run layers [l0, l1) on nt rows x[nt][dim] (nt <= n_batch) as positions
 * 0..nt-1 of an empty cache, result into y[nt][dim]. For calibration, which
 * keeps every sequence's residual stream between layers (forward.c). */
void qlm_ctx_run_layers(qlm_ctx *c, const float *x, int64_t nt, int64_t l0, int64_t l1, float *y);
/* Embedding rows of nt tokens into y[nt][dim] (forward.c). */
void qlm_ctx_embed(const qlm_ctx *c, const int32_t *tok, int64_t nt, float *y);

#endif
