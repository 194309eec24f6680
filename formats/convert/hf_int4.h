/* INT4 quantized Hugging Face checkpoints (GPTQ, AWQ, Marlin) for the HF
 * converter (from_hf.c): the "quantization_config" of config.json (or
 * AutoGPTQ's quantize_config.json), and each quantized Linear's packed
 * tensors unpacked, without requantizing, into .qlm w4a16 rows: the int4
 * codes, f16 scales and zero points are kept exactly, so every weight is
 * f16(f16(q - z) * s), what a W4A16 GPU kernel computes from the checkpoint.
 * Packings: formats/gpu/int4pack.h; limits: docs/GPU-NUMERICS.md section 4.
 *
 * A Linear "X.weight" [N out, K in] is packed when the checkpoint has no
 * X.weight but X.qweight (GPTQ, AWQ) or X.B (Marlin):
 *   GPTQ   X.qweight I32 [K/8, N], X.qzeros I32 [G, N/8], X.scales F16 [G, N],
 *          X.g_idx I32 [K] (optional; k / (K/G), or act-order: see below)
 *   AWQ    X.qweight I32 [K, N/8], X.qzeros I32 [G, N/8], X.scales F16 [G, N]
 *   Marlin X.B I32 [K/16, 2N], X.s F16 [G, N] (X.workspace is ignored)
 * (U32 is accepted wherever I32 is), G = K / group_size, or 1 for
 * group_size -1 (per channel). Settings qlm cannot keep exactly are
 * QLM_E_UNSUPPORTED naming the setting: bits other than 4, a group size that
 * is not -1 or a multiple of 128, other quant methods or checkpoint formats,
 * AWQ versions other than "gemm" or without zero points.
 *
 * Act-order (desc_act) GPTQ: g_idx assigns each input to a group, K/G inputs
 * per group, in any order. The importer sorts the inputs by group (stable:
 * ascending k within a group) into perm[j] = the input that becomes column j,
 * stores the weight with its columns in that order (so groups are contiguous
 * again) and the permutation beside it; the runtime multiplies column j by
 * x[perm[j]], as exllama/Marlin act-order kernels permute the activations. */
#ifndef QLM_HF_INT4_H
#define QLM_HF_INT4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "formats/common/err.h"
#include "formats/common/json.h"
#include "formats/safetensors/safetensors.h"

typedef enum { QLM_HFQ_NONE, QLM_HFQ_GPTQ, QLM_HFQ_AWQ, QLM_HFQ_MARLIN } qlm_hfq_kind;

typedef struct {
    qlm_hfq_kind kind;
    int64_t group;  /* group_size along the input dim; -1: per channel */
    bool zero_m1;   /* GPTQ v1: qzeros hold z - 1 (checkpoint_format "gptq_v2" holds z) */
} qlm_hfquant;

/* "gptq", "awq", "marlin" (or "none"). */
const char *qlm_hfq_name(qlm_hfq_kind k);

/* A quantization_config object; `autogptq_file` when it came from
 * quantize_config.json (older AutoGPTQ files have no quant_method). */
qlm_status qlm_hfquant_parse(const json_value *qc, bool autogptq_file, qlm_hfquant *q);
/* config.json's "quantization_config", else quantize_config.json in `dir`,
 * else kind NONE. */
qlm_status qlm_hfquant_load(const char *dir, qlm_hfquant *q);

/* True when the Linear `weight` ("X.weight") is stored packed in `st`. */
bool qlm_hfquant_is_packed(const qlm_hfquant *q, const qlm_st *st, const char *weight);
/* True when `st` has X.qweight or X.B for `weight` "X.weight", whatever the
 * settings (to explain a missing quantization_config). */
bool qlm_hfquant_has_packed(const qlm_st *st, const char *weight);
/* For a checkpoint tensor of a packed Linear ("X.qzeros", "X.B", ...),
 * writes "X.weight" into buf and returns true. */
bool qlm_hfquant_member(const qlm_hfquant *q, const char *name, char *buf, size_t cap);
/* Dtypes and shapes of the packed tensors of `weight` [N, K]. */
qlm_status qlm_hfquant_check(const qlm_hfquant *q, const qlm_st *st, const char *weight, uint64_t N, uint64_t K);
/* The act-order permutation of `weight` (checked), K entries: *perm is
 * malloc'd, or NULL when the inputs are already in group order (no g_idx, or
 * g_idx[k] = k / (K/G)). QLM_E_VALUE naming the entry for a g_idx outside
 * [0, G) or a group that does not hold exactly K/G inputs. */
qlm_status qlm_hfquant_perm(const qlm_hfquant *q, const qlm_st *st, const char *weight, uint64_t K, int32_t **perm);
/* Unpack `weight` (checked) into N rows of K/128 w4a16 blocks, columns in
 * the order of `perm` (qlm_hfquant_perm's, may be NULL); *out is malloc'd,
 * *nbytes its size. */
qlm_status qlm_hfquant_unpack(const qlm_hfquant *q, const qlm_st *st, const char *weight, uint64_t N, uint64_t K,
                              const int32_t *perm, void **out, size_t *nbytes);

#endif
