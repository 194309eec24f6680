/* The conversion emitter: dtype rules, --keep globs, lossless Q8_0/Q4_0 block
 * copies, exact widening, error paths. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/common/half.h"
#include "formats/convert/emitter.h"
#include "formats/quant/quant.h"
#include "tests/common/testutil.h"

static void test_glob(void **state)
{
    (void)state;
    assert_true(qlm_glob_match("blk.*.ffn_down.weight", "blk.12.ffn_down.weight"));
    assert_false(qlm_glob_match("blk.*.ffn_down.weight", "blk.12.ffn_up.weight"));
    assert_true(qlm_glob_match("blk.?.attn_q.weight", "blk.3.attn_q.weight"));
    assert_false(qlm_glob_match("blk.?.attn_q.weight", "blk.13.attn_q.weight"));
    assert_true(qlm_glob_match("*", "anything"));
    assert_true(qlm_glob_match("*", ""));
    assert_true(qlm_glob_match("a*b*c", "axxbyybc"));
    assert_false(qlm_glob_match("a*b*c", "axxbyybcd"));
    assert_true(qlm_glob_match("*.weight", "output.weight"));
    assert_false(qlm_glob_match("output.weight", "output.weights"));
    assert_false(qlm_glob_match("output.weight", "output.weigh"));
}

static void test_choose(void **state)
{
    (void)state;
    qlm_keep_rule keep[2] = {{"blk.0.*", QLM_DT_BF16}, {"*.ffn_*", QLM_DT_Q8}};
    qlm_convert_opts o = {.type = QLM_DT_Q4, .keep = keep, .n_keep = 2};
    uint64_t d2[2] = {64, 128}, d1[1] = {64}, odd[2] = {64, 172};
    bool note;
    assert_int_equal(qlm_emit_choose(&o, "blk.1.attn_q.weight", 2, d2, SRC_BF16, &note), QLM_DT_Q4);
    assert_false(note);
    assert_int_equal(qlm_emit_choose(&o, "blk.1.attn_norm.weight", 1, d1, SRC_BF16, &note), QLM_DT_F32);
    assert_int_equal(qlm_emit_choose(&o, "blk.0.ffn_up.weight", 2, d2, SRC_BF16, &note), QLM_DT_BF16);
    assert_int_equal(qlm_emit_choose(&o, "blk.1.ffn_up.weight", 2, d2, SRC_BF16, &note), QLM_DT_Q8);
    assert_int_equal(qlm_emit_choose(&o, "token_embd.weight", 2, d2, SRC_BF16, &note), QLM_DT_Q8);
    assert_int_equal(qlm_emit_choose(&o, "output.weight", 2, d2, SRC_F32, &note), QLM_DT_Q8);
    assert_int_equal(qlm_emit_choose(&o, "token_embd.weight", 2, d2, SRC_Q4_0, &note), QLM_DT_Q4);
    /* an int4 checkpoint's tensors stay w4a16 unless a --keep rule says otherwise */
    assert_int_equal(qlm_emit_choose(&o, "blk.1.attn_q.weight", 2, d2, SRC_W4A16, &note), QLM_DT_W4A16);
    assert_int_equal(qlm_emit_choose(&o, "blk.0.attn_q.weight", 2, d2, SRC_W4A16, &note), QLM_DT_BF16);
    assert_int_equal(qlm_emit_choose(&o, "blk.1.attn_k.weight", 2, odd, SRC_BF16, &note), QLM_DT_F16);
    assert_true(note);
    assert_int_equal(qlm_emit_choose(&o, "blk.1.attn_k.weight", 2, odd, SRC_F32, &note), QLM_DT_F32);
    assert_true(note);
    o.type = QLM_DT_Q8;
    assert_int_equal(qlm_emit_choose(&o, "token_embd.weight", 2, d2, SRC_BF16, &note), QLM_DT_Q8);
    o.type = QLM_DT_F16;
    assert_int_equal(qlm_emit_choose(&o, "output.weight", 2, d2, SRC_BF16, &note), QLM_DT_F16);
    keep[0] = (qlm_keep_rule){"output_norm.weight", QLM_DT_BF16};
    assert_int_equal(qlm_emit_choose(&o, "output_norm.weight", 1, d1, SRC_F32, &note), QLM_DT_BF16);
}

