/* GGUF -> .qlm and llama2.c -> .qlm on the real stories260K files: the two
 * sources of the same model must give identical tensors, every type/target
 * combination must give the dtypes of convert.h's rules, and Q8_0/Q4_0 imports
 * must be lossless. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "formats/common/half.h"
#include "formats/convert/convert.h"
#include "formats/gguf/gguf.h"
#include "formats/qlm/keys.h"
#include "formats/qlm/qlmfile.h"
#include "formats/quant/quant.h"
#include "tests/common/testutil.h"

static const char *const k_srcs[] = {"f32", "f16", "bf16", "q8_0", "q4_0", "bin"};
static const qlm_dtype k_targets[] = {QLM_DT_F32, QLM_DT_F16, QLM_DT_BF16, QLM_DT_Q8, QLM_DT_Q4};
static const char *const k_target_names[] = {"f32", "f16", "bf16", "q8", "q4"};

static const char *src_path(const char *kind)
{
    static char rel[2][128];
    static int k;
    k ^= 1;
    if (!strcmp(kind, "bin"))
        return tu_shared("models/stories260K/stories260K.bin");
    snprintf(rel[k], sizeof rel[k], "models/stories260K/stories260K-%s.gguf", kind);
    return tu_shared(rel[k]);
}

static void convert_to(const char *kind, qlm_dtype type, const char *out)
{
    qlm_convert_opts o = {0};
    o.src = src_path(kind);
    o.out = out;
    o.type = type;
    o.quiet = true;
    o.threads = 1; /* small tensors: threads only add start-up cost on a busy machine */
    if (!strcmp(kind, "bin"))
        o.tokenizer = tu_shared("models/stories260K/tok512.bin");
    qlm_status st = qlm_convert(&o);
    if (st)
        fail_msg("convert %s -> %s: %s: %s", kind, out, qlm_status_name(st), qlm_errmsg());
}

/* Every tensor of `a` exists in `b` with the same dtype, shape and bytes
 * (`a`'s token_embd is compared with `b`'s output when `b` is untied). */
static void assert_same_tensors(const char *pa, const char *pb)
{
    qlm_file *a, *b;
    assert_ok(qlm_file_open(pa, &a));
    assert_ok(qlm_file_open(pb, &b));
    for (size_t i = 0; i < qlm_file_n_tensors(a); i++) {
        const qlm_tensor *ta = qlm_file_tensor(a, i), *tb = qlm_file_find(b, ta->name);
        if (!tb)
            fail_msg("%s: %s missing from %s", pa, ta->name, pb);
        if (ta->dtype != tb->dtype || ta->rank != tb->rank || ta->nbytes != tb->nbytes ||
            memcmp(ta->dims, tb->dims, sizeof ta->dims) || memcmp(ta->data, tb->data, ta->nbytes))
            fail_msg("%s differs between %s and %s", ta->name, pa, pb);
        if (!strcmp(ta->name, "token_embd.weight") && qlm_file_find(b, "output.weight")) {
            const qlm_tensor *out = qlm_file_find(b, "output.weight");
            if (out->dtype != ta->dtype || memcmp(out->data, ta->data, ta->nbytes))
                fail_msg("%s output.weight differs from %s token_embd.weight", pb, pa);
        }
    }
    qlm_file_close(a);
    qlm_file_close(b);
}

/* The vocabulary from tok512.bin and from the GGUF's tokenizer.ggml.* keys
 * must come out the same. */
