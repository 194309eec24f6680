/* GPTQ (formats/quant/gptq.h) and the rtn-mse scale search (quant.h) against
 * independent truths:
 *  - Cholesky: L L^T recomputed in double equals the input;
 *  - a diagonal Hessian leaves nothing to compensate: GPTQ must give exactly
 *    the blocks of the plain quantizer (RTN or rtn-mse), with act-order too;
 *  - on correlated inputs X, ||(W - Wq) X||^2 computed directly here is lower
 *    for GPTQ than for RTN, and equals qlm_gptq_objective;
 *  - identical blocks for 1 and 3 threads;
 *  - singular H: damping grows until the factorization works;
 *  - rtn-mse: no block worse than RTN, the total clearly better. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/quant/gptq.h"
#include "tests/common/testutil.h"

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;

static double rnd(void) /* uniform in [-1, 1) */
{
    g_rng = g_rng * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(g_rng >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}

static float *rand_weights(int64_t rows, int64_t cols)
{
    float *w = malloc((size_t)(rows * cols) * sizeof *w);
    assert_non_null(w);
    for (int64_t i = 0; i < rows * cols; i++)
        w[i] = (float)(0.05 * rnd() * (i % 97 == 0 ? 6.0 : 1.0)); /* a few outliers */
    return w;
}

/* X[cols][n] with strongly correlated rows: each input mixes the previous
 * ones, as features of real activations do; H = X X^T. */
static double *correlated_x(int64_t cols, int64_t n)
{
    double *x = malloc((size_t)(cols * n) * sizeof *x);
    assert_non_null(x);
    for (int64_t t = 0; t < n; t++) {
        double carry = 0.0;
        for (int64_t i = 0; i < cols; i++) {
            carry = 0.8 * carry + rnd();
            x[i * n + t] = carry * (1.0 + (double)(i % 5));
        }
    }
    return x;
}

static double *gram(const double *x, int64_t cols, int64_t n)
{
    double *h = calloc((size_t)(cols * cols), sizeof *h);
    assert_non_null(h);
    for (int64_t i = 0; i < cols; i++)
        for (int64_t j = 0; j < cols; j++)
            for (int64_t t = 0; t < n; t++)
                h[i * cols + j] += x[i * n + t] * x[j * n + t];
    return h;
}

/* ||(W - Wq) X||_F^2 directly. */
static double output_error(const float *w, const qlm_block_q4 *q, const double *x, int64_t rows, int64_t cols,
                           int64_t n)
{
    float *dq = malloc((size_t)cols * sizeof *dq);
    assert_non_null(dq);
    double total = 0.0;
    for (int64_t r = 0; r < rows; r++) {
        qlm_dequantize_q4(q + r * (cols / 32), dq, (size_t)cols);
        for (int64_t t = 0; t < n; t++) {
            double y = 0.0;
            for (int64_t i = 0; i < cols; i++)
                y += ((double)w[r * cols + i] - (double)dq[i]) * x[i * n + t];
            total += y * y;
        }
    }
    free(dq);
    return total;
}

static void test_cholesky_reconstructs(void **state)
{
    (void)state;
    enum { N = 48 };
    static double b[N * N], a[N * N], l[N * N];
    for (int i = 0; i < N * N; i++)
        b[i] = rnd();
    double amax = 0.0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            double s = i == j ? 0.5 : 0.0;
            for (int k = 0; k < N; k++)
                s += b[i * N + k] * b[j * N + k];
            a[i * N + j] = s;
            amax = fmax(amax, fabs(s));
        }
    assert_ok(qlm_cholesky(a, l, N));
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            if (j > i)
                assert_true(l[i * N + j] == 0.0);
            double s = 0.0;
            for (int k = 0; k < N; k++)
                s += l[i * N + k] * l[j * N + k];
            assert_true(fabs(s - a[i * N + j]) <= 1e-12 * amax);
        }
    /* rank 3: not positive definite */
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            double s = 0.0;
            for (int k = 0; k < 3; k++)
                s += b[i * N + k] * b[j * N + k];
            a[i * N + j] = s;
        }
    assert_status(qlm_cholesky(a, l, N), QLM_E_VALUE);
}

