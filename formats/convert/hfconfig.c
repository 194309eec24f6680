/* config.json parsing and validation (hfconfig.h). */
#include "formats/convert/hfconfig.h"

#include <stdlib.h>
#include <string.h>

#include "formats/common/mapfile.h"
#include "formats/qlm/keys.h"

/* Far above any real model, low enough that products stay far from overflow. */
#define MAX_DIM (1 << 24)
#define MAX_LAYERS 4096

const char *qlm_hf_arch_name(qlm_hf_arch a)
{
    static const char *const names[] = {"llama", "qwen2", "qwen3"};
    return names[a];
}

static qlm_status parse_arch(const json_value *cfg, qlm_hfconfig *c)
{
    const char *mt = json_get_str(cfg, "model_type");
    if (!mt)
        return qlm_fail(QLM_E_MISSING, "config.json: no \"model_type\"");
    if (strcmp(mt, "llama") == 0 || strcmp(mt, "mistral") == 0)
        c->arch = QLM_HF_LLAMA;
    else if (strcmp(mt, "qwen2") == 0)
        c->arch = QLM_HF_QWEN2;
    else if (strcmp(mt, "qwen3") == 0)
        c->arch = QLM_HF_QWEN3;
    else
        return qlm_fail(QLM_E_ARCH, "config.json: model_type \"%.64s\" is not supported (llama, mistral, qwen2, qwen3)",
                        mt);
    return QLM_OK;
}

/* A required positive integer (or, with def > 0, an optional one; null counts as absent). */
static qlm_status get_int(const json_value *cfg, const char *key, int64_t def, int64_t max, int64_t *out)
{
    const json_value *v = json_get(cfg, key);
    if (!v || v->type == JSON_NULL) {
        if (def <= 0)
            return qlm_fail(QLM_E_MISSING, "config.json: no \"%s\"", key);
        *out = def;
        return QLM_OK;
    }
    int64_t i;
    if (!json_as_i64(v, &i) || i <= 0 || i > max)
        return qlm_fail(QLM_E_VALUE, "config.json: \"%s\" must be an integer in 1..%lld", key, (long long)max);
    *out = i;
    return QLM_OK;
}

/* An optional positive number. */
static qlm_status get_num(const json_value *obj, const char *key, double def, double *out)
{
    const json_value *v = json_get(obj, key);
    if (!v || v->type == JSON_NULL) {
        *out = def;
        return QLM_OK;
    }
    if (!json_as_f64(v, out) || !(*out > 0) || *out > 1e30)
        return qlm_fail(QLM_E_VALUE, "config.json: \"%s\" must be a positive number", key);
    return QLM_OK;
}

static qlm_status get_bool(const json_value *cfg, const char *key, bool def, bool *out)
{
    const json_value *v = json_get(cfg, key);
    *out = def;
    if (v && v->type != JSON_NULL && !json_as_bool(v, out))
        return qlm_fail(QLM_E_VALUE, "config.json: \"%s\" must be true or false", key);
    return QLM_OK;
}

static qlm_status parse_sizes(const json_value *cfg, qlm_hfconfig *c)
{
    qlm_status rc;
    if ((rc = get_int(cfg, "vocab_size", 0, MAX_DIM, &c->vocab)) ||
        (rc = get_int(cfg, "hidden_size", 0, MAX_DIM, &c->dim)) ||
        (rc = get_int(cfg, "intermediate_size", 0, MAX_DIM, &c->ffn)) ||
        (rc = get_int(cfg, "num_hidden_layers", 0, MAX_LAYERS, &c->layers)) ||
        (rc = get_int(cfg, "num_attention_heads", 0, MAX_DIM, &c->heads)) ||
        (rc = get_int(cfg, "num_key_value_heads", c->heads, MAX_DIM, &c->heads_kv)) ||
        (rc = get_int(cfg, "max_position_embeddings", 0, INT32_MAX, &c->ctx)))
        return rc;
    if (c->heads % c->heads_kv != 0)
        return qlm_fail(QLM_E_VALUE, "config.json: num_attention_heads %lld is not a multiple of num_key_value_heads %lld",
                        (long long)c->heads, (long long)c->heads_kv);
    const json_value *hd = json_get(cfg, "head_dim");
    if ((!hd || hd->type == JSON_NULL) && c->dim % c->heads != 0)
        return qlm_fail(QLM_E_VALUE, "config.json: hidden_size %lld is not a multiple of num_attention_heads %lld",
                        (long long)c->dim, (long long)c->heads);
    if ((rc = get_int(cfg, "head_dim", c->dim / c->heads, MAX_DIM, &c->head_dim)))
        return rc;
    if (c->head_dim % 2 || c->heads * c->head_dim > MAX_DIM)
        return qlm_fail(QLM_E_VALUE, "config.json: head_dim %lld must be even and heads x head_dim at most %d",
                        (long long)c->head_dim, MAX_DIM);
    return get_num(cfg, "rms_norm_eps", 1e-6, &c->norm_eps);
}

