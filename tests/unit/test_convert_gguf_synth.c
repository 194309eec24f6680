/* GGUF -> .qlm on small GGUFs built by the test (tests/common/ggufbuild.c):
 * qwen2 / qwen3 / llama layouts, hyper-parameter keys, and every way the
 * metadata or tensor list can be wrong. The vocabulary is stories260K's,
 * copied key by key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/convert/convert.h"
#include "formats/gguf/gguf.h"
#include "formats/qlm/keys.h"
#include "formats/qlm/qlmfile.h"
#include "tests/common/ggufbuild.h"
#include "tests/common/testutil.h"

enum { V = 512, D = 64, F = 96, L = 2, H = 4, HKV = 2, HD = 32 };

typedef struct {
    const char *arch;
    int heads, heads_kv, head_dim; /* head_dim != D/H: written as key_length */
    bool tied, bias, qk_norm;
    const char *drop_key;      /* metadata key to leave out */
    const char *extra_kv;      /* "name=value" string kv appended (e.g. rope scaling) */
    const char *drop_tensor;   /* tensor to leave out */
    const char *extra_tensor;  /* tensor [D] appended */
    const char *odd_tensor;    /* tensor stored as Q4_K (ggml 12) */
    const char *wide_tensor;   /* tensor with one extra row */
    uint32_t rope_dims;        /* rope.dimension_count (0: not written) */
} spec;

typedef struct {
    char name[64];
    uint32_t n_dims;
    uint64_t ne[2]; /* GGUF order: innermost first */
    uint32_t type;
    uint64_t nbytes, offset;
} tinfo;

static size_t add_t(tinfo *t, size_t n, const spec *s, const char *name, uint64_t rows, uint64_t cols)
{
    if (s->drop_tensor && !strcmp(name, s->drop_tensor))
        return n;
    tinfo *x = &t[n];
    snprintf(x->name, sizeof x->name, "%s", name);
    bool wide = s->wide_tensor && !strcmp(name, s->wide_tensor);
    x->n_dims = cols ? 2 : 1;
    x->ne[0] = cols ? cols : rows + wide;
    x->ne[1] = cols ? rows + wide : 0;
    x->type = s->odd_tensor && !strcmp(name, s->odd_tensor) ? 12 : GGML_F32;
    x->nbytes = 4 * x->ne[0] * (cols ? x->ne[1] : 1);
    return n + 1;
}

static size_t tensor_list(const spec *s, tinfo *t)
{
    uint64_t q = (uint64_t)s->heads * s->head_dim, kv = (uint64_t)s->heads_kv * s->head_dim;
    size_t n = 0;
    char nm[64];
    n = add_t(t, n, s, "token_embd.weight", V, D);
    n = add_t(t, n, s, "output_norm.weight", D, 0);
    if (!s->tied)
        n = add_t(t, n, s, "output.weight", V, D);
    for (int l = 0; l < L; l++) {
        static const char *const two[] = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"};
        uint64_t rows[] = {q, kv, kv, D, F, F, D}, cols[] = {D, D, D, q, D, D, F};
        for (int k = 0; k < 7; k++) {
            snprintf(nm, sizeof nm, "blk.%d.%s.weight", l, two[k]);
            n = add_t(t, n, s, nm, rows[k], cols[k]);
        }
        snprintf(nm, sizeof nm, "blk.%d.attn_norm.weight", l);
        n = add_t(t, n, s, nm, D, 0);
        snprintf(nm, sizeof nm, "blk.%d.ffn_norm.weight", l);
        n = add_t(t, n, s, nm, D, 0);
        for (int k = 0; s->bias && k < 3; k++) {
            snprintf(nm, sizeof nm, "blk.%d.%s.bias", l, two[k]);
            n = add_t(t, n, s, nm, k ? kv : q, 0);
        }
        for (int k = 0; s->qk_norm && k < 2; k++) {
            snprintf(nm, sizeof nm, "blk.%d.%s_norm.weight", l, two[k]);
            n = add_t(t, n, s, nm, (uint64_t)s->head_dim, 0);
        }
    }
    if (s->extra_tensor)
        n = add_t(t, n, s, s->extra_tensor, D, 0);
    return n;
}

