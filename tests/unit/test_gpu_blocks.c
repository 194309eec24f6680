/* GPU block formats of .qlm (formats/gpu/gpublock.h, docs/FORMAT.md): sizes
 * and their overflow checks, the byte layouts decoded by hand from the
 * documented tables, and the quantizers' rules re-derived independently:
 * every code is checked to be the nearest representable value of x / scale
 * (ties to the even code), with the values of each narrow format computed here
 * from its definition rather than with the decoders under test. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/common/half.h"
#include "formats/gpu/gpublock.h"
#include "formats/qlm/qlmfile.h"
#include "tests/common/gpu_values.h"
#include "tests/common/testutil.h"

/* The code must decode to the value nearest to v (its sign aside for zero). */
static void expect_nearest(double (*mag)(int), int max_code, int sign_bit, double v, int code, const char *what,
                           size_t i)
{
    int want = gv_nearest(mag, max_code, v);
    int got = code & (sign_bit - 1);
    if (got != want)
        fail_msg("%s element %zu: x/scale = %.9g, code magnitude %d (%g), nearest is %d (%g)", what, i, v, got,
                 mag(got), want, mag(want));
    if (got != 0 && ((code & sign_bit) != 0) != (v < 0))
        fail_msg("%s element %zu: sign of code 0x%x does not match %g", what, i, code, v);
}

/* Deterministic test rows: mixed magnitudes, one zero block, one big outlier. */
static void make_row(float *x, size_t n, unsigned seed)
{
    uint64_t s = 0x9E3779B97F4A7C15ull * (seed + 1);
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        double u = (double)(s >> 11) / 9007199254740992.0 * 2.0 - 1.0;
        x[i] = (float)ldexp(u, (int)(s % 9) - 4);
    }
    for (size_t i = 32; i < 64 && i < n; i++)
        x[i] = 0.0f; /* an all-zero block / group part */
    if (n > 100)
        x[100] = 37.5f;
}

#define N 512

static void test_sizes(void **state)
{
    (void)state;
    uint64_t nb, d[2] = {3, 256};
    assert_ok(qlm_tensor_nbytes(QLM_DT_FP8, 2, d, &nb));
    assert_int_equal(nb, 3 * (4 + 256));
    assert_ok(qlm_tensor_nbytes(QLM_DT_FP8_G128, 2, d, &nb));
    assert_int_equal(nb, 3 * 2 * 132);
    assert_ok(qlm_tensor_nbytes(QLM_DT_NVFP4, 2, d, &nb));
    assert_int_equal(nb, 4 + 3 * 16 * 9);
    assert_ok(qlm_tensor_nbytes(QLM_DT_MXFP4, 2, d, &nb));
    assert_int_equal(nb, 3 * 8 * 17);
    assert_ok(qlm_tensor_nbytes(QLM_DT_W4A16, 2, d, &nb));
    assert_int_equal(nb, 3 * 2 * 68);
    uint64_t odd[2] = {2, 200};
    assert_status(qlm_tensor_nbytes(QLM_DT_FP8_G128, 2, odd, &nb), QLM_E_SIZE);
    assert_status(qlm_tensor_nbytes(QLM_DT_W4A16, 2, odd, &nb), QLM_E_SIZE);
    assert_status(qlm_tensor_nbytes(QLM_DT_MXFP4, 2, odd, &nb), QLM_E_SIZE);
    assert_status(qlm_tensor_nbytes(QLM_DT_NVFP4, 2, odd, &nb), QLM_E_SIZE); /* 200 = 12.5 x 16 */
    /* 2^62 rows of 1 byte: the codes fit, the 4-byte row scales overflow 2^64 */
    uint64_t big[2] = {1ull << 62, 1};
    assert_status(qlm_tensor_nbytes(QLM_DT_FP8, 2, big, &nb), QLM_E_OVERFLOW);
    uint64_t big2[2] = {1ull << 58, 128};
    assert_status(qlm_tensor_nbytes(QLM_DT_W4A16, 2, big2, &nb), QLM_E_OVERFLOW);
    assert_status(qlm_tensor_nbytes(18, 2, d, &nb), QLM_E_DTYPE); /* E5M2 rows: reserved */
}

