/* Opening a .qlm model: hyper-parameters from metadata (formats/qlm/keys.h),
 * then every tensor checked for presence, exact shape and a supported dtype
 * before anything runs, so the forward pass never meets a surprise. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/qlm/keys.h"
#include "runtime/model/model_int.h"

/* Sanity limits: far above any supported model, low enough that products of
 * them cannot overflow int64 and buffers sized from them stay plausible. */
#define MAX_DIM (1 << 16)
#define MAX_FFN (1 << 18)
#define MAX_LAYERS 1024
#define MAX_HEADS 1024
#define MAX_VOCAB (1 << 22)

static qlm_status get_int(const qlm_file *f, const char *key, int64_t lo, int64_t hi, int64_t *out)
{
    qlm_status st = qlm_meta_i64(f, key, out);
    if (st != QLM_OK)
        return st;
    if (*out < lo || *out > hi)
        return qlm_fail(QLM_E_VALUE, "model metadata %s = %lld is out of range [%lld, %lld]", key,
                        (long long)*out, (long long)lo, (long long)hi);
    return QLM_OK;
}

static qlm_status get_pos(const qlm_file *f, const char *key, double def, bool required, double *out)
{
    if (!qlm_meta_has(f, key)) {
        if (required)
            return qlm_fail(QLM_E_MISSING, "model metadata %s is missing", key);
        *out = def;
        return QLM_OK;
    }
    qlm_status st = qlm_meta_f64(f, key, out);
    if (st != QLM_OK)
        return st;
    if (!(*out > 0.0) || !isfinite(*out))
        return qlm_fail(QLM_E_VALUE, "model metadata %s = %g must be a positive finite number", key, *out);
    return QLM_OK;
}

static qlm_status read_arch(const qlm_file *f, qlm_arch *arch)
{
    const char *s;
    size_t n;
    qlm_status st = qlm_meta_str(f, QLM_K_ARCH, &s, &n);
    if (st != QLM_OK)
        return st;
    static const struct { const char *name; qlm_arch a; } k[] = {
        {"llama", QLM_ARCH_LLAMA}, {"qwen2", QLM_ARCH_QWEN2}, {"qwen3", QLM_ARCH_QWEN3}};
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        if (n == strlen(k[i].name) && memcmp(s, k[i].name, n) == 0) {
            *arch = k[i].a;
            return QLM_OK;
        }
    return qlm_fail(QLM_E_ARCH, "unsupported architecture '%.*s' (supported: llama, qwen2, qwen3)",
                    (int)(n > 64 ? 64 : n), s);
}

static qlm_status read_rope_scaling(const qlm_file *f, qlm_hparams *hp)
{
    hp->rope_scaling = 0;
    if (!qlm_meta_has(f, QLM_K_ROPE_SCALING))
        return QLM_OK;
    const char *s;
    size_t n;
    qlm_status st = qlm_meta_str(f, QLM_K_ROPE_SCALING, &s, &n);
    if (st != QLM_OK)
        return st;
    if (n == 4 && memcmp(s, "none", 4) == 0)
        return QLM_OK;
    if (n == 6 && memcmp(s, "linear", 6) == 0) {
        hp->rope_scaling = 2;
        return get_pos(f, QLM_K_ROPE_FACTOR, 0, true, &hp->rope_factor);
    }
    if (n == 6 && memcmp(s, "llama3", 6) == 0) {
        hp->rope_scaling = 1;
        if ((st = get_pos(f, QLM_K_ROPE_FACTOR, 0, true, &hp->rope_factor)) != QLM_OK ||
            (st = get_pos(f, QLM_K_ROPE_LOW_FREQ, 0, true, &hp->rope_low_freq)) != QLM_OK ||
            (st = get_pos(f, QLM_K_ROPE_HIGH_FREQ, 0, true, &hp->rope_high_freq)) != QLM_OK ||
            (st = get_int(f, QLM_K_ROPE_ORIG_CTX, 1, QLM_MAX_CTX, &hp->rope_orig_ctx)) != QLM_OK)
            return st;
        if (!(hp->rope_high_freq > hp->rope_low_freq))
            return qlm_fail(QLM_E_VALUE, "model metadata: llama3 RoPE needs high_freq_factor (%g) > low_freq_factor (%g)",
                            hp->rope_high_freq, hp->rope_low_freq);
        return QLM_OK;
    }
    return qlm_fail(QLM_E_UNSUPPORTED, "model metadata %s = '%.*s' is not supported (none, linear, llama3)",
                    QLM_K_ROPE_SCALING, (int)(n > 64 ? 64 : n), s);
}

