/* `qlm convert --method rtn|rtn-mse|gptq` and `qlm quant-error --fake` on
 * stories260K, against independent truths:
 *  - --method rtn is byte for byte the default q4 conversion;
 *  - rtn-mse: every Q4 tensor's squared error against the f32 weights,
 *    recomputed here in double, is at most RTN's, and lower in total;
 *  - gptq: the same file for 1 and 2 threads; every 32-multiple linear weight
 *    is Q4, ffn_down (172 columns) stays f32, the model runs;
 *  - --fake q4: every 2-D weight equals dequantize(quantize_q4(f32)) exactly,
 *    the others and the metadata are unchanged;
 *  - usage errors exit 2, failures exit 1 with a message.
 * Calibration text: what the f32 model samples itself (fixed seeds). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/convert/emit_rows.h"
#include "formats/qlm/qlmfile.h"
#include "tests/common/testutil.h"

static char g_f32[1024], g_calib[1024];

static void ok(const char *fmt, const char *a, const char *b)
{
    char *out = NULL;
    int rc = tu_qlm(&out, fmt, a, b);
    if (rc != 0)
        fail_msg("exit %d: %s", rc, out);
    free(out);
}

/* stories260K as f32 (source) and as q4 under `extra` into out. */
static void convert(const char *out, const char *extra)
{
    char *o = NULL;
    int rc = tu_qlm(&o, "convert '%s' --tokenizer '%s' -o '%s' --quiet %s",
                 tu_shared("models/stories260K/stories260K.bin"), tu_shared("models/stories260K/tok512.bin"), out,
                 extra);
    if (rc != 0)
        fail_msg("convert %s: exit %d: %s", extra, rc, o);
    free(o);
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_f32, sizeof g_f32, "%s", tu_tmp("f32.qlm"));
    snprintf(g_calib, sizeof g_calib, "%s", tu_tmp("calib.txt"));
    convert(g_f32, "--type f32");
    FILE *f = fopen(g_calib, "w");
    assert_non_null(f);
    for (int seed = 1; seed <= 8; seed++) {
        char *o = NULL;
        int rc = tu_qlm(&o, "run -m '%s' -n 96 --seed %d --temp 1 --top-k 0 --top-p 1 --min-p 0 -t 1 2>/dev/null",
                     g_f32, seed);
        assert_int_equal(rc, 0);
        fprintf(f, "%s\n", o);
        free(o);
    }
    fclose(f);
    return 0;
}

static int same_file(const char *a, const char *b)
{
    size_t na, nb;
    char *x = tu_read(a, &na), *y = tu_read(b, &nb);
    int same = na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return same;
}

static float *as_f32(const qlm_tensor *t)
{
    qlm_src_type src;
    assert_true(qlm_src_type_of(t->dtype, &src));
    float *x = malloc(t->n_elems * sizeof *x);
    assert_non_null(x);
    qlm_src_to_f32(src, t->data, x, t->n_elems);
    return x;
}

static double sse(const float *a, const float *b, uint64_t n)
{
    double s = 0.0;
    for (uint64_t i = 0; i < n; i++)
        s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    return s;
}

static void test_rtn_and_rtn_mse(void **state)
{
    (void)state;
    char plain[1024], rtn[1024], mse[1024]; /* tu_tmp's buffers rotate */
    snprintf(plain, sizeof plain, "%s", tu_tmp("q4.qlm"));
    snprintf(rtn, sizeof rtn, "%s", tu_tmp("q4rtn.qlm"));
    snprintf(mse, sizeof mse, "%s", tu_tmp("q4mse.qlm"));
    convert(plain, "--type q4");
    convert(rtn, "--type q4 --method rtn");
    convert(mse, "--type q4 --method rtn-mse");
    assert_true(same_file(plain, rtn));
    qlm_file *fb, *fr, *fm;
    assert_ok(qlm_file_open(g_f32, &fb));
    assert_ok(qlm_file_open(rtn, &fr));
    assert_ok(qlm_file_open(mse, &fm));
    double tr = 0, tm = 0;
    int n_q4 = 0;
    for (size_t i = 0; i < qlm_file_n_tensors(fr); i++) {
        const qlm_tensor *r = qlm_file_tensor(fr, i), *m = qlm_file_find(fm, r->name), *b = qlm_file_find(fb, r->name);
        assert_non_null(m);
        assert_non_null(b);
        assert_int_equal(m->dtype, r->dtype);
        if (r->dtype != QLM_DT_Q4)
            continue;
        float *xb = as_f32(b), *xr = as_f32(r), *xm = as_f32(m);
        double er = sse(xb, xr, b->n_elems), em = sse(xb, xm, b->n_elems);
        assert_true(em <= er);
        tr += er;
        tm += em;
        n_q4++;
        free(xb);
        free(xr);
        free(xm);
    }
    printf("  %d Q4 tensors: squared error rtn %.5g, rtn-mse %.5g\n", n_q4, tr, tm);
    assert_int_equal(n_q4, 30); /* attn q/k/v/output, gate, up in 5 layers */
    assert_true(tm < 0.95 * tr);
    qlm_file_close(fb);
    qlm_file_close(fr);
    qlm_file_close(fm);
}

