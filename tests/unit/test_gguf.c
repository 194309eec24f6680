/* GGUF reader: the real stories260K and vocabulary GGUFs, and files built by
 * an independent writer (tests/common/ggufbuild.c). Malformed input:
 * test_gguf_malformed.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/gguf/gguf.h"
#include "tests/common/ggufbuild.h"
#include "tests/common/testutil.h"

/* stories260K hyper-parameters (shared/README.md). */
enum { S_DIM = 64, S_FFN = 172, S_LAYERS = 5, S_HEADS = 8, S_KV = 4, S_VOCAB = 512 };
#define S_KVDIM (S_DIM / S_HEADS * S_KV)

static const char *const k_kinds[] = {"f32", "f16", "bf16", "q8_0", "q4_0"};

/* Expected ggml type of a stories tensor in the GGUF of a given kind
 * (shared/README.md: norms stay F32; ffn_down is F16 in q8_0/q4_0 since 172 is
 * not a multiple of 32; output.weight is Q8_0 in q4_0). */
static uint32_t expected_type(const char *kind, const char *name, uint32_t rank)
{
    if (rank == 1 || !strcmp(kind, "f32"))
        return GGML_F32;
    if (!strcmp(kind, "f16"))
        return GGML_F16;
    if (!strcmp(kind, "bf16"))
        return GGML_BF16;
    if (strstr(name, "ffn_down"))
        return GGML_F16;
    if (!strcmp(kind, "q8_0") || !strcmp(name, "output.weight"))
        return GGML_Q8_0;
    return GGML_Q4_0;
}

static uint64_t expected_nbytes(uint32_t type, uint64_t n)
{
    switch (type) {
    case GGML_F32: return n * 4;
    case GGML_F16: case GGML_BF16: return n * 2;
    case GGML_Q8_0: return n / 32 * 34;
    default: return n / 32 * 18;
    }
}

typedef struct {
    char name[64];
    uint32_t rank;
    uint64_t dims[2];
} exp_tensor;

static size_t stories_tensors(exp_tensor *e)
{
    size_t n = 0;
    e[n++] = (exp_tensor){"token_embd.weight", 2, {S_VOCAB, S_DIM}};
    e[n++] = (exp_tensor){"output_norm.weight", 1, {S_DIM, 0}};
    e[n++] = (exp_tensor){"output.weight", 2, {S_VOCAB, S_DIM}};
    static const struct { const char *n; uint32_t rank; uint64_t d0, d1; } per[] = {
        {"attn_q", 2, S_DIM, S_DIM},  {"attn_k", 2, S_KVDIM, S_DIM}, {"attn_v", 2, S_KVDIM, S_DIM},
        {"attn_output", 2, S_DIM, S_DIM}, {"attn_norm", 1, S_DIM, 0}, {"ffn_gate", 2, S_FFN, S_DIM},
        {"ffn_up", 2, S_FFN, S_DIM},  {"ffn_down", 2, S_DIM, S_FFN}, {"ffn_norm", 1, S_DIM, 0}};
    for (int l = 0; l < S_LAYERS; l++)
        for (size_t k = 0; k < sizeof per / sizeof per[0]; k++) {
            snprintf(e[n].name, sizeof e[n].name, "blk.%d.%s.weight", l, per[k].n);
            e[n].rank = per[k].rank;
            e[n].dims[0] = per[k].d0;
            e[n].dims[1] = per[k].d1;
            n++;
        }
    return n;
}

static const char *stories_path(const char *kind)
{
    static char rel[128];
    snprintf(rel, sizeof rel, "models/stories260K/stories260K-%s.gguf", kind);
    return tu_shared(rel);
}