static void test_fp8_rules(void **state)
{
    (void)state;
    float x[N];
    uint8_t row[4 + N];
    make_row(x, N, 1);
    assert_ok(qlm_gpu_quantize_row(QLM_DT_FP8, x, N, 0, row));
    float s, amax = 0;
    memcpy(&s, row, 4);
    for (int i = 0; i < N; i++)
        amax = fmaxf(amax, fabsf(x[i]));
    assert_true(s == amax / 448.0f);
    for (int i = 0; i < N; i++)
        expect_nearest(gv_e4m3, 126, 0x80, (double)(x[i] / s), row[4 + i], "fp8", (size_t)i);
    float deq[N];
    qlm_gpu_dequant_row(QLM_DT_FP8, row, N, 0, deq);
    for (int i = 0; i < N; i++)
        assert_true(deq[i] == (float)gv_e4m3_signed(row[4 + i]) * s);
    assert_int_equal(row[4 + 100], 0x7E); /* the amax element is +448 */

    /* fp8-g128: one scale per 128, the zero group's scale is 1 */
    uint8_t g[4 * 132];
    assert_ok(qlm_gpu_quantize_row(QLM_DT_FP8_G128, x, N, 0, g));
    for (int j = 0; j < 4; j++) {
        const qlm_block_fp8g *b = (const qlm_block_fp8g *)g + j;
        float ga = 0;
        for (int i = 0; i < 128; i++)
            ga = fmaxf(ga, fabsf(x[j * 128 + i]));
        assert_true(b->s == (ga > 0 ? ga / 448.0f : 1.0f));
        for (int i = 0; i < 128; i++)
            expect_nearest(gv_e4m3, 126, 0x80, (double)(x[j * 128 + i] / b->s), b->q[i], "fp8-g128", (size_t)i);
    }
}

static void test_fp4_rules(void **state)
{
    (void)state;
    float x[N];
    make_row(x, N, 2);
    /* NVFP4: tensor scale amax/2688 (here the row is the tensor) */
    float amax = 0;
    for (int i = 0; i < N; i++)
        amax = fmaxf(amax, fabsf(x[i]));
    float ts = qlm_gpu_tensor_scale(QLM_DT_NVFP4, amax);
    assert_true(ts == amax / 2688.0f);
    qlm_block_nvfp4 nb[N / 16];
    assert_ok(qlm_gpu_quantize_row(QLM_DT_NVFP4, x, N, ts, nb));
    for (int j = 0; j < N / 16; j++) {
        float ba = 0;
        for (int i = 0; i < 16; i++)
            ba = fmaxf(ba, fabsf(x[j * 16 + i]));
        expect_nearest(gv_e4m3, 126, 0x80, (double)(ba / 6.0f / ts), nb[j].s, "nvfp4 scale", (size_t)j);
        float d = (float)gv_e4m3(nb[j].s) * ts;
        for (int i = 0; i < 16; i++) {
            int c = (nb[j].qs[i / 2] >> (4 * (i & 1))) & 15;
            if (d == 0)
                assert_int_equal(c, 0);
            else
                expect_nearest(gv_e2m1, 7, 0x8, (double)(x[j * 16 + i] / d), c, "nvfp4", (size_t)(j * 16 + i));
        }
    }
    /* MXFP4: scale 2^ceil(log2(amax/6)), so no element exceeds 6 x scale */
    qlm_block_mxfp4 mb[N / 32];
    assert_ok(qlm_gpu_quantize_row(QLM_DT_MXFP4, x, N, 0, mb));
    for (int j = 0; j < N / 32; j++) {
        float ba = 0;
        for (int i = 0; i < 32; i++)
            ba = fmaxf(ba, fabsf(x[j * 32 + i]));
        int want = ba == 0 ? 0 : 127 + (int)ceil(log2((double)(ba / 6.0f)));
        assert_int_equal(mb[j].e, want);
        double sc = ldexp(1.0, mb[j].e - 127);
        for (int i = 0; i < 32; i++) {
            int c = (mb[j].qs[i / 2] >> (4 * (i & 1))) & 15;
            expect_nearest(gv_e2m1, 7, 0x8, (double)x[j * 32 + i] / sc, c, "mxfp4", (size_t)(j * 32 + i));
        }
    }
}

/* W4A16: asymmetric min/max groups; every element within half a step of
 * its dequantized value (plus the f16 rounding of the product). */
static void test_w4_rules(void **state)
{
    (void)state;
    float x[N];
    make_row(x, N, 3);
    qlm_block_w4 b[N / 128];
    assert_ok(qlm_gpu_quantize_row(QLM_DT_W4A16, x, N, 0, b));
    float deq[N];
    qlm_gpu_dequant_row(QLM_DT_W4A16, b, N, 0, deq);
    for (int j = 0; j < N / 128; j++) {
        double lo = 0, hi = 0;
        for (int i = 0; i < 128; i++) {
            lo = fmin(lo, x[j * 128 + i]);
            hi = fmax(hi, x[j * 128 + i]);
        }
        double s = qlm_f16_to_f32(b[j].s);
        assert_true(fabs(s - (hi - lo) / 15) <= ldexp(fabs(s), -11) * 1.0001); /* f16 RN of range/15 */
        assert_int_equal(b[j].pad, 0);
        assert_int_equal(b[j].z, (int)nearbyint(-lo / s));
        for (int i = 0; i < 128; i++) {
            int q = (b[j].qs[i / 2] >> (4 * (i & 1))) & 15;
            double w = (q - b[j].z) * s;
            assert_true((double)deq[j * 128 + i] == (double)qlm_f16_to_f32(qlm_f32_to_f16((float)w)));
            double err = fabs(x[j * 128 + i] - w);
            bool clamped = q == 0 || q == 15; /* the rounded zero point can push an end code out */
            if (err > (clamped ? s : s / 2) * (1 + 1e-6))
                fail_msg("w4a16 element %d: x %g, w %g, step %g", j * 128 + i, (double)x[j * 128 + i], w, s);
        }
    }
}