/* 4 x 64 values of mixed magnitude, deterministic. */
static void fill(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)sin((double)i * 0.37) * (float)(1 + i % 7);
}

typedef struct {
    qlm_writer *w;
    qlm_emitter *e;
    qlm_convert_opts o;
} session;

static void begin(session *s, const char *path, qlm_dtype type, int threads)
{
    memset(s, 0, sizeof *s);
    s->o.type = type;
    s->o.quiet = true;
    s->o.threads = threads;
    assert_ok(qlm_writer_open(path, &s->w));
    assert_ok(qlm_emitter_new(s->w, &s->o, &s->e));
}

static qlm_file *end(session *s, const char *path)
{
    assert_ok(qlm_emitter_check_done(s->e));
    qlm_emitter_free(s->e);
    assert_ok(qlm_writer_finish(s->w));
    qlm_file *f;
    assert_ok(qlm_file_open(path, &f));
    return f;
}

/* Q8_0/Q4_0 sources: copied block for block into the same type, widened
 * exactly into f32. */
static void test_quant_sources(void **state)
{
    (void)state;
    float x[256], y[256];
    qlm_block_q8 q8[8];
    qlm_block_q4 q4[8];
    fill(x, 256);
    assert_ok(qlm_quantize_q8(x, q8, 256));
    assert_ok(qlm_quantize_q4(x, q4, 256));
    uint64_t dims[2] = {4, 64};
    const char *path = tu_tmp("emit_q.qlm");
    session s;
    begin(&s, path, QLM_DT_Q4, 2);
    qlm_dtype t;
    assert_ok(qlm_emit_declare(s.e, "a8", 2, dims, SRC_Q8_0, &t));
    assert_int_equal(t, QLM_DT_Q4);
    assert_ok(qlm_emit_declare(s.e, "b4", 2, dims, SRC_Q4_0, &t));
    assert_ok(qlm_emit_declare(s.e, "token_embd.weight", 2, dims, SRC_Q4_0, &t));
    assert_ok(qlm_emit_declare(s.e, "output.weight", 2, dims, SRC_Q8_0, &t));
    assert_int_equal(t, QLM_DT_Q8);
    s.o.keep = &(qlm_keep_rule){"c*", QLM_DT_F32};
    s.o.n_keep = 1;
    assert_ok(qlm_emit_declare(s.e, "c8", 2, dims, SRC_Q8_0, &t));
    assert_ok(qlm_emit_declare(s.e, "c4", 2, dims, SRC_Q4_0, &t));
    assert_ok(qlm_emit_data(s.e, "a8", q8, sizeof q8));
    assert_ok(qlm_emit_data(s.e, "b4", q4, sizeof q4));
    assert_ok(qlm_emit_data(s.e, "token_embd.weight", q4, sizeof q4));
    assert_ok(qlm_emit_data(s.e, "output.weight", q8, sizeof q8));
    assert_ok(qlm_emit_data(s.e, "c8", q8, sizeof q8));
    assert_ok(qlm_emit_data(s.e, "c4", q4, sizeof q4));
    qlm_file *f = end(&s, path);
    assert_memory_equal(qlm_file_find(f, "b4")->data, q4, sizeof q4);
    assert_memory_equal(qlm_file_find(f, "token_embd.weight")->data, q4, sizeof q4);
    assert_memory_equal(qlm_file_find(f, "output.weight")->data, q8, sizeof q8);
    qlm_dequantize_q8(q8, y, 256); /* a8: Q8_0 -> q4 requantizes the exact dequantization */
    qlm_block_q4 rq[8];
    assert_ok(qlm_quantize_q4(y, rq, 256));
    assert_memory_equal(qlm_file_find(f, "a8")->data, rq, sizeof rq);
    assert_memory_equal(qlm_file_find(f, "c8")->data, y, sizeof y);
    qlm_dequantize_q4(q4, y, 256);
    assert_memory_equal(qlm_file_find(f, "c4")->data, y, sizeof y);
    qlm_file_close(f);
}