static void test_stories_tensors(void **state)
{
    (void)state;
    exp_tensor e[64];
    size_t ne = stories_tensors(e);
    for (size_t k = 0; k < 5; k++) {
        gguf_file *g;
        assert_ok(gguf_open(stories_path(k_kinds[k]), &g));
        assert_int_equal(gguf_version(g), 3);
        assert_int_equal(gguf_n_tensors(g), ne);
        for (size_t i = 0; i < ne; i++) {
            const gguf_tensor *t = gguf_find_tensor(g, e[i].name);
            if (!t)
                fail_msg("%s: tensor %s missing", k_kinds[k], e[i].name);
            assert_string_equal(t->name, e[i].name);
            assert_int_equal(t->rank, e[i].rank);
            for (uint32_t d = 0; d < t->rank; d++)
                assert_int_equal(t->dims[d], e[i].dims[d]);
            uint64_t n = e[i].dims[0] * (e[i].rank == 2 ? e[i].dims[1] : 1);
            assert_int_equal(t->n_elems, n);
            uint32_t ty = expected_type(k_kinds[k], t->name, t->rank);
            if (t->ggml_type != ty)
                fail_msg("%s: %s has type %u, want %u", k_kinds[k], t->name, t->ggml_type, ty);
            assert_int_equal(t->nbytes, expected_nbytes(ty, n));
            assert_non_null(t->data);
            assert_int_equal((uintptr_t)t->data % 32, 0); /* default alignment, page-aligned map */
        }
        assert_null(gguf_find_tensor(g, "blk.5.attn_q.weight"));
        assert_null(gguf_tensor_at(g, ne));
        gguf_close(g);
    }
}

/* The f32 GGUF holds the same floats as llama2.c's checkpoint for every tensor
 * the GGUF converter does not permute: checks the reader's data offsets. */
static void test_stories_data_matches_llama2c(void **state)
{
    (void)state;
    size_t blen;
    char *bin = tu_read(tu_shared("models/stories260K/stories260K.bin"), &blen);
    const float *w = (const float *)(bin + 28);
    gguf_file *g;
    assert_ok(gguf_open(stories_path("f32"), &g));
    size_t L = S_LAYERS, D = S_DIM, F = S_FFN, V = S_VOCAB, KV = S_KVDIM;
    /* llama2.c order: embed, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3, rms_final */
    size_t off_rms_att = V * D, off_wq = off_rms_att + L * D, off_wk = off_wq + L * D * D;
    size_t off_wv = off_wk + L * D * KV, off_wo = off_wv + L * D * KV, off_rms_ffn = off_wo + L * D * D;
    size_t off_w1 = off_rms_ffn + L * D, off_w2 = off_w1 + L * F * D, off_w3 = off_w2 + L * F * D;
    size_t off_final = off_w3 + L * F * D;
    assert_true(28 + (off_final + D) * 4 <= blen);
    struct { const char *name; size_t off, n; } chk[] = {
        {"token_embd.weight", 0, V * D},      {"output.weight", 0, V * D},
        {"output_norm.weight", off_final, D}, {"blk.2.attn_norm.weight", off_rms_att + 2 * D, D},
        {"blk.4.ffn_norm.weight", off_rms_ffn + 4 * D, D}, {"blk.1.attn_v.weight", off_wv + KV * D, KV * D},
        {"blk.3.attn_output.weight", off_wo + 3 * D * D, D * D}, {"blk.0.ffn_gate.weight", off_w1, F * D},
        {"blk.4.ffn_down.weight", off_w2 + 4 * F * D, F * D}, {"blk.2.ffn_up.weight", off_w3 + 2 * F * D, F * D},
    };
    for (size_t i = 0; i < sizeof chk / sizeof chk[0]; i++) {
        const gguf_tensor *t = gguf_find_tensor(g, chk[i].name);
        assert_non_null(t);
        assert_int_equal(t->nbytes, chk[i].n * 4);
        if (memcmp(t->data, w + chk[i].off, chk[i].n * 4))
            fail_msg("%s differs from stories260K.bin", chk[i].name);
    }
    gguf_close(g);
    free(bin);
}