/* Hand-packed bytes decode as docs/FORMAT.md says. */
static void test_layouts(void **state)
{
    (void)state;
    float out[128];
    /* mxfp4: e = 128 (x2); byte 0x21: element 0 code 1 (0.5), element 1 code 2 (1.0); 0x9F: -6, -0.5 */
    uint8_t mx[17] = {128, 0x21, 0x9F};
    qlm_gpu_dequant_row(QLM_DT_MXFP4, mx, 32, 0, out);
    assert_true(out[0] == 1.0f && out[1] == 2.0f && out[2] == -12.0f && out[3] == -1.0f && out[4] == 0.0f);
    /* nvfp4: tensor scale 0.5 first; block scale 0x38 = 1.0; codes 7 (6) and 0xB (-1.5) */
    uint8_t nv[4 + 9] = {0};
    float half = 0.5f;
    memcpy(nv, &half, 4);
    nv[4] = 0x38;
    nv[5] = 0xB7;
    qlm_gpu_dequant_row(QLM_DT_NVFP4, nv, 16, 0, out);
    assert_true(out[0] == 3.0f && out[1] == -0.75f && out[2] == 0.0f);
    /* fp8 row 1 of a {2, 16} tensor: rows are 4 + 16 bytes; scale 2, code 0x40 = 2.0 */
    uint8_t f8[2 * 20] = {0};
    float two = 2.0f;
    memcpy(f8 + 20, &two, 4);
    f8[24] = 0x40;
    f8[25] = 0xC0;
    qlm_gpu_dequant_row(QLM_DT_FP8, f8, 16, 1, out);
    assert_true(out[0] == 4.0f && out[1] == -4.0f && out[2] == 0.0f);
    /* w4a16: scale f16 0.25 (0x3400), zero 3; byte 0x5A: element 0 = (10-3)/4, element 1 = (5-3)/4 */
    uint8_t w4[68] = {0x00, 0x34, 3, 0, 0x5A};
    qlm_gpu_dequant_row(QLM_DT_W4A16, w4, 128, 0, out);
    assert_true(out[0] == 1.75f && out[1] == 0.5f && out[2] == -0.75f);
}

static void test_bad_input(void **state)
{
    (void)state;
    float x[128] = {0};
    uint8_t out[4 + 132 * 2];
    x[5] = NAN;
    assert_status(qlm_gpu_quantize_row(QLM_DT_FP8, x, 128, 0, out), QLM_E_VALUE);
    assert_non_null(strstr(qlm_errmsg(), "element 5"));
    x[5] = INFINITY;
    assert_status(qlm_gpu_quantize_row(QLM_DT_MXFP4, x, 128, 0, out), QLM_E_VALUE);
    x[5] = 3e38f;
    x[6] = -3e38f;
    assert_status(qlm_gpu_quantize_row(QLM_DT_W4A16, x, 128, 0, out), QLM_E_VALUE); /* range overflows */
    x[6] = 0;
    assert_status(qlm_gpu_quantize_row(QLM_DT_W4A16, x, 128, 0, out), QLM_E_VALUE); /* f16 scale overflows */
    x[5] = 1;
    assert_status(qlm_gpu_quantize_row(QLM_DT_NVFP4, x, 128, 0.0f, out), QLM_E_VALUE); /* no tensor scale */
    /* all zeros: every format dequantizes to exact zeros */
    memset(x, 0, sizeof x);
    const qlm_dtype ts[] = {QLM_DT_FP8, QLM_DT_FP8_G128, QLM_DT_MXFP4, QLM_DT_W4A16};
    for (size_t k = 0; k < 4; k++) {
        float deq[128];
        assert_ok(qlm_gpu_quantize_row(ts[k], x, 128, 0, out));
        qlm_gpu_dequant_row(ts[k], out, 128, 0, deq);
        for (int i = 0; i < 128; i++)
            assert_true(deq[i] == 0.0f);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes),       cmocka_unit_test(test_fp8_rules), cmocka_unit_test(test_fp4_rules),
        cmocka_unit_test(test_w4_rules),    cmocka_unit_test(test_layouts),   cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
