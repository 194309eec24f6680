/* qlm quant-error (formats/quant/analysis.h) against independent double-precision
 * code written here:
 *  - FP8 rounding: nearest of the enumerated finite codes, ties to the even code;
 *  - fake quantization + metrics: scales, rounding and sums recomputed in double;
 *  - matmul error: X.W^T and Xq.Wq^T in double;
 *  - the CLI's JSON totals on stories260K against the same double code. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/common/json.h"
#include "formats/qlm/qlmfile.h"
#include "formats/quant/analysis.h"
#include "tests/common/testutil.h"

static uint64_t g_rng = 0x243F6A8885A308D3ull;

static double rnd(void) /* uniform in [-1, 1) */
{
    g_rng = g_rng * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(g_rng >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}

/* Value of positive FP8 code c (NaN for codes that are not finite numbers). */
static double fp8_value(int c, int mbits, int ebits)
{
    int bias = (1 << (ebits - 1)) - 1, e = c >> mbits, m = c & ((1 << mbits) - 1);
    if (mbits == 3 && c == 0x7F)
        return NAN; /* E4M3: S.1111.111 is NaN, the rest of the top binade is finite */
    if (mbits == 2 && e == 31)
        return NAN; /* E5M2: IEEE-style inf/NaN */
    if (e == 0)
        return ldexp(m, 1 - bias - mbits);
    return ldexp((1 << mbits) + m, e - bias - mbits);
}

static double ref_fp8(double x, int mbits, int ebits)
{
    double a = fabs(x), best = 0.0, bestd = INFINITY;
    for (int c = 0; c < 128; c++) {
        double v = fp8_value(c, mbits, ebits);
        if (isnan(v))
            continue;
        double d = fabs(v - a);
        if (d < bestd || (d == bestd && !(c & 1))) {
            bestd = d;
            best = v;
        }
    }
    return copysign(best, x);
}

static void check_fp8(float (*f)(float), int mbits, int ebits)
{
    /* every midpoint between neighbouring codes (ties), every code, random values */
    for (int c = 0; c < 127; c++) {
        double v0 = fp8_value(c, mbits, ebits), v1 = fp8_value(c + 1, mbits, ebits);
        if (isnan(v0) || isnan(v1))
            continue;
        double pts[3] = {v0, (v0 + v1) / 2, v0 + (v1 - v0) * 0.3};
        for (int k = 0; k < 3; k++)
            for (int sg = -1; sg <= 1; sg += 2) {
                float x = (float)(sg * pts[k]);
                assert_true((double)f(x) == ref_fp8(x, mbits, ebits));
            }
    }
    for (int i = 0; i < 20000; i++) {
        float x = (float)ldexp(rnd(), (int)(rnd() * 24));
        assert_true((double)f(x) == ref_fp8(x, mbits, ebits));
    }
    double max = mbits == 3 ? 448.0 : 57344.0;
    assert_true(f((float)(max * 1e3)) == (float)max && f((float)(-max * 1.2)) == (float)-max);
    assert_true(isnan(f(NAN)));
}

static void test_fp8_e4m3(void **state)
{
    (void)state;
    check_fp8(qe_fp8_e4m3, 3, 4);
}

static void test_fp8_e5m2(void **state)
{
    (void)state;
    check_fp8(qe_fp8_e5m2, 2, 5);
}

/* ---- double-precision fake quantization ---- */
static double ref_q(qe_kind k, double v)
{
    switch (k) {
    case QE_INT8: return fmin(fmax(nearbyint(v), -127), 127);
    case QE_INT4: return fmin(fmax(nearbyint(v), -8), 7);
    case QE_FP8_E4M3: return ref_fp8(v, 3, 4);
    default: return ref_fp8(v, 2, 5);
    }
}

static double qmax(qe_kind k)
{
    return k == QE_INT8 ? 127 : k == QE_INT4 ? 7 : k == QE_FP8_E4M3 ? 448 : 57344;
}

static void ref_fake(qe_scheme s, const float *x, double *out, size_t rows, size_t cols)
{
    size_t g = s.group == QE_PER_TENSOR ? rows * cols : s.group == QE_PER_ROW ? cols : (size_t)s.group;
    size_t span = s.group == QE_PER_TENSOR ? rows * cols : cols; /* groups never cross a span */
    for (size_t base = 0; base < rows * cols; base += span)
        for (size_t c = 0; c < span; c += g) {
            size_t len = span - c < g ? span - c : g;
            double am = 0;
            for (size_t i = 0; i < len; i++)
                am = fmax(am, fabs(x[base + c + i]));
            double sc = am / qmax(s.kind);
            for (size_t i = 0; i < len; i++)
                out[base + c + i] = sc == 0 ? 0 : ref_q(s.kind, x[base + c + i] / sc) * sc;
        }
}

static void close_rel(double got, double want, double tol)
{
    if (!(fabs(got - want) <= tol * fabs(want))) {
        fail_msg("got %.10g want %.10g", got, want);
    }
}

static void test_fake_quant_metrics(void **state)
{
    (void)state;
    enum { R = 24, C = 200 };
    float *x = malloc(R * C * sizeof *x), *xq = malloc(R * C * sizeof *xq);
    double *ref = malloc(R * C * sizeof *ref);
    for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++) {
            double v = rnd() * pow(10.0, (r % 5) - 2); /* rows of different magnitude */
            x[r * C + c] = (float)(c == 7 ? 9 * v : v); /* an outlier column */
        }
    for (int r = 0; r < C; r++)
        x[3 * C + r] = 0; /* an all-zero row is exact */
    const qe_scheme schemes[] = {{QE_INT8, QE_PER_TENSOR}, {QE_INT8, QE_PER_ROW}, {QE_INT8, 64},
                                 {QE_FP8_E4M3, QE_PER_TENSOR}, {QE_FP8_E4M3, 128}, {QE_FP8_E5M2, QE_PER_ROW},
                                 {QE_INT4, QE_PER_ROW}, {QE_INT4, 128}};
    for (size_t k = 0; k < sizeof schemes / sizeof *schemes; k++) {
        assert_ok(qe_fake_quant(schemes[k], x, xq, R, C));
        ref_fake(schemes[k], x, ref, R, C);
        qe_stats st = {0};
        qe_stats_add(&st, x, xq, R * C);
        double sse = 0, ssr = 0, mx = 0;
        for (int i = 0; i < R * C; i++) {
            double d = x[i] - ref[i];
            sse += d * d;
            ssr += (double)x[i] * x[i];
            mx = fmax(mx, fabs(d));
        }
        close_rel(qe_rmse(&st), sqrt(sse / (R * C)), 1e-4);
        close_rel(qe_rel_frob(&st), sqrt(sse / ssr), 1e-4);
        close_rel(qe_snr_db(&st), 10 * log10(ssr / sse), 1e-5);
        close_rel(st.max_abs, mx, 1e-4);
        for (int i = 0; i < C; i++)
            assert_true(xq[3 * C + i] == 0.0f);
    }
    /* Q8/Q4 need whole blocks; non-finite input is named */
    assert_status(qe_fake_quant((qe_scheme){QE_Q4, 0}, x, xq, R, C), QLM_E_SHAPE);
    x[5] = NAN;
    assert_status(qe_fake_quant((qe_scheme){QE_INT8, QE_PER_ROW}, x, xq, R, C), QLM_E_VALUE);
    free(x);
    free(xq);
    free(ref);
}