qlm_status qlm_hparams_read(const qlm_file *f, qlm_hparams *hp)
{
    memset(hp, 0, sizeof *hp);
    qlm_status st;
    if ((st = read_arch(f, &hp->arch)) != QLM_OK ||
        (st = get_int(f, QLM_K_CTX, 1, INT64_MAX, &hp->ctx_max)) != QLM_OK ||
        (st = get_int(f, QLM_K_DIM, 1, MAX_DIM, &hp->dim)) != QLM_OK ||
        (st = get_int(f, QLM_K_LAYERS, 1, MAX_LAYERS, &hp->n_layers)) != QLM_OK ||
        (st = get_int(f, QLM_K_FFN, 1, MAX_FFN, &hp->ffn)) != QLM_OK ||
        (st = get_int(f, QLM_K_HEADS, 1, MAX_HEADS, &hp->n_heads)) != QLM_OK ||
        (st = get_int(f, QLM_K_HEADS_KV, 1, MAX_HEADS, &hp->n_kv_heads)) != QLM_OK ||
        (st = get_int(f, QLM_K_VOCAB, 1, MAX_VOCAB, &hp->n_vocab)) != QLM_OK)
        return st;
    if (hp->ctx_max > QLM_MAX_CTX)
        hp->ctx_max = QLM_MAX_CTX; /* e.g. 1M-token models: usable up to our limit */
    if (qlm_meta_has(f, QLM_K_HEAD_DIM)) {
        if ((st = get_int(f, QLM_K_HEAD_DIM, 1, MAX_DIM, &hp->head_dim)) != QLM_OK)
            return st;
    } else {
        if (hp->dim % hp->n_heads)
            return qlm_fail(QLM_E_VALUE, "model metadata: %s %lld is not divisible by %s %lld", QLM_K_DIM,
                            (long long)hp->dim, QLM_K_HEADS, (long long)hp->n_heads);
        hp->head_dim = hp->dim / hp->n_heads;
    }
    if (hp->head_dim % 2)
        return qlm_fail(QLM_E_VALUE, "model metadata: head_dim %lld must be even for RoPE", (long long)hp->head_dim);
    if (hp->n_heads % hp->n_kv_heads)
        return qlm_fail(QLM_E_VALUE, "model metadata: %s %lld is not divisible by %s %lld", QLM_K_HEADS,
                        (long long)hp->n_heads, QLM_K_HEADS_KV, (long long)hp->n_kv_heads);
    if (hp->n_heads * hp->head_dim > 4 * MAX_DIM)
        return qlm_fail(QLM_E_VALUE, "model metadata: heads x head_dim = %lld is too large",
                        (long long)(hp->n_heads * hp->head_dim));
    if ((st = get_pos(f, QLM_K_NORM_EPS, 0, true, &hp->norm_eps)) != QLM_OK ||
        (st = get_pos(f, QLM_K_ROPE_THETA, 10000.0, false, &hp->rope_theta)) != QLM_OK ||
        (st = read_rope_scaling(f, hp)) != QLM_OK)
        return st;
    hp->tied = qlm_meta_bool_or(f, QLM_K_TIED, false);
    hp->attn_bias = qlm_meta_bool_or(f, QLM_K_ATTN_BIAS, hp->arch == QLM_ARCH_QWEN2);
    hp->qk_norm = qlm_meta_bool_or(f, QLM_K_QK_NORM, hp->arch == QLM_ARCH_QWEN3);
    return QLM_OK;
}

static qlm_status find(const qlm_file *f, const char *name, const qlm_tensor **out)
{
    *out = qlm_file_find(f, name);
    if (!*out)
        return qlm_fail(QLM_E_MISSING, "model tensor %s is missing", name);
    return QLM_OK;
}