static void diagonal_case(qlm_q4_method m, bool act_order)
{
    enum { R = 24, C = 128 };
    float *w = rand_weights(R, C);
    static double h[C * C];
    memset(h, 0, sizeof h);
    for (int i = 0; i < C; i++)
        h[i * C + i] = 0.5 + (rnd() + 1.0); /* distinct: act-order permutes */
    qlm_block_q4 got[R * C / 32], want[R * C / 32];
    qlm_gptq_opts o = {.damp = 0.01, .act_order = act_order, .scale = m, .quiet = true};
    assert_ok(qlm_gptq_q4(w, R, C, h, &o, got, NULL));
    assert_ok(qlm_quantize_q4_method(w, want, R * C, m));
    assert_memory_equal(got, want, sizeof got);
    free(w);
}

static void test_diagonal_hessian_is_rtn(void **state)
{
    (void)state;
    diagonal_case(QLM_Q4_RTN, false);
    diagonal_case(QLM_Q4_RTN, true);
    diagonal_case(QLM_Q4_RTN_MSE, false);
    diagonal_case(QLM_Q4_RTN_MSE, true);
}

static void correlated_case(bool act_order, qlm_q4_method m)
{
    enum { R = 32, C = 128, N = 512 };
    float *w = rand_weights(R, C);
    double *x = correlated_x(C, N), *h = gram(x, C, N);
    qlm_block_q4 *g = malloc(R * C / 32 * sizeof *g), *r = malloc(R * C / 32 * sizeof *r);
    assert_non_null(g);
    assert_non_null(r);
    qlm_gptq_opts o = {.damp = 0.01, .act_order = act_order, .scale = m, .quiet = true};
    assert_ok(qlm_gptq_q4(w, R, C, h, &o, g, NULL));
    assert_ok(qlm_quantize_q4(w, r, R * C));
    double eg = output_error(w, g, x, R, C, N), er = output_error(w, r, x, R, C, N);
    printf("  act_order %d, %s scales: ||(W-Wq)X||^2 gptq %.4g, rtn %.4g (ratio %.3f)\n", act_order,
           m == QLM_Q4_RTN ? "rtn" : "rtn-mse", eg, er, eg / er);
    assert_true(eg < 0.7 * er);
    double obj = qlm_gptq_objective(w, g, R, C, h);
    assert_true(fabs(obj - eg) <= 1e-9 * eg);
    free(w);
    free(x);
    free(h);
    free(g);
    free(r);
}

static void test_correlated_beats_rtn(void **state)
{
    (void)state;
    correlated_case(false, QLM_Q4_RTN);
    correlated_case(true, QLM_Q4_RTN);
    correlated_case(true, QLM_Q4_RTN_MSE);
}

static void test_threads_identical(void **state)
{
    (void)state;
    enum { R = 40, C = 96, N = 200 };
    float *w = rand_weights(R, C);
    double *x = correlated_x(C, N), *h = gram(x, C, N);
    qlm_block_q4 a[R * C / 32], b[R * C / 32];
    qlm_gptq_opts o = {.damp = 0.01, .act_order = true, .scale = QLM_Q4_RTN_MSE, .threads = 1, .quiet = true};
    assert_ok(qlm_gptq_q4(w, R, C, h, &o, a, NULL));
    o.threads = 3;
    assert_ok(qlm_gptq_q4(w, R, C, h, &o, b, NULL));
    assert_memory_equal(a, b, sizeof a);
    free(w);
    free(x);
    free(h);
}

/* Rank-deficient H with no damping: the factorization fails, the damping
 * grows, and the result still beats RTN on the inputs seen. A dead input
 * (always 0) gets weight 0. */