static void test_scheme_names(void **state)
{
    (void)state;
    size_t n;
    const qe_scheme *d = qe_default_schemes(&n);
    for (size_t i = 0; i < n; i++) {
        char buf[64];
        qe_scheme s;
        assert_true(qe_scheme_parse(qe_scheme_name(d[i], buf, sizeof buf), &s));
        assert_int_equal(s.kind, d[i].kind);
        if (s.kind != QE_Q8 && s.kind != QE_Q4)
            assert_int_equal(s.group, d[i].group);
    }
    qe_scheme s;
    assert_false(qe_scheme_parse("int8-g0", &s));
    assert_false(qe_scheme_parse("int8-", &s));
    assert_false(qe_scheme_parse("q4-row", &s));
    assert_false(qe_scheme_parse("fp16-row", &s));
}

static void test_matmul_error(void **state)
{
    (void)state;
    enum { M = 9, K = 96, N = 13 };
    float x[M * K], w[N * K];
    double xr[M * K], wr[N * K];
    for (int i = 0; i < M * K; i++)
        x[i] = (float)rnd();
    for (int i = 0; i < N * K; i++)
        w[i] = (float)(rnd() * 0.1);
    const qe_scheme schemes[] = {{QE_INT8, QE_PER_ROW}, {QE_FP8_E4M3, QE_PER_TENSOR}, {QE_INT4, 32}};
    for (int k = 0; k < 3; k++)
        for (int qx = 0; qx <= 1; qx++) {
            double got;
            assert_ok(qe_matmul_error_xw(schemes[k], qx, x, w, M, K, N, &got));
            ref_fake(schemes[k], w, wr, N, K);
            if (qx)
                ref_fake(schemes[k], x, xr, M, K);
            else
                for (int i = 0; i < M * K; i++)
                    xr[i] = x[i];
            double sse = 0, ssr = 0;
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++) {
                    double y = 0, yq = 0;
                    for (int l = 0; l < K; l++) {
                        y += (double)x[i * K + l] * w[j * K + l];
                        yq += xr[i * K + l] * wr[j * K + l];
                    }
                    sse += (y - yq) * (y - yq);
                    ssr += y * y;
                }
            close_rel(got, sqrt(sse / ssr), 1e-3);
        }
}

