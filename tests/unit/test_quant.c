/* Q8/Q4 quantizers against their documented contract (docs/FORMAT.md
 * "Quantization"), checked in double precision:
 *  - the stored scale is the smallest fp16 >= the f32 ideal scale
 *    (Q8: amax/127; Q4: |m|/8 with sign of -m, m the first element of largest |x|,
 *    which gets code -8 whenever the scale is a normal fp16);
 *  - every element: |x - d*q| <= |d| * (1/2 + 2^-17) (the 2^-17 covers the f32
 *    rounding of x/d before rne), except Q4 elements clamped at +7 (x/d > 7.5);
 *  - ties go to even, zero blocks are exact, NaN/Inf name the element;
 *  - dequantization equals d*q computed from the raw bytes. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "formats/common/half.h"
#include "formats/qlm/dtype.h"
#include "formats/quant/quant.h"
#include "tests/common/testutil.h"

#define NB 512 /* blocks per random test vector */

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;

static double rnd(void) /* uniform in [-1, 1) */
{
    g_rng = g_rng * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(g_rng >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}

/* Blocks with magnitudes from 1e-9 (fp16-subnormal scales) to 1e5, some
 * heavy-tailed, some with a lone outlier. */
static void fill(float *x, size_t nb)
{
    for (size_t b = 0; b < nb; b++) {
        double mag = pow(10.0, -9.0 + 14.0 * (rnd() * 0.5 + 0.5));
        for (int i = 0; i < QLM_BLOCK; i++) {
            double v = rnd() * mag;
            if (b % 3 == 1)
                v = v * v * v / (mag * mag);
            x[b * QLM_BLOCK + (size_t)i] = (float)v;
        }
        if (b % 5 == 2)
            x[b * QLM_BLOCK + b % QLM_BLOCK] = (float)(mag * 4.0 * (b % 2 ? 1 : -1));
    }
}

/* Smallest fp16 >= d (d >= 0), found by a search over the fp16 encodings:
 * independent of the bit tricks in quant.c. */
static uint16_t smallest_f16_ge(float d)
{
    uint16_t lo = 0, hi = 0x7C00;
    while (lo < hi) {
        uint16_t mid = (uint16_t)((lo + hi) / 2);
        if (qlm_f16_to_f32(mid) >= d)
            hi = mid;
        else
            lo = (uint16_t)(mid + 1);
    }
    return lo;
}

static float block_amax(const float *x, int *first)
{
    float a = 0;
    *first = 0;
    for (int i = 0; i < QLM_BLOCK; i++) {
        if (fabsf(x[i]) > a) {
            a = fabsf(x[i]);
            *first = i;
        }
    }
    return a;
}

static void test_q8_contract(void **state)
{
    (void)state;
    float *x = malloc(NB * QLM_BLOCK * sizeof *x), *y = malloc(NB * QLM_BLOCK * sizeof *y);
    qlm_block_q8 *q = malloc(NB * sizeof *q);
    fill(x, NB);
    assert_ok(qlm_quantize_q8(x, q, NB * QLM_BLOCK));
    qlm_dequantize_q8(q, y, NB * QLM_BLOCK);
    for (size_t b = 0; b < NB; b++) {
        const float *xb = x + b * QLM_BLOCK;
        int first;
        float amax = block_amax(xb, &first);
        assert_int_equal(q[b].d, smallest_f16_ge(amax / 127.0f));
        double d = qlm_f16_to_f32(q[b].d);
        for (int i = 0; i < QLM_BLOCK; i++) {
            assert_true(q[b].q[i] >= -127 && q[b].q[i] <= 127);
            double err = fabs((double)xb[i] - d * q[b].q[i]);
            if (err > d * (0.5 + 0x1p-17))
                fail_msg("block %zu elem %d: x=%g d=%g q=%d err=%g", b, i, (double)xb[i], d, q[b].q[i], err);
            assert_true(y[b * QLM_BLOCK + (size_t)i] == (float)d * (float)q[b].q[i]);
        }
    }
    free(x);
    free(y);
    free(q);
}

static int q4_code(const qlm_block_q4 *b, int i)
{
    return i < 16 ? (b->qs[i] & 15) - 8 : (b->qs[i - 16] >> 4) - 8;
}

static void test_q4_contract(void **state)
{
    (void)state;
    float *x = malloc(NB * QLM_BLOCK * sizeof *x), *y = malloc(NB * QLM_BLOCK * sizeof *y);
    qlm_block_q4 *q = malloc(NB * sizeof *q);
    fill(x, NB);
    assert_ok(qlm_quantize_q4(x, q, NB * QLM_BLOCK));
    qlm_dequantize_q4(q, y, NB * QLM_BLOCK);
    for (size_t b = 0; b < NB; b++) {
        const float *xb = x + b * QLM_BLOCK;
        int first;
        float amax = block_amax(xb, &first);
        uint16_t mag = smallest_f16_ge(amax / 8.0f);
        assert_int_equal(q[b].d, (uint16_t)(mag | (xb[first] > 0 ? 0x8000 : 0)));
        double d = qlm_f16_to_f32(q[b].d);
        /* The largest magnitude uses -8, unless rounding a subnormal fp16
         * scale up made |d| much larger than |m|/8. */
        if (fabs(d) >= 0x1p-14)
            assert_int_equal(q4_code(&q[b], first), -8);
        for (int i = 0; i < QLM_BLOCK; i++) {
            int c = q4_code(&q[b], i);
            double err = fabs((double)xb[i] - d * c);
            if ((double)xb[i] / d > 7.5)
                assert_int_equal(c, 7); /* clamped: the only case beyond d/2 */
            else if (err > fabs(d) * (0.5 + 0x1p-17))
                fail_msg("block %zu elem %d: x=%g d=%g q=%d err=%g", b, i, (double)xb[i], d, c, err);
            assert_true(y[b * QLM_BLOCK + (size_t)i] == (float)d * (float)c);
        }
    }
    free(x);
    free(y);
    free(q);
}

static void test_zero_blocks(void **state)
{
    (void)state;
    float x[64] = {0}, y[64];
    x[40] = -0.0f;
    qlm_block_q8 q8[2];
    qlm_block_q4 q4[2];
    assert_ok(qlm_quantize_q8(x, q8, 64));
    assert_ok(qlm_quantize_q4(x, q4, 64));
    qlm_dequantize_q8(q8, y, 64);
    for (int i = 0; i < 64; i++)
        assert_true(y[i] == 0.0f);
    qlm_dequantize_q4(q4, y, 64);
    for (int i = 0; i < 64; i++)
        assert_true(y[i] == 0.0f);
    assert_int_equal(q8[0].d, 0);
    assert_int_equal(q4[1].d, 0);
}

/* Scale exactly 1/64 (amax 127/64): x = (k + 1/2)/64 is an exact tie. */
static void test_ties_to_even(void **state)
{
    (void)state;
    float x[32] = {0};
    const float d = 1.0f / 64;
    x[0] = 127 * d;
    const float halves[] = {0.5f, 1.5f, 2.5f, 3.5f, -0.5f, -1.5f, -2.5f, 126.5f, -126.5f};
    const int want[] = {0, 2, 2, 4, 0, -2, -2, 126, -126};
    for (int i = 0; i < 9; i++)
        x[1 + i] = halves[i] * d;
    qlm_block_q8 q;
    assert_ok(qlm_quantize_q8(x, &q, 32));
    assert_true(qlm_f16_to_f32(q.d) == d);
    for (int i = 0; i < 9; i++)
        assert_int_equal(q.q[1 + i], want[i]);

    float y[32] = {0};
    y[0] = -8 * d; /* Q4: d = +1/64 */
    const float h4[] = {0.5f, 1.5f, 2.5f, 6.5f, -0.5f, -7.5f};
    const int w4[] = {0, 2, 2, 6, 0, -8};
    for (int i = 0; i < 6; i++)
        y[1 + i] = h4[i] * d;
    qlm_block_q4 q4;
    assert_ok(qlm_quantize_q4(y, &q4, 32));
    assert_true(qlm_f16_to_f32(q4.d) == d);
    for (int i = 0; i < 6; i++)
        assert_int_equal(q4_code(&q4, 1 + i), w4[i]);
}

/* The first element of largest magnitude maps to -8; its opposite clamps to 7. */
static void test_q4_minus8(void **state)
{
    (void)state;
    float x[32] = {0}, y[32];
    x[3] = 1.0f;
    x[9] = -1.0f;
    x[10] = 0.25f;
    qlm_block_q4 q;
    assert_ok(qlm_quantize_q4(x, &q, 32));
    assert_true(qlm_f16_to_f32(q.d) == -0.125f);
    assert_int_equal(q4_code(&q, 3), -8);
    assert_int_equal(q4_code(&q, 9), 7);
    assert_int_equal(q4_code(&q, 10), -2);
    qlm_dequantize_q4(&q, y, 32);
    assert_true(y[3] == 1.0f && y[9] == -0.875f && y[10] == 0.25f);
}

static void test_nonfinite(void **state)
{
    (void)state;
    float x[96];
    for (int i = 0; i < 96; i++)
        x[i] = (float)i * 0.01f;
    qlm_block_q8 q8[3];
    qlm_block_q4 q4[3];
    x[37] = NAN;
    assert_status(qlm_quantize_q8(x, q8, 96), QLM_E_VALUE);
    assert_non_null(strstr(qlm_errmsg(), "element 37"));
    assert_status(qlm_quantize_q4(x, q4, 96), QLM_E_VALUE);
    assert_non_null(strstr(qlm_errmsg(), "element 37"));
    x[37] = 0;
    x[70] = -INFINITY;
    assert_status(qlm_quantize_q8(x, q8, 96), QLM_E_VALUE);
    assert_non_null(strstr(qlm_errmsg(), "element 70"));
    x[70] = 1e10f; /* finite, but 1e10/127 is beyond the largest fp16 scale */
    assert_status(qlm_quantize_q8(x, q8, 96), QLM_E_VALUE);
    x[70] = 65504.0f * 127.0f; /* the largest magnitude that still fits */
    assert_ok(qlm_quantize_q8(x, q8, 96));
    assert_int_equal(q8[2].d, 0x7BFF);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_q8_contract), cmocka_unit_test(test_q4_contract), cmocka_unit_test(test_zero_blocks),
        cmocka_unit_test(test_ties_to_even), cmocka_unit_test(test_q4_minus8), cmocka_unit_test(test_nonfinite),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