static void test_gptq(void **state)
{
    (void)state;
    char a[1024], b[1024];
    snprintf(a, sizeof a, "%s", tu_tmp("g1.qlm"));
    snprintf(b, sizeof b, "%s", tu_tmp("g2.qlm"));
    char extra[2048];
    snprintf(extra, sizeof extra, "--type q4 --method gptq --calib '%s' --calib-tokens 1024 --calib-ctx 128 "
                                  "--act-order --threads 1", g_calib);
    convert(a, extra);
    snprintf(extra, sizeof extra, "--type q4 --method gptq --calib '%s' --calib-tokens 1024 --calib-ctx 128 "
                                  "--act-order --threads 2", g_calib);
    convert(b, extra);
    assert_true(same_file(a, b));
    qlm_file *f;
    assert_ok(qlm_file_open(a, &f));
    static const char *const q4[] = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up"};
    for (int l = 0; l < 5; l++) {
        char name[64];
        for (int k = 0; k < 6; k++) {
            snprintf(name, sizeof name, "blk.%d.%s.weight", l, q4[k]);
            assert_int_equal(qlm_file_find(f, name)->dtype, QLM_DT_Q4);
        }
        snprintf(name, sizeof name, "blk.%d.ffn_down.weight", l);
        assert_int_equal(qlm_file_find(f, name)->dtype, QLM_DT_F32);
    }
    assert_int_equal(qlm_file_find(f, "token_embd.weight")->dtype, QLM_DT_Q8);
    qlm_file_close(f);
    ok("run -m '%s' -n 8 --seed 1 -p '%s' > /dev/null", a, "Once upon");
}

static void test_fake(void **state)
{
    (void)state;
    char out[1024];
    snprintf(out, sizeof out, "%s", tu_tmp("fake.qlm"));
    ok("quant-error '%s' --fake q4 -o '%s' 2>/dev/null", g_f32, out);
    qlm_file *fb, *ff;
    assert_ok(qlm_file_open(g_f32, &fb));
    assert_ok(qlm_file_open(out, &ff));
    assert_int_equal(qlm_meta_count(fb), qlm_meta_count(ff));
    assert_int_equal(qlm_file_n_tensors(fb), qlm_file_n_tensors(ff));
    for (size_t i = 0; i < qlm_file_n_tensors(fb); i++) {
        const qlm_tensor *b = qlm_file_tensor(fb, i), *t = qlm_file_find(ff, b->name);
        assert_non_null(t);
        assert_int_equal(t->dtype, QLM_DT_F32);
        if (b->rank != 2 || b->dims[1] % 32) {
            assert_memory_equal(t->data, b->data, b->nbytes);
            continue;
        }
        qlm_block_q4 *q = malloc(b->n_elems / 32 * sizeof *q);
        float *want = malloc(b->n_elems * sizeof *want);
        assert_non_null(q);
        assert_non_null(want);
        assert_ok(qlm_quantize_q4(b->data, q, b->n_elems));
        qlm_dequantize_q4(q, want, b->n_elems);
        assert_memory_equal(t->data, want, b->n_elems * sizeof *want);
        free(q);
        free(want);
    }
    const char *s;
    size_t n;
    assert_ok(qlm_meta_str(ff, "general.architecture", &s, &n));
    assert_int_equal(n, 5);
    qlm_file_close(fb);
    qlm_file_close(ff);
}

static void expect(int want_rc, const char *want_text, const char *fmt, const char *arg)
{
    char *out = NULL;
    int rc = tu_qlm(&out, fmt, arg, arg);
    if (rc != want_rc || !strstr(out, want_text))
        fail_msg("%s: exit %d (want %d), output: %s", fmt, rc, want_rc, out);
    free(out);
}

static void test_errors(void **state)
{
    (void)state;
    expect(0, "--method", "convert --help", "");
    expect(2, "--calib FILE", "convert x -o y.qlm --type q4 --method gptq", "");
    expect(2, "--type q4 only", "convert x -o y.qlm --type q8 --method rtn-mse", "");
    expect(2, "--method", "convert x -o y.qlm --type q4 --method best", "");
    expect(2, "need --method gptq", "convert x -o y.qlm --type q4 --calib-tokens 100", "");
    expect(2, "--damp", "convert x -o y.qlm --type q4 --method gptq --calib c --damp -1", "");
    char args[3000];
    snprintf(args, sizeof args, "convert '%s' --tokenizer '%s' -o '%s' --type q4 --method gptq --calib %%s",
             tu_shared("models/stories260K/stories260K.bin"), tu_shared("models/stories260K/tok512.bin"),
             tu_tmp("e.qlm"));
    expect(1, "qlm: --calib", args, "/nonexistent/calib.txt");
    const char *empty = tu_tmp("empty.txt");
    FILE *f = fopen(empty, "w");
    assert_non_null(f);
    fclose(f);
    expect(1, "calibration needs", args, empty);
    expect(2, "go together", "quant-error %s --fake q4", g_f32);
    expect(2, "one scheme", "quant-error %s --fake q5 -o x.qlm", g_f32);
    expect(2, "f32 or bf16", "quant-error %s --fake q4 -o x.qlm --store q8", g_f32);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rtn_and_rtn_mse),
        cmocka_unit_test(test_gptq),
        cmocka_unit_test(test_fake),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