/* The tokenizer.ggml.* entries of stories260K's GGUF, re-encoded. */
static size_t copy_vocab(gb_buf *b)
{
    gguf_file *g;
    assert_ok(gguf_open(tu_shared("models/stories260K/stories260K-f32.gguf"), &g));
    gb_kv_str(b, "tokenizer.ggml.model", "llama");
    static const char *const ids[] = {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                                      "tokenizer.ggml.unknown_token_id"};
    for (int i = 0; i < 3; i++) {
        int64_t v;
        assert_ok(gguf_get_i64(g, ids[i], &v));
        gb_kv_u32(b, ids[i], (uint32_t)v);
    }
    gb_key(b, "tokenizer.ggml.tokens", GGUF_T_ARRAY);
    gb_u32(b, GGUF_T_STRING);
    gb_u64(b, V);
    for (uint64_t i = 0; i < V; i++) {
        const char *s;
        size_t len;
        assert_ok(gguf_get_arr_str(g, "tokenizer.ggml.tokens", i, &s, &len));
        gb_u64(b, len);
        gb_bytes(b, s, len);
    }
    gb_key(b, "tokenizer.ggml.scores", GGUF_T_ARRAY);
    gb_u32(b, GGUF_T_F32);
    gb_u64(b, V);
    for (uint64_t i = 0; i < V; i++) {
        double d;
        assert_ok(gguf_get_arr_f64(g, "tokenizer.ggml.scores", i, &d));
        float f = (float)d;
        gb_bytes(b, &f, 4);
    }
    gb_key(b, "tokenizer.ggml.token_type", GGUF_T_ARRAY);
    gb_u32(b, GGUF_T_I32);
    gb_u64(b, V);
    for (uint64_t i = 0; i < V; i++) {
        int64_t v;
        assert_ok(gguf_get_arr_i64(g, "tokenizer.ggml.token_type", i, &v));
        gb_u32(b, (uint32_t)v);
    }
    gguf_close(g);
    return 7;
}

/* Hyper-parameter kvs; returns how many were written. */
static size_t hparams(gb_buf *b, const spec *s)
{
    struct { const char *k; uint32_t v; } ints[] = {
        {"context_length", 4096}, {"embedding_length", D}, {"block_count", L}, {"feed_forward_length", F},
        {"attention.head_count", (uint32_t)s->heads}, {"attention.head_count_kv", (uint32_t)s->heads_kv},
        {"attention.key_length", (uint32_t)s->head_dim}, {"attention.value_length", (uint32_t)s->head_dim},
        {"rope.dimension_count", s->rope_dims}};
    size_t n = 0;
    char key[128];
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        if ((s->drop_key && !strcmp(ints[i].k, s->drop_key)) || (i == 8 && !s->rope_dims))
            continue;
        snprintf(key, sizeof key, "%s.%s", s->arch, ints[i].k);
        gb_kv_u32(b, key, ints[i].v);
        n++;
    }
    snprintf(key, sizeof key, "%s.attention.layer_norm_rms_epsilon", s->arch);
    gb_kv_f32(b, key, 1e-6f);
    snprintf(key, sizeof key, "%s.rope.freq_base", s->arch);
    gb_kv_f32(b, key, 1000000.0f);
    n += 2;
    if (s->extra_kv) {
        const char *eq = strchr(s->extra_kv, '=');
        snprintf(key, sizeof key, "%s.%.*s", s->arch, (int)(eq - s->extra_kv), s->extra_kv);
        if (eq[1] >= '0' && eq[1] <= '9')
            gb_kv_f32(b, key, (float)atof(eq + 1));
        else
            gb_kv_str(b, key, eq + 1);
        n++;
    }
    return n;
}

/* Writes the GGUF to `path`; tensor data is a deterministic ramp. */
static void build(const spec *s, const char *path)
{
    gb_buf kv = {0}, b = {0};
    tinfo t[64];
    size_t nt = tensor_list(s, t);
    size_t nkv = 2;
    gb_kv_str(&kv, "general.architecture", s->arch);
    gb_kv_str(&kv, "general.name", "synthetic");
    nkv += hparams(&kv, s) + copy_vocab(&kv);
    gb_header(&b, 3, nt, nkv);
    gb_bytes(&b, kv.buf, kv.len);
    uint64_t off = 0;
    for (size_t i = 0; i < nt; i++) {
        t[i].offset = off;
        gb_tensor(&b, t[i].name, t[i].n_dims, t[i].ne, t[i].type, off);
        off += (t[i].nbytes + 31) / 32 * 32;
    }
    gb_pad(&b, 32);
    size_t base = b.len;
    for (size_t i = 0; i < nt; i++) {
        while (b.len < base + t[i].offset)
            gb_bytes(&b, "\0", 1);
        for (uint64_t k = 0; k < t[i].nbytes / 4; k++) {
            float x = (float)((i * 7919 + k * 104729) % 2001) / 1000.0f - 1.0f;
            gb_bytes(&b, &x, 4);
        }
    }
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b.buf, 1, b.len, f), b.len);
    fclose(f);
    gb_free(&kv);
    gb_free(&b);
}

