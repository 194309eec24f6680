/* GGUF (llama.cpp) -> .qlm for the `llama`, `qwen2` and `qwen3` architectures.
 *
 * Hyper-parameters come from `<arch>.*` keys and are checked like config.json's
 * (hfconfig.h); the expected tensor list is the Hugging Face reader's, whose
 * qlm names are GGUF's own names for these architectures. Every expected
 * tensor must be present with its exact shape and nothing else may be left
 * over. `llama` GGUFs store Q/K rows permuted for interleaved RoPE: they are
 * un-permuted (srcutil.h); Qwen GGUFs are stored in Hugging Face order.
 * F32/F16/BF16/Q8_0/Q4_0 go to the emitter, which copies Q8_0/Q4_0 block for
 * block when the target type is the same. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/convert/convert.h"
#include "formats/convert/hfconfig.h"
#include "formats/convert/srcutil.h"
#include "formats/gguf/gguf.h"
#include "formats/qlm/keys.h"
#include "runtime/tokenizer/tokenizer.h"

/* Same ceilings as config.json's: far above real models, far from overflow. */
#define MAX_DIM (1 << 24)
#define MAX_LAYERS 4096

typedef struct {
    const gguf_file *g;
    const char *path;
    const char *arch;
    char key[160];
} ctx;

static const char *akey(ctx *c, const char *suffix)
{
    snprintf(c->key, sizeof c->key, "%s.%s", c->arch, suffix);
    return c->key;
}

/* `<arch>.<suffix>` as an integer in 1..max; def > 0 is the value when absent. */
static qlm_status get_int(ctx *c, const char *suffix, int64_t def, int64_t max, int64_t *out)
{
    const char *key = akey(c, suffix);
    if (!gguf_has(c->g, key)) {
        if (def <= 0)
            return qlm_fail(QLM_E_MISSING, "%s: no %s", c->path, key);
        *out = def;
        return QLM_OK;
    }
    qlm_status st = gguf_get_i64(c->g, key, out);
    if (st)
        return qlm_fail_context(st, "%s", c->path);
    if (*out <= 0 || *out > max)
        return qlm_fail(QLM_E_VALUE, "%s: %s is %lld (must be 1..%lld)", c->path, key, (long long)*out,
                        (long long)max);
    return QLM_OK;
}

/* `<arch>.<suffix>` as a positive finite number; def > 0 when absent. */
static qlm_status get_num(ctx *c, const char *suffix, double def, double *out)
{
    const char *key = akey(c, suffix);
    if (!gguf_has(c->g, key)) {
        if (!(def > 0))
            return qlm_fail(QLM_E_MISSING, "%s: no %s", c->path, key);
        *out = def;
        return QLM_OK;
    }
    qlm_status st = gguf_get_f64(c->g, key, out);
    if (st)
        return qlm_fail_context(st, "%s", c->path);
    if (!(*out > 0) || *out > 1e30)
        return qlm_fail(QLM_E_VALUE, "%s: %s is %g (must be a positive number)", c->path, key, *out);
    return QLM_OK;
}

static qlm_status parse_arch(ctx *c, qlm_hfconfig *h)
{
    const char *s;
    size_t len;
    qlm_status st = gguf_get_str(c->g, "general.architecture", &s, &len);
    if (st)
        return qlm_fail_context(st, "%s", c->path);
    static const struct { const char *name; qlm_hf_arch arch; } known[] = {
        {"llama", QLM_HF_LLAMA}, {"qwen2", QLM_HF_QWEN2}, {"qwen3", QLM_HF_QWEN3}};
    for (size_t i = 0; i < 3; i++)
        if (len == strlen(known[i].name) && !memcmp(s, known[i].name, len)) {
            h->arch = known[i].arch;
            c->arch = known[i].name;
            h->attn_bias = h->arch == QLM_HF_QWEN2;
            h->qk_norm = h->arch == QLM_HF_QWEN3;
            return QLM_OK;
        }
    return qlm_fail(QLM_E_ARCH, "%s: architecture '%.*s' is not supported (llama, qwen2, qwen3)", c->path,
                    (int)(len > 64 ? 64 : len), s);
}