/* llama2.c tokenizer .bin: i32 max_len, then per token f32 score, i32 len, bytes. */
static void check_vocab_vs_llama2c_tok(const gguf_file *g, const char *tok_bin, uint64_t n_vocab)
{
    size_t len;
    char *t = tu_read(tok_bin, &len);
    size_t pos = 4;
    for (uint64_t i = 0; i < n_vocab; i++) {
        float score;
        int32_t n;
        assert_true(pos + 8 <= len);
        memcpy(&score, t + pos, 4);
        memcpy(&n, t + pos + 4, 4);
        pos += 8;
        assert_true(n >= 0 && pos + (size_t)n <= len);
        const char *s;
        size_t sl;
        double gs;
        assert_ok(gguf_get_arr_str(g, "tokenizer.ggml.tokens", i, &s, &sl));
        assert_ok(gguf_get_arr_f64(g, "tokenizer.ggml.scores", i, &gs));
        /* llama2.c's export writes "\n<s>\n" / "\n</s>\n" for BOS/EOS and
         * U+2581 as a space. */
        char want[512];
        size_t wl = 0;
        if (i == 1 || i == 2)
            want[wl++] = '\n';
        for (size_t j = 0; j < sl && wl < sizeof want - 2; j++) {
            if (j + 3 <= sl && !memcmp(s + j, "\xe2\x96\x81", 3)) {
                want[wl++] = ' ';
                j += 2;
            } else {
                want[wl++] = s[j];
            }
        }
        if (i == 1 || i == 2)
            want[wl++] = '\n';
        if (wl != (size_t)n || memcmp(want, t + pos, wl))
            fail_msg("token %llu: gguf '%.*s' vs llama2.c '%.*s'", (unsigned long long)i, (int)sl, s, n, t + pos);
        assert_true(gs == (double)score);
        pos += (size_t)n;
    }
    assert_int_equal(pos, len);
    free(t);
}

static void test_stories_metadata(void **state)
{
    (void)state;
    gguf_file *g;
    assert_ok(gguf_open(stories_path("q4_0"), &g));
    int64_t v;
    double d;
    const char *s;
    size_t len;
    assert_ok(gguf_get_str(g, "general.architecture", &s, &len));
    assert_int_equal(len, 5);
    assert_memory_equal(s, "llama", 5);
    assert_ok(gguf_get_i64(g, "llama.context_length", &v));
    assert_int_equal(v, 128);
    assert_ok(gguf_get_i64(g, "llama.attention.head_count_kv", &v));
    assert_int_equal(v, S_KV);
    assert_ok(gguf_get_f64(g, "llama.attention.layer_norm_rms_epsilon", &d));
    assert_true(d == (double)1e-5f);
    assert_ok(gguf_get_i64(g, "tokenizer.ggml.padding_token_id", &v)); /* u32 0xFFFFFFFF */
    assert_int_equal(v, 4294967295LL);
    assert_true(gguf_has(g, "tokenizer.ggml.tokens"));
    assert_false(gguf_has(g, "llama.rope.freq_base"));
    assert_status(gguf_get_i64(g, "llama.rope.freq_base", &v), QLM_E_MISSING);
    assert_status(gguf_get_i64(g, "general.architecture", &v), QLM_E_VALUE);
    assert_status(gguf_get_str(g, "llama.block_count", &s, &len), QLM_E_VALUE);
    bool b;
    assert_status(gguf_get_bool(g, "llama.block_count", &b), QLM_E_VALUE);
    gguf_vtype et;
    uint64_t cnt;
    assert_ok(gguf_get_arr_info(g, "tokenizer.ggml.tokens", &et, &cnt));
    assert_int_equal(et, GGUF_T_STRING);
    assert_int_equal(cnt, S_VOCAB);
    assert_ok(gguf_get_arr_info(g, "tokenizer.ggml.token_type", &et, &cnt));
    assert_int_equal(et, GGUF_T_I32);
    assert_ok(gguf_get_arr_i64(g, "tokenizer.ggml.token_type", 1, &v));
    assert_int_equal(v, 3); /* <s> is a control token */
    assert_status(gguf_get_arr_i64(g, "tokenizer.ggml.token_type", S_VOCAB, &v), QLM_E_BOUNDS);
    assert_status(gguf_get_arr_i64(g, "tokenizer.ggml.scores", 0, &v), QLM_E_VALUE);
    assert_status(gguf_get_arr_str(g, "tokenizer.ggml.scores", 0, &s, &len), QLM_E_VALUE);
    assert_status(gguf_get_arr_info(g, "llama.block_count", &et, &cnt), QLM_E_VALUE);
    check_vocab_vs_llama2c_tok(g, tu_shared("models/stories260K/tok512.bin"), S_VOCAB);
    gguf_close(g);
}