/* 1-D tensors (norm gains, biases) are F32 by the converter contract. */
static qlm_status vec(const qlm_file *f, const char *name, int64_t n, const float **out)
{
    const qlm_tensor *t;
    qlm_status st = find(f, name, &t);
    if (st != QLM_OK)
        return st;
    if (t->rank != 1 || t->dims[0] != (uint64_t)n)
        return qlm_fail(QLM_E_SHAPE, "model tensor %s: expected shape [%lld]", name, (long long)n);
    if (t->dtype != QLM_DT_F32)
        return qlm_fail(QLM_E_DTYPE, "model tensor %s: 1-D tensors must be f32", name);
    *out = t->data;
    return QLM_OK;
}

/* The optional input permutation "X.perm" of weight "X.weight": i32 [cols],
 * each of 0..cols-1 exactly once (checked: the forward pass indexes with it). */
static qlm_status perm_of(const qlm_file *f, const char *name, int64_t cols, const int32_t **out)
{
    char pn[112];
    size_t n = strlen(name);
    *out = NULL;
    if (n < 7 || strcmp(name + n - 7, ".weight") != 0 || n - 7 + 6 >= sizeof pn)
        return QLM_OK;
    snprintf(pn, sizeof pn, "%.*s.perm", (int)(n - 7), name);
    const qlm_tensor *t = qlm_file_find(f, pn);
    if (!t)
        return QLM_OK;
    if (t->dtype != QLM_DT_I32 || t->rank != 1 || t->dims[0] != (uint64_t)cols)
        return qlm_fail(QLM_E_SHAPE, "model tensor %s: expected i32 [%lld]", pn, (long long)cols);
    const int32_t *p = t->data;
    uint8_t *seen = calloc((size_t)cols, 1);
    if (!seen)
        return qlm_fail(QLM_E_NOMEM, "out of memory checking %s", pn);
    qlm_status st = QLM_OK;
    for (int64_t j = 0; j < cols && !st; j++) {
        if (p[j] < 0 || p[j] >= cols || seen[p[j]])
            st = qlm_fail(QLM_E_VALUE, "model tensor %s: entry %lld (%d) is not part of a permutation of 0..%lld",
                          pn, (long long)j, (int)p[j], (long long)(cols - 1));
        else
            seen[p[j]] = 1;
    }
    free(seen);
    if (!st)
        *out = p;
    return st;
}

static qlm_status mat(const qlm_file *f, const char *name, int64_t rows, int64_t cols, qlm_mat *out)
{
    const qlm_tensor *t;
    qlm_status st = find(f, name, &t);
    if (st != QLM_OK)
        return st;
    if (t->rank != 2 || t->dims[0] != (uint64_t)rows || t->dims[1] != (uint64_t)cols)
        return qlm_fail(QLM_E_SHAPE, "model tensor %s: expected shape [%lld, %lld]", name, (long long)rows,
                        (long long)cols);
    switch (t->dtype) {
    case QLM_DT_F32: case QLM_DT_F16: case QLM_DT_BF16: case QLM_DT_Q8: case QLM_DT_Q4:
    case QLM_DT_FP8: case QLM_DT_FP8_G128: case QLM_DT_NVFP4: case QLM_DT_MXFP4: case QLM_DT_W4A16:
        break;
    default: {
        const qlm_dtype_info *di = qlm_dtype_get(t->dtype);
        return qlm_fail(QLM_E_DTYPE, "model tensor %s: dtype %s is not supported for weights", name,
                        di ? di->name : "unknown");
    }
    }
    *out = (qlm_mat){t->data, t->dtype, rows, cols, NULL, t->name, NULL};
    return perm_of(f, name, cols, &out->perm);
}