static void test_singular_hessian(void **state)
{
    (void)state;
    enum { R = 16, C = 64, N = 20 };
    float *w = rand_weights(R, C);
    double *x = correlated_x(C, N);
    for (int t = 0; t < N; t++)
        x[5 * N + t] = 0.0; /* input 5 is dead */
    double *h = gram(x, C, N);
    qlm_block_q4 g[R * C / 32], r[R * C / 32];
    qlm_gptq_opts o = {.damp = 0.0, .scale = QLM_Q4_RTN, .quiet = true};
    double used = -1;
    assert_ok(qlm_gptq_q4(w, R, C, h, &o, g, &used));
    assert_true(used > 0.0);
    assert_ok(qlm_quantize_q4(w, r, R * C));
    assert_true(output_error(w, g, x, R, C, N) < output_error(w, r, x, R, C, N));
    float dq[C];
    for (int row = 0; row < R; row++) {
        qlm_dequantize_q4(g + row * (C / 32), dq, C);
        assert_true(dq[5] == 0.0f);
    }
    free(w);
    free(x);
    free(h);
}

static void test_bad_input(void **state)
{
    (void)state;
    float w[2 * 48] = {0};
    double h[48 * 48] = {0};
    qlm_block_q4 out[4];
    qlm_gptq_opts o = {.damp = 0.01, .quiet = true};
    assert_status(qlm_gptq_q4(w, 2, 48, h, &o, out, NULL), QLM_E_SHAPE);
    w[3] = NAN;
    assert_status(qlm_gptq_q4(w, 1, 32, h, &o, out, NULL), QLM_E_VALUE);
    w[3] = 0;
    o.damp = -1;
    assert_status(qlm_gptq_q4(w, 1, 32, h, &o, out, NULL), QLM_E_ARG);
}

static double block_err(const float *x, const qlm_block_q4 *b)
{
    float dq[32];
    qlm_dequantize_q4(b, dq, 32);
    double e = 0.0;
    for (int i = 0; i < 32; i++)
        e += ((double)x[i] - dq[i]) * ((double)x[i] - dq[i]);
    return e;
}

static void test_rtn_mse(void **state)
{
    (void)state;
    enum { NB = 2000 };
    float *x = rand_weights(NB, 32);
    for (int i = 0; i < 32; i++)
        x[i] = 0.0f; /* an all-zero block stays exact */
    qlm_block_q4 *a = malloc(NB * sizeof *a), *b = malloc(NB * sizeof *b);
    assert_non_null(a);
    assert_non_null(b);
    assert_ok(qlm_quantize_q4_method(x, a, NB * 32, QLM_Q4_RTN));
    assert_ok(qlm_quantize_q4_method(x, b, NB * 32, QLM_Q4_RTN_MSE));
    double ta = 0.0, tb = 0.0;
    for (int k = 0; k < NB; k++) {
        double ea = block_err(x + 32 * k, &a[k]), eb = block_err(x + 32 * k, &b[k]);
        assert_true(eb <= ea);
        ta += ea;
        tb += eb;
    }
    assert_true(block_err(x, &b[0]) == 0.0);
    printf("  squared error rtn %.5g, rtn-mse %.5g (ratio %.3f)\n", ta, tb, tb / ta);
    assert_true(tb < 0.95 * ta);
    /* non-finite input is refused as by RTN */
    x[40] = INFINITY;
    assert_status(qlm_quantize_q4_method(x, b, NB * 32, QLM_Q4_RTN_MSE), QLM_E_VALUE);
    free(x);
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cholesky_reconstructs), cmocka_unit_test(test_diagonal_hessian_is_rtn),
        cmocka_unit_test(test_correlated_beats_rtn),  cmocka_unit_test(test_threads_identical),
        cmocka_unit_test(test_singular_hessian),      cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_rtn_mse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