static qlm_status convert(const spec *s, const char *out)
{
    build(s, tu_tmp("synth.gguf"));
    qlm_convert_opts o = {0};
    o.src = tu_tmp("synth.gguf");
    o.out = out;
    o.type = QLM_DT_F32;
    o.quiet = true;
    o.threads = 1; /* small tensors: threads only add start-up cost on a busy machine */
    return qlm_convert(&o);
}

static spec base_spec(const char *arch)
{
    spec s = {0};
    s.arch = arch;
    s.heads = H;
    s.heads_kv = HKV;
    s.head_dim = HD;
    s.bias = !strcmp(arch, "qwen2");
    s.qk_norm = !strcmp(arch, "qwen3");
    return s;
}

/* GGUF row behind Hugging Face row r (llama only). */
static uint64_t gguf_row(uint64_t r, uint64_t hd)
{
    uint64_t h = r / hd, k = r % hd, half = hd / 2;
    return h * hd + 2 * (k % half) + k / half;
}

/* Every tensor's f32 data equals the GGUF's (Q/K rows mapped back for llama). */
static void check_data(const char *arch, const char *qlm_path)
{
    gguf_file *g;
    qlm_file *f;
    assert_ok(gguf_open(tu_tmp("synth.gguf"), &g));
    assert_ok(qlm_file_open(qlm_path, &f));
    assert_int_equal(qlm_file_n_tensors(f), gguf_n_tensors(g));
    bool llama = !strcmp(arch, "llama");
    for (size_t i = 0; i < gguf_n_tensors(g); i++) {
        const gguf_tensor *t = gguf_tensor_at(g, i);
        const qlm_tensor *q = qlm_file_find(f, t->name);
        assert_non_null(q);
        assert_int_equal(q->dtype, QLM_DT_F32);
        assert_int_equal(q->nbytes, t->nbytes);
        bool qk = llama && (strstr(t->name, "attn_q.weight") || strstr(t->name, "attn_k.weight"));
        size_t rb = (size_t)(t->nbytes / t->dims[0]);
        for (uint64_t r = 0; r < t->dims[0]; r++)
            if (memcmp((const uint8_t *)q->data + r * rb,
                       (const uint8_t *)t->data + (qk ? gguf_row(r, HD) : r) * rb, rb))
                fail_msg("%s %s row %llu differs", arch, t->name, (unsigned long long)r);
    }
    qlm_file_close(f);
    gguf_close(g);
}

static void test_architectures(void **state)
{
    (void)state;
    static const char *const arches[] = {"llama", "qwen2", "qwen3"};
    for (int a = 0; a < 3; a++) {
        spec s = base_spec(arches[a]);
        s.tied = a == 2;
        assert_ok(convert(&s, tu_tmp("synth.qlm")));
        check_data(arches[a], tu_tmp("synth.qlm"));
        qlm_file *f;
        assert_ok(qlm_file_open(tu_tmp("synth.qlm"), &f));
        const char *str;
        size_t len;
        assert_ok(qlm_meta_str(f, QLM_K_ARCH, &str, &len));
        assert_true(len == strlen(arches[a]) && !memcmp(str, arches[a], len));
        assert_ok(qlm_meta_str(f, QLM_K_NAME, &str, &len));
        assert_true(len == 9 && !memcmp(str, "synthetic", 9));
        assert_int_equal(qlm_meta_i64_or(f, QLM_K_HEAD_DIM, 0), HD);
        assert_int_equal(qlm_meta_i64_or(f, QLM_K_HEADS_KV, 0), HKV);
        assert_int_equal(qlm_meta_i64_or(f, QLM_K_CTX, 0), 4096);
        assert_int_equal(qlm_meta_i64_or(f, QLM_K_VOCAB, 0), V);
        assert_true(qlm_meta_f64_or(f, QLM_K_ROPE_THETA, 0) == 1e6);
        assert_true(qlm_meta_f64_or(f, QLM_K_NORM_EPS, 0) == (double)1e-6f);
        assert_int_equal(qlm_meta_bool_or(f, QLM_K_TIED, !s.tied), s.tied);
        assert_int_equal(qlm_meta_bool_or(f, QLM_K_ATTN_BIAS, !s.bias), s.bias);
        assert_int_equal(qlm_meta_bool_or(f, QLM_K_QK_NORM, !s.qk_norm), s.qk_norm);
        qlm_file_close(f);
    }
}