/* f32 -> f16/bf16 round to nearest even; results do not depend on threads. */
static void test_float_targets(void **state)
{
    (void)state;
    float x[4096];
    fill(x, 4096);
    uint64_t dims[2] = {64, 64};
    const char *paths[2] = {tu_tmp("emit_t1.qlm"), tu_tmp("emit_t2.qlm")};
    qlm_file *f[2];
    for (int k = 0; k < 2; k++) {
        session s;
        begin(&s, paths[k], QLM_DT_F16, k + 1);
        s.o.keep = &(qlm_keep_rule){"b", QLM_DT_BF16};
        s.o.n_keep = 1;
        assert_ok(qlm_emit_declare(s.e, "a", 2, dims, SRC_F32, NULL));
        assert_ok(qlm_emit_declare(s.e, "b", 2, dims, SRC_F32, NULL));
        assert_ok(qlm_emit_declare(s.e, "q", 2, dims, SRC_F32, NULL));
        s.o.type = QLM_DT_Q8; /* rules are read at declare time */
        assert_ok(qlm_emit_declare(s.e, "r", 2, dims, SRC_F32, NULL));
        assert_ok(qlm_emit_data(s.e, "a", x, sizeof x));
        assert_ok(qlm_emit_data(s.e, "b", x, sizeof x));
        assert_ok(qlm_emit_data(s.e, "q", x, sizeof x));
        assert_ok(qlm_emit_data(s.e, "r", x, sizeof x));
        f[k] = end(&s, paths[k]);
    }
    const uint16_t *a = qlm_file_find(f[0], "a")->data, *b = qlm_file_find(f[0], "b")->data;
    for (int i = 0; i < 4096; i++) {
        assert_int_equal(a[i], qlm_f32_to_f16(x[i]));
        assert_int_equal(b[i], qlm_f32_to_bf16(x[i]));
    }
    for (size_t i = 0; i < qlm_file_n_tensors(f[0]); i++) {
        const qlm_tensor *t0 = qlm_file_tensor(f[0], i), *t1 = qlm_file_find(f[1], t0->name);
        assert_int_equal(t0->nbytes, t1->nbytes);
        assert_memory_equal(t0->data, t1->data, t0->nbytes);
    }
    qlm_file_close(f[0]);
    qlm_file_close(f[1]);
}

static void test_errors(void **state)
{
    (void)state;
    float x[128];
    fill(x, 128);
    uint64_t dims[2] = {2, 64}, bad[2] = {2, 48}, zero[2] = {0, 64};
    const char *path = tu_tmp("emit_err.qlm");
    session s;
    begin(&s, path, QLM_DT_Q8, 2);
    assert_status(qlm_emit_declare(s.e, "z", 2, zero, SRC_F32, NULL), QLM_E_SHAPE);
    assert_status(qlm_emit_declare(s.e, "z", 2, bad, SRC_Q8_0, NULL), QLM_E_SHAPE);
    assert_ok(qlm_emit_declare(s.e, "a", 2, dims, SRC_F32, NULL));
    assert_ok(qlm_emit_declare(s.e, "b", 2, dims, SRC_F32, NULL));
    assert_ok(qlm_emit_declare(s.e, "c", 2, dims, SRC_F32, NULL));
    assert_status(qlm_emit_data(s.e, "b", x, sizeof x), QLM_E_ARG); /* out of order */
    assert_status(qlm_emit_data(s.e, "a", x, sizeof x - 4), QLM_E_SIZE);
    assert_ok(qlm_emit_data(s.e, "a", x, sizeof x));
    assert_status(qlm_emit_declare(s.e, "late", 2, dims, SRC_F32, NULL), QLM_E_ARG);
    x[64 + 5] = NAN;
    assert_status(qlm_emit_data(s.e, "b", x, sizeof x), QLM_E_VALUE);
    assert_non_null(strstr(qlm_errmsg(), "tensor 'b' row 1"));
    assert_non_null(strstr(qlm_errmsg(), "element 5"));
    assert_status(qlm_emitter_check_done(s.e), QLM_E_MISSING);
    qlm_emitter_free(s.e);
    qlm_writer_abort(s.w);

    begin(&s, path, QLM_DT_F16, 1);
    fill(x, 128);
    x[3] = 1e6f;
    assert_ok(qlm_emit_declare(s.e, "a", 2, dims, SRC_F32, NULL));
    assert_status(qlm_emit_data(s.e, "a", x, sizeof x), QLM_E_VALUE);
    assert_non_null(strstr(qlm_errmsg(), "overflows f16"));
    qlm_emitter_free(s.e);
    qlm_writer_abort(s.w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_glob),          cmocka_unit_test(test_choose),
        cmocka_unit_test(test_quant_sources), cmocka_unit_test(test_float_targets),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