static qlm_status parse_sizes(ctx *c, qlm_hfconfig *h)
{
    qlm_status st;
    if ((st = get_int(c, "context_length", 0, INT32_MAX, &h->ctx)) ||
        (st = get_int(c, "embedding_length", 0, MAX_DIM, &h->dim)) ||
        (st = get_int(c, "block_count", 0, MAX_LAYERS, &h->layers)) ||
        (st = get_int(c, "feed_forward_length", 0, MAX_DIM, &h->ffn)) ||
        (st = get_int(c, "attention.head_count", 0, MAX_DIM, &h->heads)) ||
        (st = get_int(c, "attention.head_count_kv", h->heads, MAX_DIM, &h->heads_kv)) ||
        (st = get_num(c, "attention.layer_norm_rms_epsilon", 0, &h->norm_eps)))
        return st;
    if (h->heads % h->heads_kv)
        return qlm_fail(QLM_E_VALUE, "%s: head_count %lld is not a multiple of head_count_kv %lld", c->path,
                        (long long)h->heads, (long long)h->heads_kv);
    if (!gguf_has(c->g, akey(c, "attention.key_length")) && h->dim % h->heads)
        return qlm_fail(QLM_E_VALUE, "%s: embedding_length %lld is not a multiple of head_count %lld", c->path,
                        (long long)h->dim, (long long)h->heads);
    if ((st = get_int(c, "attention.key_length", h->dim / h->heads, MAX_DIM, &h->head_dim)))
        return st;
    if (h->head_dim % 2 || h->heads * h->head_dim > MAX_DIM)
        return qlm_fail(QLM_E_VALUE, "%s: head size %lld must be even and heads x head size at most %d", c->path,
                        (long long)h->head_dim, MAX_DIM);
    /* Features qlm does not run: V heads of another size, partial rotary. */
    int64_t v_len, rope_dims;
    if ((st = get_int(c, "attention.value_length", h->head_dim, MAX_DIM, &v_len)) ||
        (st = get_int(c, "rope.dimension_count", h->head_dim, MAX_DIM, &rope_dims)))
        return st;
    if (v_len != h->head_dim)
        return qlm_fail(QLM_E_UNSUPPORTED, "%s: value_length %lld differs from key_length %lld", c->path,
                        (long long)v_len, (long long)h->head_dim);
    if (rope_dims != h->head_dim)
        return qlm_fail(QLM_E_UNSUPPORTED, "%s: RoPE on %lld of %lld head dimensions", c->path,
                        (long long)rope_dims, (long long)h->head_dim);
    return QLM_OK;
}

/* rope.freq_base (llama.cpp's default 10000 when absent) and linear scaling. */
static qlm_status parse_rope(ctx *c, qlm_hfconfig *h)
{
    qlm_status st = get_num(c, "rope.freq_base", 10000.0, &h->rope_theta);
    if (st)
        return st;
    h->rope = QLM_ROPE_NONE;
    const char *type = "none", *key = akey(c, "rope.scaling.type");
    size_t len = 4;
    if (gguf_has(c->g, key) && (st = gguf_get_str(c->g, key, &type, &len)))
        return qlm_fail_context(st, "%s", c->path);
    if (len == 4 && !memcmp(type, "none", 4)) {
        if (!gguf_has(c->g, akey(c, "rope.scale_linear"))) /* older spelling of linear scaling */
            return QLM_OK;
        h->rope = QLM_ROPE_LINEAR;
        return get_num(c, "rope.scale_linear", 0, &h->rope_factor);
    }
    if (len == 6 && !memcmp(type, "linear", 6)) {
        h->rope = QLM_ROPE_LINEAR;
        return get_num(c, "rope.scaling.factor", 0, &h->rope_factor);
    }
    return qlm_fail(QLM_E_UNSUPPORTED, "%s: RoPE scaling '%.*s' is not supported (none, linear)", c->path,
                    (int)(len > 32 ? 32 : len), type);
}

static qlm_status parse_config(ctx *c, qlm_hfconfig *h)
{
    memset(h, 0, sizeof *h);
    qlm_status st;
    if ((st = parse_arch(c, h)) || (st = parse_sizes(c, h)) || (st = parse_rope(c, h)))
        return st;
    const gguf_tensor *emb = gguf_find_tensor(c->g, "token_embd.weight");
    if (!emb)
        return qlm_fail(QLM_E_MISSING, "%s: no token_embd.weight", c->path);
    if (emb->rank != 2 || emb->dims[0] == 0 || emb->dims[0] > MAX_DIM)
        return qlm_fail(QLM_E_SHAPE, "%s: token_embd.weight must be [vocab, %lld]", c->path, (long long)h->dim);
    h->vocab = (int64_t)emb->dims[0];
    h->tied = !gguf_find_tensor(c->g, "output.weight");
    return QLM_OK;
}

static const char *ggml_type_name(uint32_t t)
{
    static const char *const names[] = {"F32", "F16", "Q4_0", "Q4_1", "Q4_2", "Q4_3", "Q5_0", "Q5_1", "Q8_0",
                                        "Q8_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K", "IQ2_XXS",
                                        "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S", "IQ2_S", "IQ4_XS", "I8",
                                        "I16", "I32", "I64", "F64", "IQ1_M", "BF16"};
    return t < sizeof names / sizeof names[0] ? names[t] : "unknown";
}

