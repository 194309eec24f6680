/* GPU narrow conversions (formats/gpu/gpucvt.h) against digests measured on an
 * NVIDIA H200 by tests/gpu/cvt_digest.cu: sampled 2^24-input chunks of every
 * mode, all decode tables, and encode(decode(c)) == c for every code. The full
 * 2^32 sweep is tests/slow/test_gpu_cvt_full.c. */
#include <math.h>
#include <stdlib.h>

#include "formats/common/half.h"
#include "formats/gpu/gpucvt.h"
#include "tests/common/gpu_digest.h"
#include "tests/common/testutil.h"

static gpu_digests g_d;

static int setup(void **state)
{
    (void)state;
    gd_load(&g_d);
    return 0;
}

/* Chunks by top byte: zero and subnormals, around 1.0, the E4M3 overflow edge
 * (128..512), the E5M2/f16/bf16 overflow edge (2^15..2^17), negatives near 1/4,
 * and negative huge/Inf/NaN. */
static const unsigned k_chunks[] = {0x00, 0x3F, 0x43, 0x47, 0xBE, 0xFF};

static void test_sampled_chunks(void **state)
{
    (void)state;
    uint8_t *buf = malloc((size_t)2 << 24);
    assert_non_null(buf);
    for (int m = 0; m < QLM_GPU_CVT_COUNT; m++)
        for (size_t i = 0; i < sizeof k_chunks / sizeof k_chunks[0]; i++)
            if (!gd_check_chunk(&g_d, (qlm_gpu_cvt_mode)m, k_chunks[i], buf))
                fail_msg("%s chunk 0x%02x differs from the GPU",
                         qlm_gpu_cvt_name((qlm_gpu_cvt_mode)m), k_chunks[i]);
    free(buf);
}

static void test_decode_tables(void **state)
{
    (void)state;
    for (int k = 0; k < GD_DECODES; k++)
        if (!gd_check_decode(&g_d, k))
            fail_msg("decode table %d differs from the GPU", k);
}

/* Every non-NaN code survives a round trip through f32 (decoders are exact,
 * encoders round exact values to themselves). */
static void test_round_trip(void **state)
{
    (void)state;
    for (unsigned c = 0; c < 256; c++) {
        if ((c & 0x7F) != 0x7F) {
            assert_int_equal(qlm_gpu_f32_to_e4m3(qlm_gpu_e4m3_to_f32((uint8_t)c), true), c);
            assert_int_equal(qlm_gpu_f32_to_e4m3(qlm_gpu_e4m3_to_f32((uint8_t)c), false), c);
            assert_int_equal(qlm_gpu_f32_to_ue4m3(qlm_gpu_ue4m3_to_f32((uint8_t)c)), c & 0x7F);
        }
        if ((c & 0x7F) <= 0x7C) {
            assert_int_equal(qlm_gpu_f32_to_e5m2(qlm_gpu_e5m2_to_f32((uint8_t)c), false), c);
        }
        if (c < 16) {
            assert_int_equal(qlm_gpu_f32_to_e2m1(qlm_gpu_e2m1_to_f32((uint8_t)c), false), c);
            assert_int_equal(qlm_gpu_f32_to_e2m1(qlm_gpu_e2m1_to_f32((uint8_t)c), true), c);
        }
        if (c < 255) {
            for (int mode = 0; mode < 4; mode++)
                assert_int_equal(qlm_gpu_f32_to_e8m0(qlm_gpu_e8m0_to_f32((uint8_t)c),
                                                     mode & 1, mode & 2), c);
        }
    }
    for (uint32_t c = 0; c < 65536; c++) {
        if ((c & 0x7FFF) <= 0x7F80)
            assert_int_equal(qlm_gpu_f32_to_bf16(qlm_gpu_bf16_to_f32((uint16_t)c)), c);
        if ((c & 0x7FFF) <= 0x7C00)
            assert_int_equal(qlm_gpu_f32_to_f16(qlm_gpu_f16_to_f32((uint16_t)c)), c);
    }
}

/* Named special cases, each derivable from the CUDA documentation. */
static void test_special_values(void **state)
{
    (void)state;
    float nan = qlm_bits_f32(0xFFC00001u), inf = INFINITY;
    assert_int_equal(qlm_gpu_f32_to_e4m3(nan, true), 0x7F);
    assert_int_equal(qlm_gpu_f32_to_e4m3(-inf, true), 0xFE);  /* -448 */
    assert_int_equal(qlm_gpu_f32_to_e4m3(-inf, false), 0xFF); /* NaN keeps the sign */
    assert_int_equal(qlm_gpu_f32_to_e4m3(464.0f, false), 0x7E); /* tie to even: 448 */
    assert_int_equal(qlm_gpu_f32_to_e5m2(inf, false), 0x7C);
    assert_int_equal(qlm_gpu_f32_to_e5m2(61440.0f, true), 0x7B);
    assert_int_equal(qlm_gpu_f32_to_e2m1(nan, false), 0x7);  /* NaN -> +6 */
    assert_int_equal(qlm_gpu_f32_to_e2m1(-0.25f, false), 0x8); /* tie to even: -0 */
    assert_int_equal(qlm_gpu_f32_to_e2m1(2.9f, true), 0x4);   /* RZ: 2 */
    assert_int_equal(qlm_gpu_f32_to_e8m0(0.0f, false, true), 0x00); /* clamps to 2^-127 */
    assert_int_equal(qlm_gpu_f32_to_e8m0(3.0f, true, true), 129);   /* 4 = 2^(129-127) */
    assert_int_equal(qlm_gpu_f32_to_e8m0(3.0f, true, false), 128);  /* 2 */
    assert_int_equal(qlm_gpu_f32_to_e8m0(inf, true, false), 0xFE);
    assert_int_equal(qlm_gpu_f32_to_e8m0(inf, false, false), 0xFF);
    assert_int_equal(qlm_gpu_f32_to_bf16(nan), 0x7FFF);
    assert_int_equal(qlm_gpu_f32_to_f16(nan), 0x7FFF);
    assert_int_equal(qlm_f32_bits(qlm_gpu_f16_to_f32(0xFE01)), 0x7FFFFFFFu);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_special_values),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_decode_tables),
        cmocka_unit_test(test_sampled_chunks),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