static void assert_same_vocab(const char *pa, const char *pb)
{
    qlm_file *a, *b;
    assert_ok(qlm_file_open(pa, &a));
    assert_ok(qlm_file_open(pb, &b));
    uint64_t na, nb;
    assert_ok(qlm_meta_str_array_len(a, QLM_K_TOK_TOKENS, &na));
    assert_ok(qlm_meta_str_array_len(b, QLM_K_TOK_TOKENS, &nb));
    assert_int_equal(na, 512);
    assert_int_equal(nb, na);
    for (uint64_t i = 0; i < na; i++) {
        const char *sa, *sb;
        size_t la, lb;
        assert_ok(qlm_meta_str_at(a, QLM_K_TOK_TOKENS, i, &sa, &la));
        assert_ok(qlm_meta_str_at(b, QLM_K_TOK_TOKENS, i, &sb, &lb));
        if (la != lb || memcmp(sa, sb, la))
            fail_msg("token %llu: '%.*s' vs '%.*s'", (unsigned long long)i, (int)la, sa, (int)lb, sb);
    }
    static const char *const arrays[] = {QLM_K_TOK_SCORES, QLM_K_TOK_TYPES};
    for (int k = 0; k < 2; k++) {
        qlm_meta_type ea, eb;
        const void *da, *db;
        assert_ok(qlm_meta_array(a, arrays[k], &ea, &na, &da));
        assert_ok(qlm_meta_array(b, arrays[k], &eb, &nb, &db));
        assert_int_equal(ea, eb);
        assert_int_equal(na, nb);
        assert_memory_equal(da, db, na * 4);
    }
    static const char *const ids[] = {QLM_K_TOK_BOS, QLM_K_TOK_EOS, QLM_K_TOK_UNK};
    for (int k = 0; k < 3; k++)
        assert_int_equal(qlm_meta_i64_or(a, ids[k], -2), qlm_meta_i64_or(b, ids[k], -3));
    qlm_file_close(a);
    qlm_file_close(b);
}

/* The same weights through two readers and two Q/K un-permutations. */
static void test_bin_equals_gguf(void **state)
{
    (void)state;
    for (size_t t = 0; t < 5; t++) {
        convert_to("bin", k_targets[t], tu_tmp("bin.qlm"));
        convert_to("f32", k_targets[t], tu_tmp("gguf.qlm"));
        assert_same_tensors(tu_tmp("bin.qlm"), tu_tmp("gguf.qlm"));
    }
    assert_same_vocab(tu_tmp("bin.qlm"), tu_tmp("gguf.qlm"));
    /* llama.cpp's f16/bf16 GGUFs round f32 to nearest-even, as qlm does */
    convert_to("bin", QLM_DT_F16, tu_tmp("bin.qlm"));
    convert_to("f16", QLM_DT_F16, tu_tmp("gguf.qlm"));
    assert_same_tensors(tu_tmp("bin.qlm"), tu_tmp("gguf.qlm"));
    convert_to("bin", QLM_DT_BF16, tu_tmp("bin.qlm"));
    convert_to("bf16", QLM_DT_BF16, tu_tmp("gguf.qlm"));
    assert_same_tensors(tu_tmp("bin.qlm"), tu_tmp("gguf.qlm"));
}

/* convert.h's dtype rules, re-derived: 1-D -> f32; rows not a multiple of 32
 * cannot be q8/q4 (f32 from f32, else f16); in q4 files token_embd/output are
 * q8 unless the source is already Q4_0. */
static qlm_dtype want_dtype(const char *name, uint32_t rank, uint64_t inner, qlm_dtype target, uint32_t ggml)
{
    bool quant = target == QLM_DT_Q8 || target == QLM_DT_Q4;
    if (rank == 1)
        return QLM_DT_F32;
    if (quant && inner % 32)
        return ggml == GGML_F32 ? QLM_DT_F32 : QLM_DT_F16;
    if (target == QLM_DT_Q4 && ggml != GGML_Q4_0 &&
        (!strcmp(name, "token_embd.weight") || !strcmp(name, "output.weight")))
        return QLM_DT_Q8;
    return target;
}