static qlm_status parse_rope_type(const json_value *rp, qlm_hfconfig *c)
{
    const char *type = json_get_str(rp, "rope_type");
    if (!type)
        type = json_get_str(rp, "type"); /* older rope_scaling spelling */
    qlm_status rc;
    if (!type || strcmp(type, "default") == 0) {
        c->rope = QLM_ROPE_NONE;
    } else if (strcmp(type, "linear") == 0) {
        c->rope = QLM_ROPE_LINEAR;
        if (!json_get(rp, "factor"))
            return qlm_fail(QLM_E_MISSING, "config.json: linear RoPE scaling without \"factor\"");
        return get_num(rp, "factor", 1.0, &c->rope_factor);
    } else if (strcmp(type, "llama3") == 0) {
        c->rope = QLM_ROPE_LLAMA3;
        static const char *const need[] = {"factor", "low_freq_factor", "high_freq_factor",
                                           "original_max_position_embeddings"};
        for (size_t i = 0; i < 4; i++)
            if (!json_get(rp, need[i]))
                return qlm_fail(QLM_E_MISSING, "config.json: llama3 RoPE scaling without \"%s\"", need[i]);
        if ((rc = get_num(rp, "factor", 1.0, &c->rope_factor)) ||
            (rc = get_num(rp, "low_freq_factor", 1.0, &c->rope_low_freq)) ||
            (rc = get_num(rp, "high_freq_factor", 1.0, &c->rope_high_freq)) ||
            (rc = get_int(rp, "original_max_position_embeddings", 0, INT32_MAX, &c->rope_orig_ctx)))
            return rc;
        if (!(c->rope_high_freq > c->rope_low_freq))
            return qlm_fail(QLM_E_VALUE, "config.json: llama3 high_freq_factor must exceed low_freq_factor");
    } else {
        return qlm_fail(QLM_E_UNSUPPORTED, "config.json: RoPE type \"%.32s\" is not supported (default, linear, llama3)",
                        type);
    }
    return QLM_OK;
}

/* transformers 5: "rope_parameters" holds rope_theta and the scaling; older
 * configs: top-level "rope_theta" and an optional "rope_scaling" object. */
static qlm_status parse_rope(const json_value *cfg, qlm_hfconfig *c)
{
    const json_value *rp = json_get(cfg, "rope_parameters");
    if (rp && rp->type == JSON_OBJECT) {
        qlm_status rc = get_num(rp, "rope_theta", 10000.0, &c->rope_theta);
        return rc ? rc : parse_rope_type(rp, c);
    }
    qlm_status rc = get_num(cfg, "rope_theta", 10000.0, &c->rope_theta);
    if (rc)
        return rc;
    const json_value *rs = json_get(cfg, "rope_scaling");
    if (!rs || rs->type == JSON_NULL) {
        c->rope = QLM_ROPE_NONE;
        return QLM_OK;
    }
    if (rs->type != JSON_OBJECT)
        return qlm_fail(QLM_E_VALUE, "config.json: \"rope_scaling\" must be an object or null");
    return parse_rope_type(rs, c);
}

