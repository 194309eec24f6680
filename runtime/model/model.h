/* A decoder-only transformer loaded from a .qlm file, and its forward pass.
 *
 * The model owns the mapping of the file: weights are used in place (no
 * copies). A context holds the KV cache and scratch buffers of one sequence.
 * One context per thread; several contexts may share one model read-only.
 */
#ifndef QLM_MODEL_H
#define QLM_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "formats/common/err.h"
#include "formats/qlm/qlmfile.h"

typedef enum { QLM_ARCH_LLAMA, QLM_ARCH_QWEN2, QLM_ARCH_QWEN3 } qlm_arch;

typedef struct {
    qlm_arch arch;
    int64_t n_vocab, dim, n_layers, ffn, n_heads, n_kv_heads, head_dim, ctx_max;
    double norm_eps, rope_theta;
    bool tied, attn_bias, qk_norm;
    /* rope scaling: type 0 none, 1 llama3, 2 linear */
    int rope_scaling;
    double rope_factor, rope_low_freq, rope_high_freq;
    int64_t rope_orig_ctx;
} qlm_hparams;

typedef struct qlm_model qlm_model;
typedef struct qlm_ctx qlm_ctx;

/* Open and validate (hyper-parameters consistent, every tensor present with
 * the right shape and a supported dtype). Messages name the tensor/key. */
qlm_status qlm_model_open(const char *path, qlm_model **out);
void qlm_model_close(qlm_model *m);
const qlm_hparams *qlm_model_hparams(const qlm_model *m);
const qlm_file *qlm_model_file(const qlm_model *m);

/* Default worker threads: QLM_THREADS if set (1..256), else the number of
 * physical cores. */
int qlm_default_threads(void);

typedef struct {
    int64_t n_ctx;     /* 0: model default, capped by available memory (message if capped) */
    int n_threads;     /* 0: default (physical cores / QLM_THREADS) */
    int64_t n_batch;   /* max tokens per forward call chunk; 0: 512 */
} qlm_ctx_params;

qlm_status qlm_ctx_new(const qlm_model *m, const qlm_ctx_params *p, qlm_ctx **out);
void qlm_ctx_free(qlm_ctx *c);
int64_t qlm_ctx_n_ctx(const qlm_ctx *c);
int64_t qlm_ctx_pos(const qlm_ctx *c);            /* tokens in the KV cache */
/* Drop cached positions >= pos (rewind; used by chat /undo and KV reuse). */
qlm_status qlm_ctx_truncate(qlm_ctx *c, int64_t pos);

/* Run n tokens at positions pos..pos+n-1 (pos = qlm_ctx_pos). If `logits` is
 * non-NULL it receives n_vocab floats for each position when all_logits, else
 * only for the last token. QLM_E_LIMIT if the context would overflow. */
qlm_status qlm_ctx_eval(qlm_ctx *c, const int32_t *tokens, int64_t n, float *logits, bool all_logits);

#endif
