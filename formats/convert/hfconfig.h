/* Hugging Face config.json -> model hyper-parameters, and the exact parameter
 * list (named_parameters() of transformers, in its order) with the qlm tensor
 * name of each. Shared by the HF converter (from_hf.c) and `qlm synth`.
 *
 * Supported: model_type "llama" (Llama 2/3, SmolLM2, TinyLlama; rope_type
 * default/linear/llama3), "mistral" (no sliding window), "qwen2" (q/k/v bias,
 * no sliding window), "qwen3" (q_norm/k_norm, explicit head_dim). RoPE
 * settings are read from "rope_parameters" (transformers 5) or from top-level
 * "rope_theta" + "rope_scaling" (older configs). Anything else is a named
 * error: QLM_E_ARCH (unknown model_type), QLM_E_MISSING (required key),
 * QLM_E_VALUE (inconsistent numbers), QLM_E_UNSUPPORTED (valid features qlm
 * does not run: sliding window, biases other than Qwen2's, other RoPE types).
 */
#ifndef QLM_HFCONFIG_H
#define QLM_HFCONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "formats/common/json.h"
#include "formats/qlm/qlmfile.h"

typedef enum { QLM_HF_LLAMA, QLM_HF_QWEN2, QLM_HF_QWEN3 } qlm_hf_arch;

typedef enum { QLM_ROPE_NONE, QLM_ROPE_LINEAR, QLM_ROPE_LLAMA3 } qlm_rope_kind;

typedef struct {
    qlm_hf_arch arch;
    int64_t vocab, dim, ffn, layers, heads, heads_kv, head_dim, ctx;
    double norm_eps, rope_theta;
    qlm_rope_kind rope;
    double rope_factor, rope_low_freq, rope_high_freq; /* factor: linear, llama3 */
    int64_t rope_orig_ctx;                              /* llama3 */
    bool tied, attn_bias, qk_norm;
} qlm_hfconfig;

/* "llama", "qwen2", "qwen3" (the qlm general.architecture value). */
const char *qlm_hf_arch_name(qlm_hf_arch a);

qlm_status qlm_hfconfig_parse(const json_value *config, qlm_hfconfig *c);
qlm_status qlm_hfconfig_load(const char *path, qlm_hfconfig *c);
/* Writes the model keys of formats/qlm/keys.h (not tokenizer keys). */
qlm_status qlm_hfconfig_write_meta(const qlm_hfconfig *c, qlm_writer *w);

typedef struct {
    char hf[80];   /* e.g. "model.layers.3.self_attn.q_proj.weight" */
    char qlm[48];  /* e.g. "blk.3.attn_q.weight" */
    uint32_t rank; /* 1 or 2 */
    uint64_t dims[2];
} qlm_hf_param;

/* The parameters of the model in named_parameters() order; *out is malloc'd. */
qlm_status qlm_hf_params(const qlm_hfconfig *c, qlm_hf_param **out, size_t *n);

#endif