static void check_meta(const qlm_file *f, bool from_bin)
{
    const char *s;
    size_t len;
    assert_ok(qlm_meta_str(f, QLM_K_ARCH, &s, &len));
    assert_true(len == 5 && !memcmp(s, "llama", 5));
    assert_ok(qlm_meta_str(f, QLM_K_SOURCE, &s, &len));
    assert_true(from_bin ? len == 7 && !memcmp(s, "llama2c", 7) : len == 4 && !memcmp(s, "gguf", 4));
    assert_int_equal(qlm_meta_i64_or(f, QLM_K_CTX, 0), from_bin ? 512 : 128); /* each file's own value */
    assert_int_equal(qlm_meta_i64_or(f, QLM_K_DIM, 0), 64);
    assert_int_equal(qlm_meta_i64_or(f, QLM_K_LAYERS, 0), 5);
    assert_int_equal(qlm_meta_i64_or(f, QLM_K_FFN, 0), 172);
    assert_int_equal(qlm_meta_i64_or(f, QLM_K_HEADS, 0), 8);
    assert_int_equal(qlm_meta_i64_or(f, QLM_K_HEADS_KV, 0), 4);
    assert_int_equal(qlm_meta_i64_or(f, QLM_K_HEAD_DIM, 0), 8);
    assert_int_equal(qlm_meta_i64_or(f, QLM_K_VOCAB, 0), 512);
    assert_true(qlm_meta_f64_or(f, QLM_K_ROPE_THETA, 0) == 10000.0);
    assert_true(qlm_meta_f64_or(f, QLM_K_NORM_EPS, 0) == (from_bin ? 1e-5 : (double)1e-5f));
    assert_ok(qlm_meta_str(f, QLM_K_ROPE_SCALING, &s, &len));
    assert_true(len == 4 && !memcmp(s, "none", 4));
    /* the GGUFs carry output.weight; llama2.c's checkpoint shares it */
    assert_int_equal(qlm_meta_bool_or(f, QLM_K_TIED, !from_bin), from_bin);
    assert_false(qlm_meta_bool_or(f, QLM_K_ATTN_BIAS, true));
    assert_false(qlm_meta_bool_or(f, QLM_K_QK_NORM, true));
    assert_true(qlm_meta_has(f, QLM_K_TOK_TOKENS));
}

/* Every source x every target: dtypes, shapes and metadata. */
static void test_all_types(void **state)
{
    (void)state;
    gguf_file *ref;
    assert_ok(gguf_open(src_path("f32"), &ref));
    for (size_t s = 0; s < 6; s++) {
        bool from_bin = !strcmp(k_srcs[s], "bin");
        gguf_file *src = NULL;
        if (!from_bin)
            assert_ok(gguf_open(src_path(k_srcs[s]), &src));
        for (size_t t = 0; t < 5; t++) {
            convert_to(k_srcs[s], k_targets[t], tu_tmp("all.qlm"));
            qlm_file *f;
            assert_ok(qlm_file_open(tu_tmp("all.qlm"), &f));
            assert_ok(qlm_file_verify(f, NULL));
            check_meta(f, from_bin);
            assert_int_equal(qlm_file_n_tensors(f), from_bin ? 47 : 48);
            for (size_t i = 0; i < qlm_file_n_tensors(f); i++) {
                const qlm_tensor *q = qlm_file_tensor(f, i);
                const gguf_tensor *g = gguf_find_tensor(ref, q->name);
                if (!g)
                    fail_msg("unexpected tensor %s", q->name);
                assert_int_equal(q->rank, g->rank);
                assert_memory_equal(q->dims, g->dims, q->rank * sizeof q->dims[0]);
                uint32_t ggml = from_bin ? GGML_F32 : gguf_find_tensor(src, q->name)->ggml_type;
                qlm_dtype want = want_dtype(q->name, q->rank, q->dims[q->rank - 1], k_targets[t], ggml);
                if (q->dtype != want)
                    fail_msg("%s -> %s: %s stored as %u, want %u", k_srcs[s], k_target_names[t], q->name,
                             q->dtype, want);
            }
            qlm_file_close(f);
        }
        gguf_close(src);
    }
    gguf_close(ref);
}

/* GGUF row of qlm (Hugging Face order) row r of a Q/K matrix with head size hd. */
static uint64_t gguf_row(uint64_t r, uint64_t hd)
{
    uint64_t h = r / hd, k = r % hd, half = hd / 2;
    return h * hd + 2 * (k % half) + k / half;
}

static uint64_t qk_head_dim(const char *name)
{
    return strstr(name, "attn_q.weight") || strstr(name, "attn_k.weight") ? 8 : 0;
}

/* d * q for GGUF Q8_0 / Q4_0 blocks, straight from the block layout. */
static void gguf_dequant_row(const uint8_t *row, uint32_t ggml, uint64_t n, float *out)
{
    size_t bs = ggml == GGML_Q8_0 ? 34 : 18;
    for (uint64_t b = 0; b < n / 32; b++) {
        const uint8_t *blk = row + b * bs;
        float d = qlm_f16_to_f32((uint16_t)(blk[0] | blk[1] << 8));
        for (int i = 0; i < 32; i++) {
            int q = ggml == GGML_Q8_0 ? (int8_t)blk[2 + i]
                                      : (i < 16 ? (blk[2 + i] & 15) : (blk[2 + i - 16] >> 4)) - 8;
            out[b * 32 + (uint64_t)i] = d * (float)q;
        }
    }
}