static void test_vocab_ggufs(void **state)
{
    (void)state;
    static const char *const names[] = {"llama-spm", "phi-3", "baichuan", "gpt-2", "gpt-neox", "mpt",
                                        "starcoder", "refact", "falcon", "deepseek-coder", "deepseek-llm",
                                        "bert-bge"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        char rel[128];
        snprintf(rel, sizeof rel, "models/ggml-vocab/ggml-vocab-%s.gguf", names[k]);
        gguf_file *g;
        assert_ok(gguf_open(tu_shared(rel), &g));
        /* the counts in the raw header: u64 n_tensors at 8, u64 n_kv at 16 */
        size_t flen;
        char *raw = tu_read(tu_shared(rel), &flen);
        uint64_t hdr[2];
        memcpy(hdr, raw + 8, 16);
        free(raw);
        assert_int_equal(gguf_n_tensors(g), hdr[0]);
        assert_int_equal(hdr[0], 0);
        assert_int_equal(gguf_n_kv(g), hdr[1]);
        assert_true(hdr[1] >= 10);
        for (size_t i = 0; i < gguf_n_kv(g); i++)
            assert_true(gguf_has(g, gguf_kv_key(g, i)));
        gguf_vtype et;
        uint64_t n_tok, n;
        assert_ok(gguf_get_arr_info(g, "tokenizer.ggml.tokens", &et, &n_tok));
        assert_int_equal(et, GGUF_T_STRING);
        assert_true(n_tok >= 30000);
        size_t total = 0;
        for (uint64_t i = 0; i < n_tok; i++) {
            const char *s;
            size_t len;
            assert_ok(gguf_get_arr_str(g, "tokenizer.ggml.tokens", i, &s, &len));
            total += len;
        }
        assert_true(total >= n_tok); /* no token is empty on average */
        assert_ok(gguf_get_arr_info(g, "tokenizer.ggml.token_type", &et, &n));
        assert_int_equal(n, n_tok);
        if (gguf_has(g, "tokenizer.ggml.merges")) {
            const char *s;
            size_t len;
            assert_ok(gguf_get_arr_info(g, "tokenizer.ggml.merges", &et, &n));
            assert_ok(gguf_get_arr_str(g, "tokenizer.ggml.merges", n - 1, &s, &len));
            assert_non_null(memchr(s, ' ', len)); /* "left right" */
        }
        if (!strcmp(names[k], "llama-spm"))
            check_vocab_vs_llama2c_tok(g, tu_shared("models/tokenizers/llama-spm/tokenizer.bin"), n_tok);
        gguf_close(g);
    }
}

/* ---- files from the independent builder ---- */

static qlm_status open_buf(const gb_buf *b, gguf_file **g) { return gguf_open_mem(b->buf, b->len, g); }

