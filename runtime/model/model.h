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

/* The hyper-parameters of a .qlm file's metadata (formats/qlm/keys.h),
 * validated as qlm_model_open() does; the tensors are not looked at. */
qlm_status qlm_hparams_read(const qlm_file *f, qlm_hparams *hp);

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

/* How the linear layers compute (docs/GPU-NUMERICS.md section 5). NATIVE:
 * each weight by its own dtype (the SIMD kernels for f32/f16/bf16/q8/q4, the
 * GPU contract of simd/gpu/gemm.h for a GPU block format). The others run
 * every linear layer through one GPU contract: F32 and BF16 accept any weight
 * dtype (dequantized), the quantized paths only their own formats. */
typedef enum {
    QLM_PATH_NATIVE = 0,
    QLM_PATH_F32,
    QLM_PATH_BF16,
    QLM_PATH_W4A16,
    QLM_PATH_FP8_W8A8,
    QLM_PATH_NVFP4,
    QLM_PATH_MXFP4,
    QLM_PATH_COUNT
} qlm_path;

/* "native", "f32", "bf16", "w4a16", "fp8-w8a8", "nvfp4", "mxfp4". */
const char *qlm_path_name(qlm_path p);
bool qlm_path_parse(const char *s, qlm_path *out);

/* How the KV cache stores K and V (after bias, norm and RoPE).
 * F32: as computed. Q8: per position and KV head, the head's head_dim values
 * in blocks of 32 (one block of head_dim when head_dim is not a multiple of
 * 32), each block int8 codes and an f32 scale by the activation-Q8 rule of
 * simd/kernels.h (d = amax/127, q = clamp(rne(x * 127/amax), -127, 127));
 * attention reads d * q, exact in f32, and runs the same f32 kernels, so the
 * determinism contract holds unchanged. */
typedef enum { QLM_CACHE_F32 = 0, QLM_CACHE_Q8 = 1 } qlm_kv_type;

/* Bytes of a KV cache of n_ctx positions (K and V, all layers). */
uint64_t qlm_kv_bytes(const qlm_hparams *hp, qlm_kv_type kv, int64_t n_ctx);

typedef struct {
    int64_t n_ctx;     /* 0: model default, capped by available memory (message if capped) */
    int n_threads;     /* 0: default (physical cores / QLM_THREADS) */
    int64_t n_batch;   /* max tokens per forward call chunk; 0: 512 */
    qlm_kv_type kv;    /* KV cache storage (default f32) */
} qlm_ctx_params;

qlm_status qlm_ctx_new(const qlm_model *m, const qlm_ctx_params *p, qlm_ctx **out);
void qlm_ctx_free(qlm_ctx *c);
/* Numeric path of the linear layers (default QLM_PATH_NATIVE); QLM_E_DTYPE,
 * naming the tensor, if a weight cannot run it. Call before the first eval
 * (or after a truncate to 0: cached keys/values came from the old path). */
qlm_status qlm_ctx_set_path(qlm_ctx *c, qlm_path p);
int64_t qlm_ctx_n_ctx(const qlm_ctx *c);
int64_t qlm_ctx_pos(const qlm_ctx *c);            /* tokens in the KV cache */
uint64_t qlm_ctx_kv_bytes(const qlm_ctx *c);      /* qlm_kv_bytes of this context */
/* Drop cached positions >= pos (rewind; used by chat /undo and KV reuse). */
qlm_status qlm_ctx_truncate(qlm_ctx *c, int64_t pos);

/* Run n tokens at positions pos..pos+n-1 (pos = qlm_ctx_pos). If `logits` is
 * non-NULL it receives n_vocab floats for each position when all_logits, else
 * only for the last token. QLM_E_LIMIT if the context would overflow. */
qlm_status qlm_ctx_eval(qlm_ctx *c, const int32_t *tokens, int64_t n, float *logits, bool all_logits);

/* Observer of the forward pass (qlm ref): called on the evaluating thread
 * with each intermediate tensor of a chunk, rows = tokens of the chunk.
 * Names and meaning: docs/GPU-NUMERICS.md section 6. dtype: QLM_DT_F32,
 * QLM_DT_F16, QLM_DT_BF16, or QLM_DUMP_E4M3 (one E4M3 code per byte). */
#define QLM_DUMP_E4M3 16
typedef void (*qlm_dump_fn)(void *user, const char *name, uint32_t dtype, int64_t rows, int64_t cols,
                            const void *data);
void qlm_ctx_set_dump(qlm_ctx *c, qlm_dump_fn fn, void *user);

#endif