static qlm_status load_layer(const qlm_file *f, const qlm_hparams *hp, int64_t i, qlm_layer *L)
{
    char n[96];
    int64_t D = hp->dim, F = hp->ffn, hd = hp->head_dim;
    int64_t qd = hp->n_heads * hd, kvd = hp->n_kv_heads * hd;
    qlm_status st;
#define NAME(s) (snprintf(n, sizeof n, "blk.%lld." s, (long long)i), n)
    if ((st = vec(f, NAME("attn_norm.weight"), D, &L->attn_norm)) != QLM_OK ||
        (st = vec(f, NAME("ffn_norm.weight"), D, &L->ffn_norm)) != QLM_OK ||
        (st = mat(f, NAME("attn_q.weight"), qd, D, &L->wq)) != QLM_OK ||
        (st = mat(f, NAME("attn_k.weight"), kvd, D, &L->wk)) != QLM_OK ||
        (st = mat(f, NAME("attn_v.weight"), kvd, D, &L->wv)) != QLM_OK ||
        (st = mat(f, NAME("attn_output.weight"), D, qd, &L->wo)) != QLM_OK ||
        (st = mat(f, NAME("ffn_gate.weight"), F, D, &L->gate)) != QLM_OK ||
        (st = mat(f, NAME("ffn_up.weight"), F, D, &L->up)) != QLM_OK ||
        (st = mat(f, NAME("ffn_down.weight"), D, F, &L->down)) != QLM_OK)
        return st;
    if (hp->attn_bias &&
        ((st = vec(f, NAME("attn_q.bias"), qd, &L->bq)) != QLM_OK ||
         (st = vec(f, NAME("attn_k.bias"), kvd, &L->bk)) != QLM_OK ||
         (st = vec(f, NAME("attn_v.bias"), kvd, &L->bv)) != QLM_OK))
        return st;
    if (hp->qk_norm &&
        ((st = vec(f, NAME("attn_q_norm.weight"), hd, &L->q_norm)) != QLM_OK ||
         (st = vec(f, NAME("attn_k_norm.weight"), hd, &L->k_norm)) != QLM_OK))
        return st;
#undef NAME
    return QLM_OK;
}

static qlm_status load_tensors(qlm_model *m)
{
    const qlm_file *f = m->file;
    const qlm_hparams *hp = &m->hp;
    qlm_status st;
    if ((st = mat(f, "token_embd.weight", hp->n_vocab, hp->dim, &m->embd)) != QLM_OK ||
        (st = vec(f, "output_norm.weight", hp->dim, &m->output_norm)) != QLM_OK)
        return st;
    if (m->embd.perm)
        return qlm_fail(QLM_E_UNSUPPORTED, "model tensor token_embd.perm: the embedding has no input to permute");
    if (hp->tied) {
        if (qlm_file_find(f, "output.weight"))
            return qlm_fail(QLM_E_VALUE, "model has output.weight but %s is true", QLM_K_TIED);
        m->output = m->embd;
    } else if ((st = mat(f, "output.weight", hp->n_vocab, hp->dim, &m->output)) != QLM_OK) {
        return st;
    }
    m->layers = calloc((size_t)hp->n_layers, sizeof *m->layers);
    if (!m->layers)
        return qlm_fail(QLM_E_NOMEM, "out of memory for %lld layers", (long long)hp->n_layers);
    for (int64_t i = 0; i < hp->n_layers; i++)
        if ((st = load_layer(f, hp, i, &m->layers[i])) != QLM_OK)
            return st;
    return QLM_OK;
}

qlm_status qlm_model_open(const char *path, qlm_model **out)
{
    *out = NULL;
    qlm_model *m = calloc(1, sizeof *m);
    if (!m)
        return qlm_fail(QLM_E_NOMEM, "out of memory opening %s", path);
    qlm_status st = qlm_file_open(path, &m->file);
    if (st != QLM_OK) {
        free(m);
        return st; /* the reader's message names the file */
    }
    if ((st = qlm_hparams_read(m->file, &m->hp)) == QLM_OK && (st = load_tensors(m)) == QLM_OK)
        st = qlm_rope_inv_freq(&m->hp, &m->inv_freq);
    if (st != QLM_OK) {
        qlm_fail_context(st, "%s", path);
        qlm_model_close(m);
        return st;
    }
    qlm_model_pack(m, qlm_kernels_get());
    *out = m;
    return QLM_OK;
}

void qlm_model_close(qlm_model *m)
{
    if (!m)
        return;
    qlm_model_unpack(m);
    free(m->inv_freq);
    free(m->layers);
    qlm_file_close(m->file);
    free(m);
}

const qlm_hparams *qlm_model_hparams(const qlm_model *m) { return &m->hp; }
const qlm_file *qlm_model_file(const qlm_model *m) { return m->file; }