static void test_built_value_types(void **state)
{
    (void)state;
    gb_buf b = {0};
    gb_header(&b, 2, 0, 12);
    gb_key(&b, "u8", GGUF_T_U8);
    gb_bytes(&b, "\xfe", 1);
    gb_key(&b, "i8", GGUF_T_I8);
    gb_bytes(&b, "\xfe", 1);
    gb_key(&b, "u16", GGUF_T_U16);
    gb_bytes(&b, "\x34\x12", 2);
    gb_key(&b, "i16", GGUF_T_I16);
    gb_bytes(&b, "\xff\xff", 2);
    gb_key(&b, "i32", GGUF_T_I32);
    gb_u32(&b, (uint32_t)-7);
    gb_key(&b, "u64", GGUF_T_U64);
    gb_u64(&b, UINT64_MAX);
    gb_key(&b, "i64", GGUF_T_I64);
    gb_u64(&b, (uint64_t)INT64_MIN);
    gb_key(&b, "f64", GGUF_T_F64);
    double x = -0.1;
    gb_bytes(&b, &x, 8);
    gb_key(&b, "bool", GGUF_T_BOOL);
    gb_bytes(&b, "\x01", 1);
    gb_kv_f32(&b, "f32", 0.25f);
    gb_key(&b, "arr.i16", GGUF_T_ARRAY);
    gb_u32(&b, GGUF_T_I16);
    gb_u64(&b, 3);
    gb_bytes(&b, "\x01\x00\xff\xff\x00\x80", 6);
    gb_key(&b, "arr.str", GGUF_T_ARRAY);
    gb_u32(&b, GGUF_T_STRING);
    gb_u64(&b, 3);
    gb_str(&b, "a");
    gb_str(&b, "");
    gb_str(&b, "h\xc3\xa9");
    gguf_file *g;
    assert_ok(open_buf(&b, &g));
    assert_int_equal(gguf_version(g), 2);
    assert_int_equal(gguf_n_kv(g), 12);
    assert_string_equal(gguf_kv_key(g, 11), "arr.str");
    assert_null(gguf_kv_key(g, 12));
    int64_t v;
    double d;
    bool bo;
    assert_ok(gguf_get_i64(g, "u8", &v));
    assert_int_equal(v, 254);
    assert_ok(gguf_get_i64(g, "i8", &v));
    assert_int_equal(v, -2);
    assert_ok(gguf_get_i64(g, "u16", &v));
    assert_int_equal(v, 0x1234);
    assert_ok(gguf_get_i64(g, "i16", &v));
    assert_int_equal(v, -1);
    assert_ok(gguf_get_i64(g, "i32", &v));
    assert_int_equal(v, -7);
    assert_status(gguf_get_i64(g, "u64", &v), QLM_E_VALUE); /* does not fit */
    assert_ok(gguf_get_f64(g, "u64", &d));
    assert_true(d == 18446744073709551615.0);
    assert_ok(gguf_get_i64(g, "i64", &v));
    assert_true(v == INT64_MIN);
    assert_ok(gguf_get_f64(g, "f64", &d));
    assert_true(d == -0.1);
    assert_ok(gguf_get_f64(g, "f32", &d));
    assert_true(d == 0.25);
    assert_ok(gguf_get_f64(g, "i32", &d));
    assert_true(d == -7.0);
    assert_status(gguf_get_i64(g, "f32", &v), QLM_E_VALUE);
    assert_status(gguf_get_f64(g, "bool", &d), QLM_E_VALUE);
    assert_ok(gguf_get_bool(g, "bool", &bo));
    assert_true(bo);
    assert_ok(gguf_get_arr_i64(g, "arr.i16", 1, &v));
    assert_int_equal(v, -1);
    assert_ok(gguf_get_arr_i64(g, "arr.i16", 2, &v));
    assert_int_equal(v, -32768);
    assert_ok(gguf_get_arr_f64(g, "arr.i16", 0, &d));
    assert_true(d == 1.0);
    const char *s;
    size_t len;
    assert_ok(gguf_get_arr_str(g, "arr.str", 1, &s, &len));
    assert_int_equal(len, 0);
    assert_ok(gguf_get_arr_str(g, "arr.str", 2, &s, &len));
    assert_int_equal(len, 3);
    assert_memory_equal(s, "h\xc3\xa9", 3);
    assert_status(gguf_get_arr_str(g, "arr.str", 3, &s, &len), QLM_E_BOUNDS);
    assert_status(gguf_get_arr_i64(g, "arr.str", 0, &v), QLM_E_VALUE);
    gguf_close(g);
    gb_free(&b);
}