static qlm_status src_type(const char *path, const gguf_tensor *t, qlm_src_type *s)
{
    switch (t->ggml_type) {
    case GGML_F32: *s = SRC_F32; return QLM_OK;
    case GGML_F16: *s = SRC_F16; return QLM_OK;
    case GGML_BF16: *s = SRC_BF16; return QLM_OK;
    case GGML_Q8_0: *s = SRC_Q8_0; return QLM_OK;
    case GGML_Q4_0: *s = SRC_Q4_0; return QLM_OK;
    }
    return qlm_fail(QLM_E_UNSUPPORTED, "%s: tensor %s has ggml type %s (%u); qlm imports F32, F16, BF16, Q8_0, Q4_0",
                    path, t->name, ggml_type_name(t->ggml_type), t->ggml_type);
}

static bool in_params(const qlm_hf_param *p, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(p[i].qlm, name))
            return true;
    return false;
}

/* Every expected tensor present with its shape and an importable type;
 * nothing unexpected left over. */
static qlm_status check_tensors(const ctx *c, const qlm_hf_param *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const gguf_tensor *t = gguf_find_tensor(c->g, p[i].qlm);
        qlm_src_type s;
        if (!t)
            return qlm_fail(QLM_E_MISSING, "%s: tensor %s is missing", c->path, p[i].qlm);
        if (t->rank != p[i].rank || t->dims[0] != p[i].dims[0] || (p[i].rank == 2 && t->dims[1] != p[i].dims[1]))
            return qlm_fail(QLM_E_SHAPE, "%s: tensor %s has shape [%llu, %llu] (rank %u), the metadata implies [%llu, %llu]",
                            c->path, p[i].qlm, (unsigned long long)t->dims[0],
                            (unsigned long long)(t->rank > 1 ? t->dims[1] : 0), t->rank,
                            (unsigned long long)p[i].dims[0], (unsigned long long)p[i].dims[1]);
        qlm_status st = src_type(c->path, t, &s);
        if (st)
            return st;
    }
    /* All n (distinct) expected names were found: anything more is left over. */
    for (size_t i = 0; gguf_n_tensors(c->g) > n && i < gguf_n_tensors(c->g); i++) {
        const char *name = gguf_tensor_at(c->g, i)->name;
        if (!in_params(p, n, name))
            return qlm_fail(QLM_E_UNSUPPORTED, "%s: tensor %s is not part of a %s model as qlm runs it", c->path,
                            name, c->arch);
    }
    return QLM_OK;
}

static qlm_status write_meta(ctx *c, const qlm_hfconfig *h, qlm_writer *w)
{
    qlm_status st = qlm_hfconfig_write_meta(h, w);
    if (st)
        return st;
    const char *s;
    size_t len;
    if (gguf_get_str(c->g, "general.name", &s, &len) == QLM_OK)
        st = qlm_writer_set_str(w, QLM_K_NAME, s, len);
    else
        st = qlm_write_name_from_path(w, c->path);
    if (st)
        return st;
    qlm_tokenizer *t;
    if ((st = qlm_tok_load_path(c->path, &t)))
        return st;
    if (qlm_tok_n_vocab(t) > (size_t)h->vocab)
        st = qlm_fail(QLM_E_SHAPE, "%s: %zu tokens but token_embd.weight has only %lld rows", c->path,
                      qlm_tok_n_vocab(t), (long long)h->vocab);
    else
        st = qlm_tok_write_meta(t, w);
    qlm_tok_free(t);
    return st;
}

static qlm_status emit_all(ctx *c, const qlm_hfconfig *h, const qlm_hf_param *p, size_t n, qlm_emitter *e)
{
    qlm_status st = QLM_OK;
    for (size_t i = 0; i < n && !st; i++) {
        qlm_src_type s;
        qlm_dtype chosen;
        src_type(c->path, gguf_find_tensor(c->g, p[i].qlm), &s); /* checked */
        st = qlm_emit_declare(e, p[i].qlm, p[i].rank, p[i].dims, s, &chosen);
    }
    for (size_t i = 0; i < n && !st; i++) {
        const gguf_tensor *t = gguf_find_tensor(c->g, p[i].qlm);
        st = qlm_emit_hf_order(e, p[i].qlm, t->data, (size_t)t->nbytes, p[i].dims[0], qlm_gguf_qk_heads(h, p[i].qlm));
    }
    return st;
}

qlm_status qlm_src_gguf(const qlm_convert_opts *o, qlm_writer *w, qlm_emitter *e)
{
    gguf_file *g;
    qlm_status st = gguf_open(o->src, &g);
    if (st)
        return st;
    ctx c = {g, o->src, NULL, {0}};
    qlm_hfconfig h;
    qlm_hf_param *p = NULL;
    size_t n = 0;
    if (!(st = parse_config(&c, &h)) && !(st = qlm_hf_params(&h, &p, &n)) && !(st = check_tensors(&c, p, n)) &&
        !(st = write_meta(&c, &h, w)))
        st = emit_all(&c, &h, p, n, e);
    free(p);
    gguf_close(g);
    return st;
}