/* Q8_0 -> q8 and Q4_0 -> q4 keep every block, rows only reordered for Q/K. */
static void check_lossless(const char *kind, qlm_dtype type)
{
    convert_to(kind, type, tu_tmp("lossless.qlm"));
    gguf_file *g;
    qlm_file *f;
    assert_ok(gguf_open(src_path(kind), &g));
    assert_ok(qlm_file_open(tu_tmp("lossless.qlm"), &f));
    size_t n_quant = 0;
    float *a = malloc(4096 * sizeof *a), *b = malloc(4096 * sizeof *b);
    for (size_t i = 0; i < gguf_n_tensors(g); i++) {
        const gguf_tensor *t = gguf_tensor_at(g, i);
        if (t->ggml_type != GGML_Q8_0 && t->ggml_type != GGML_Q4_0)
            continue;
        const qlm_tensor *q = qlm_file_find(f, t->name);
        assert_non_null(q);
        assert_int_equal(q->dtype, t->ggml_type == GGML_Q8_0 ? QLM_DT_Q8 : QLM_DT_Q4);
        assert_int_equal(q->nbytes, t->nbytes);
        uint64_t rows = t->dims[0], cols = t->dims[1], hd = qk_head_dim(t->name);
        size_t rb = (size_t)(t->nbytes / rows);
        assert_true(cols <= 4096);
        for (uint64_t r = 0; r < rows; r++) {
            const uint8_t *src = (const uint8_t *)t->data + (hd ? gguf_row(r, hd) : r) * rb;
            const uint8_t *dst = (const uint8_t *)q->data + r * rb;
            if (memcmp(src, dst, rb))
                fail_msg("%s %s row %llu: blocks differ", kind, t->name, (unsigned long long)r);
            gguf_dequant_row(src, t->ggml_type, cols, a);
            if (q->dtype == QLM_DT_Q8)
                qlm_dequantize_q8((const qlm_block_q8 *)dst, b, cols);
            else
                qlm_dequantize_q4((const qlm_block_q4 *)dst, b, cols);
            assert_memory_equal(a, b, cols * sizeof *a);
        }
        n_quant++;
    }
    assert_int_equal(n_quant, 32); /* 6 matrices per layer (ffn_down is F16), embedding, output */
    free(a);
    free(b);
    qlm_file_close(f);
    gguf_close(g);
}

static void test_lossless_q8(void **state)
{
    (void)state;
    check_lossless("q8_0", QLM_DT_Q8);
}

static void test_lossless_q4(void **state)
{
    (void)state;
    check_lossless("q4_0", QLM_DT_Q4);
}

/* The CLI path, and failures reported as one "qlm: " line with exit 1. */
static void test_cli(void **state)
{
    (void)state;
    char cmd[8192], *out;
    snprintf(cmd, sizeof cmd, "%s convert %s -o %s --type q4", tu_qlm_bin(), src_path("q4_0"), tu_tmp("cli.qlm"));
    if (tu_run(cmd, &out) != 0)
        fail_msg("%s: %s", cmd, out);
    free(out);
    size_t len;
    char *bin = tu_read(src_path("bin"), &len);
    FILE *fp = fopen(tu_tmp("cut.bin"), "wb");
    fwrite(bin, 1, len - 4, fp);
    fclose(fp);
    free(bin);
    snprintf(cmd, sizeof cmd, "%s convert %s --tokenizer %s -o %s", tu_qlm_bin(), tu_tmp("cut.bin"),
             tu_shared("models/stories260K/tok512.bin"), tu_tmp("cut.qlm"));
    assert_int_equal(tu_run(cmd, &out), 1);
    if (!strstr(out, "qlm: ") || !strstr(out, "implies"))
        fail_msg("unexpected message: %s", out);
    free(out);
    assert_int_equal(access(tu_tmp("cut.qlm"), F_OK), -1); /* nothing half-written */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bin_equals_gguf),
        cmocka_unit_test(test_all_types),
        cmocka_unit_test(test_lossless_q8),
        cmocka_unit_test(test_lossless_q4),
        cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