static void test_rope_scaling(void **state)
{
    (void)state;
    spec s = base_spec("llama");
    s.extra_kv = "rope.scaling.type=linear";
    assert_status(convert(&s, tu_tmp("rope.qlm")), QLM_E_MISSING); /* no factor */
    s.extra_kv = "rope.scale_linear=4";
    assert_ok(convert(&s, tu_tmp("rope.qlm")));
    qlm_file *f;
    assert_ok(qlm_file_open(tu_tmp("rope.qlm"), &f));
    const char *str;
    size_t len;
    assert_ok(qlm_meta_str(f, QLM_K_ROPE_SCALING, &str, &len));
    assert_true(len == 6 && !memcmp(str, "linear", 6));
    assert_true(qlm_meta_f64_or(f, QLM_K_ROPE_FACTOR, 0) == 4.0);
    qlm_file_close(f);
    s.extra_kv = "rope.scaling.type=yarn";
    assert_status(convert(&s, tu_tmp("rope.qlm")), QLM_E_UNSUPPORTED);
    s.extra_kv = NULL;
    s.rope_dims = HD / 2; /* partial rotary */
    assert_status(convert(&s, tu_tmp("rope.qlm")), QLM_E_UNSUPPORTED);
    s.rope_dims = HD;
    assert_ok(convert(&s, tu_tmp("rope.qlm")));
}

static void test_bad_models(void **state)
{
    (void)state;
    typedef struct {
        const char *what;
        spec s;
        qlm_status want;
        const char *msg;
    } bad_case;
    bad_case c[12];
    size_t n = 0;
    spec s = base_spec("gpt2");
    c[n++] = (bad_case){"arch", s, QLM_E_ARCH, "gpt2"};
    s = base_spec("qwen3");
    s.drop_key = "embedding_length";
    c[n++] = (bad_case){"no dim", s, QLM_E_MISSING, "qwen3.embedding_length"};
    s = base_spec("llama");
    s.heads_kv = 3;
    c[n++] = (bad_case){"kv heads", s, QLM_E_VALUE, "head_count_kv"};
    s = base_spec("llama");
    s.odd_tensor = "blk.1.ffn_up.weight";
    c[n++] = (bad_case){"Q4_K", s, QLM_E_UNSUPPORTED, "blk.1.ffn_up.weight has ggml type Q4_K"};
    s = base_spec("llama");
    s.extra_tensor = "rope_freqs.weight";
    c[n++] = (bad_case){"extra", s, QLM_E_UNSUPPORTED, "rope_freqs.weight"};
    s = base_spec("qwen2");
    s.drop_tensor = "blk.1.attn_v.bias";
    c[n++] = (bad_case){"missing", s, QLM_E_MISSING, "blk.1.attn_v.bias"};
    s = base_spec("qwen3");
    s.wide_tensor = "blk.0.attn_k.weight";
    c[n++] = (bad_case){"shape", s, QLM_E_SHAPE, "blk.0.attn_k.weight"};
    s = base_spec("llama");
    s.drop_tensor = "token_embd.weight";
    c[n++] = (bad_case){"no embedding", s, QLM_E_MISSING, "token_embd.weight"};
    s = base_spec("llama");
    s.head_dim = 30; /* not D/H, given by key_length: fine */
    c[n++] = (bad_case){"odd-size ok", s, QLM_OK, ""};
    s = base_spec("llama");
    s.head_dim = 31;
    c[n++] = (bad_case){"odd head", s, QLM_E_VALUE, "even"};
    for (size_t i = 0; i < n; i++) {
        qlm_status st = convert(&c[i].s, tu_tmp("bad.qlm"));
        if (st != c[i].want || !strstr(qlm_errmsg(), c[i].msg))
            fail_msg("%s: got %s (%s), want %s naming '%s'", c[i].what, qlm_status_name(st), qlm_errmsg(),
                     qlm_status_name(c[i].want), c[i].msg);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_architectures),
        cmocka_unit_test(test_rope_scaling),
        cmocka_unit_test(test_bad_models),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