static qlm_status parse_features(const json_value *cfg, qlm_hfconfig *c)
{
    bool b;
    qlm_status rc;
    const char *act = json_get_str(cfg, "hidden_act");
    if (act && strcmp(act, "silu") != 0)
        return qlm_fail(QLM_E_UNSUPPORTED, "config.json: hidden_act \"%.32s\" (only silu)", act);
    if ((rc = get_bool(cfg, "tie_word_embeddings", false, &c->tied)) || (rc = get_bool(cfg, "mlp_bias", false, &b)))
        return rc;
    if (b)
        return qlm_fail(QLM_E_UNSUPPORTED, "config.json: mlp_bias is not supported");
    if ((rc = get_bool(cfg, "attention_bias", false, &b)))
        return rc;
    if (b && c->arch != QLM_HF_QWEN2)
        return qlm_fail(QLM_E_UNSUPPORTED, "config.json: attention_bias is not supported for %s",
                        qlm_hf_arch_name(c->arch));
    if ((rc = get_bool(cfg, "use_sliding_window", false, &b)))
        return rc;
    const json_value *sw = json_get(cfg, "sliding_window");
    if (b || (c->arch == QLM_HF_LLAMA && sw && sw->type != JSON_NULL))
        return qlm_fail(QLM_E_UNSUPPORTED, "config.json: sliding-window attention is not supported");
    c->attn_bias = c->arch == QLM_HF_QWEN2;
    c->qk_norm = c->arch == QLM_HF_QWEN3;
    return QLM_OK;
}

qlm_status qlm_hfconfig_parse(const json_value *cfg, qlm_hfconfig *c)
{
    memset(c, 0, sizeof *c);
    if (!cfg || cfg->type != JSON_OBJECT)
        return qlm_fail(QLM_E_JSON, "config.json: not a JSON object");
    qlm_status rc;
    if ((rc = parse_arch(cfg, c)) || (rc = parse_sizes(cfg, c)) || (rc = parse_rope(cfg, c)) ||
        (rc = parse_features(cfg, c)))
        return rc;
    return QLM_OK;
}

qlm_status qlm_hfconfig_load(const char *path, qlm_hfconfig *c)
{
    json_doc *doc;
    qlm_status rc = json_parse_file(path, 16u << 20, &doc);
    if (rc)
        return rc;
    rc = qlm_hfconfig_parse(json_root(doc), c);
    json_free(doc);
    return rc ? qlm_fail_context(rc, "%s", path) : QLM_OK;
}

qlm_status qlm_hfconfig_write_meta(const qlm_hfconfig *c, qlm_writer *w)
{
    static const char *const rope_names[] = {"none", "linear", "llama3"};
    const char *arch = qlm_hf_arch_name(c->arch), *rope = rope_names[c->rope];
    qlm_status rc;
    if ((rc = qlm_writer_set_str(w, QLM_K_ARCH, arch, strlen(arch))) ||
        (rc = qlm_writer_set_i64(w, QLM_K_CTX, c->ctx)) || (rc = qlm_writer_set_i64(w, QLM_K_DIM, c->dim)) ||
        (rc = qlm_writer_set_i64(w, QLM_K_LAYERS, c->layers)) || (rc = qlm_writer_set_i64(w, QLM_K_FFN, c->ffn)) ||
        (rc = qlm_writer_set_i64(w, QLM_K_HEADS, c->heads)) ||
        (rc = qlm_writer_set_i64(w, QLM_K_HEADS_KV, c->heads_kv)) ||
        (rc = qlm_writer_set_i64(w, QLM_K_HEAD_DIM, c->head_dim)) ||
        (rc = qlm_writer_set_i64(w, QLM_K_VOCAB, c->vocab)) ||
        (rc = qlm_writer_set_f64(w, QLM_K_NORM_EPS, c->norm_eps)) ||
        (rc = qlm_writer_set_f64(w, QLM_K_ROPE_THETA, c->rope_theta)) ||
        (rc = qlm_writer_set_str(w, QLM_K_ROPE_SCALING, rope, strlen(rope))) ||
        (rc = qlm_writer_set_bool(w, QLM_K_TIED, c->tied)) ||
        (rc = qlm_writer_set_bool(w, QLM_K_ATTN_BIAS, c->attn_bias)) ||
        (rc = qlm_writer_set_bool(w, QLM_K_QK_NORM, c->qk_norm)))
        return rc;
    if (c->rope != QLM_ROPE_NONE && (rc = qlm_writer_set_f64(w, QLM_K_ROPE_FACTOR, c->rope_factor)))
        return rc;
    if (c->rope == QLM_ROPE_LLAMA3 &&
        ((rc = qlm_writer_set_f64(w, QLM_K_ROPE_LOW_FREQ, c->rope_low_freq)) ||
         (rc = qlm_writer_set_f64(w, QLM_K_ROPE_HIGH_FREQ, c->rope_high_freq)) ||
         (rc = qlm_writer_set_i64(w, QLM_K_ROPE_ORIG_CTX, c->rope_orig_ctx))))
        return rc;
    return QLM_OK;
}