/* Two tensors (one of a type qlm does not import) at a 64-byte alignment. */
static void build_two_tensors(gb_buf *b, uint32_t align, uint32_t type2, uint64_t off2)
{
    gb_header(b, 3, 2, 2);
    gb_kv_str(b, "general.architecture", "llama");
    gb_kv_u32(b, "general.alignment", align);
    uint64_t ne1[2] = {32, 3}, ne2[1] = {5};
    gb_tensor(b, "a", 2, ne1, GGML_Q8_0, 0);
    gb_tensor(b, "b", 1, ne2, type2, off2);
    gb_pad(b, align);
    uint8_t data[3 * 34 + 64 + 20];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)i;
    gb_bytes(b, data, sizeof data);
}

static void test_built_tensors(void **state)
{
    (void)state;
    gb_buf b = {0};
    build_two_tensors(&b, 64, 12 /* Q4_K */, 128);
    gguf_file *g;
    assert_ok(open_buf(&b, &g));
    const gguf_tensor *a = gguf_find_tensor(g, "a"), *t = gguf_find_tensor(g, "b");
    assert_int_equal(a->dims[0], 3);
    assert_int_equal(a->dims[1], 32);
    assert_int_equal(a->nbytes, 3 * 34);
    size_t data_start = (size_t)((const uint8_t *)a->data - b.buf);
    assert_int_equal(data_start % 64, 0);
    assert_int_equal(((const uint8_t *)a->data)[0], 0); /* first data byte written */
    assert_int_equal(t->ggml_type, 12);
    assert_null(t->data);
    assert_int_equal(t->nbytes, 0);
    assert_int_equal(t->n_elems, 5);
    gguf_close(g);
    gb_free(&b);

    build_two_tensors(&b, 64, GGML_F32, 128);
    assert_ok(open_buf(&b, &g));
    t = gguf_find_tensor(g, "b");
    assert_int_equal((const uint8_t *)t->data - (const uint8_t *)gguf_find_tensor(g, "a")->data, 128);
    assert_int_equal(t->nbytes, 20);
    gguf_close(g);
    gb_free(&b);

    build_two_tensors(&b, 64, GGML_F32, 64); /* a is 102 bytes: overlaps b */
    assert_status(open_buf(&b, &g), QLM_E_OVERLAP);
    gb_free(&b);
    build_two_tensors(&b, 64, GGML_F32, 96);
    assert_status(open_buf(&b, &g), QLM_E_ALIGN);
    gb_free(&b);
    build_two_tensors(&b, 32, GGML_F32, 96); /* aligned at 32, no overlap (102 > 96 though) */
    assert_status(open_buf(&b, &g), QLM_E_OVERLAP);
    gb_free(&b);
    build_two_tensors(&b, 64, GGML_F32, 192); /* past the end of the data */
    assert_status(open_buf(&b, &g), QLM_E_BOUNDS);
    gb_free(&b);
    build_two_tensors(&b, 64, 99, 1ull << 40); /* unknown type, offset still checked */
    assert_status(open_buf(&b, &g), QLM_E_BOUNDS);
    gb_free(&b);
    static const uint32_t bad_align[] = {0, 4, 33, 96, 1u << 31};
    for (size_t i = 0; i < 5; i++) {
        build_two_tensors(&b, 64, GGML_F32, 128);
        /* rewrite the alignment value in place (the builder padded with a valid one) */
        uint8_t *p = memmem(b.buf, b.len, "general.alignment", 17);
        assert_non_null(p);
        uint32_t v = bad_align[i];
        memcpy(p + 17 + 4, &v, 4);
        assert_status(open_buf(&b, &g), QLM_E_ALIGN);
        gb_free(&b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stories_tensors),
        cmocka_unit_test(test_stories_data_matches_llama2c),
        cmocka_unit_test(test_stories_metadata),
        cmocka_unit_test(test_vocab_ggufs),
        cmocka_unit_test(test_built_value_types),
        cmocka_unit_test(test_built_tensors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