/* The CLI totals for stories260K, pooled over every 2-D tensor, in double. */
static void test_cli_stories(void **state)
{
    (void)state;
    const char *model = tu_tmp("qe-stories.qlm");
    char *out;
    int rc = tu_qlm(&out, "convert '%s' -o '%s' --type f32",
                 tu_shared("models/stories260K/stories260K-f32.gguf"), model);
    assert_int_equal(rc, 0);
    free(out);
    rc = tu_qlm(&out, "quant-error '%s' --json --schemes int8-row,fp8e4m3-tensor,int4-g128 2>/dev/null", model);
    assert_int_equal(rc, 0);
    json_doc *doc;
    assert_ok(json_parse(out, strlen(out), &doc));
    const json_value *sch = json_get(json_root(doc), "schemes");
    const qe_scheme schemes[] = {{QE_INT8, QE_PER_ROW}, {QE_FP8_E4M3, QE_PER_TENSOR}, {QE_INT4, 128}};
    qlm_file *f;
    assert_ok(qlm_file_open(model, &f));
    for (int k = 0; k < 3; k++) {
        double sse = 0, ssr = 0;
        for (size_t i = 0; i < qlm_file_n_tensors(f); i++) {
            const qlm_tensor *t = qlm_file_tensor(f, i);
            if (t->rank != 2)
                continue;
            assert_int_equal(t->dtype, QLM_DT_F32);
            double *r = malloc(t->n_elems * sizeof *r);
            ref_fake(schemes[k], t->data, r, t->dims[0], t->dims[1]);
            for (uint64_t j = 0; j < t->n_elems; j++) {
                double v = ((const float *)t->data)[j];
                sse += (v - r[j]) * (v - r[j]);
                ssr += v * v;
            }
            free(r);
        }
        const json_value *tot = json_get(json_at(sch, (size_t)k), "total");
        close_rel(json_get_f64(tot, "rel_frob", -1), sqrt(sse / ssr), 1e-4);
        close_rel(json_get_f64(tot, "snr_db", -1), 10 * log10(ssr / sse), 1e-5);
    }
    qlm_file_close(f);
    json_free(doc);
    free(out);
}

static void test_cli_errors(void **state)
{
    (void)state;
    char *out;
    assert_int_equal(tu_qlm(&out, "quant-error --bogus"), 2);
    free(out);
    assert_int_equal(tu_qlm(&out, "quant-error x.qlm --schemes int9-row"), 2);
    free(out);
    assert_int_equal(tu_qlm(&out, "quant-error --matmul 4,0,4"), 2);
    free(out);
    assert_int_equal(tu_qlm(&out, "quant-error '%s'", tu_tmp("no-such.qlm")), 1);
    assert_non_null(strstr(out, "qlm: "));
    free(out);
    assert_int_equal(tu_qlm(&out, "quant-error --matmul 8,64,8 --quant-x --schemes int8-row"), 0);
    assert_non_null(strstr(out, "int8-row"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fp8_e4m3),       cmocka_unit_test(test_fp8_e5m2),
        cmocka_unit_test(test_fake_quant_metrics), cmocka_unit_test(test_scheme_names),
        cmocka_unit_test(test_matmul_error),   cmocka_unit_test(test_cli_stories),
        cmocka_unit_test(test_cli_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
