/* Tensor-core emulation (simd/gpu/mma.h) against mma.sync tiles run on an
 * NVIDIA H200 by tests/gpu/mma_probe.cu and tests/gpu/mma_vec.cu (operands and
 * results, see docs/GPU-NUMERICS.md section 3):
 *   mma_f16.bin.zst, mma_bf16.bin.zst  150 random + 150 adversarial + 150 sparse
 *                                      tiles (bf16: + 2 tiles probing the 2^-158 floor)
 *   mma_e4m3.bin.zst                   500 random tiles
 *   mma_e4m3_adv.bin.zst               150 adversarial (with NaN codes) + 150 sparse tiles
 *   wgmma_{f16,bf16,e4m3}.bin.zst      the same tiles through wgmma (100 of each kind;
 *                                      E4M3 also 100 random; bf16 also the floor tiles) */
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "formats/common/half.h"
#include "simd/gpu/mma.h"
#include "tests/common/testutil.h"

enum { F16, BF16, E4M3, WG_E4M3 };

static uint8_t *load_tiles(const char *name, size_t tile_bytes, size_t *tiles)
{
    size_t zlen;
    char *z = tu_read(tu_source(name), &zlen);
    unsigned long long size = ZSTD_getFrameContentSize(z, zlen);
    if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size == 0 ||
        size % tile_bytes || size > (16u << 20))
        fail_msg("%s: bad zstd frame or size", name);
    uint8_t *buf = malloc(size);
    assert_non_null(buf);
    size_t got = ZSTD_decompress(buf, size, z, zlen);
    assert_false(ZSTD_isError(got));
    assert_int_equal(got, size);
    free(z);
    *tiles = size / tile_bytes;
    return buf;
}

/* Every output of every tile in file `name` equals the emulation bit for bit. */
static void check_tiles(const char *name, int kind)
{
    size_t K = kind >= E4M3 ? 32 : 16, ab = 24 * K * (kind >= E4M3 ? 1 : 2), tiles, bad = 0;
    uint8_t *buf = load_tiles(name, ab + 1024, &tiles);
    for (size_t t = 0; t < tiles; t++) {
        const uint8_t *p = buf + t * (ab + 1024), *bt = p + ab / 24 * 16;
        float C[128], D[128], E[128];
        memcpy(C, p + ab, sizeof C);
        memcpy(D, p + ab + sizeof C, sizeof D);
        if (kind >= E4M3) {
            (kind == E4M3 ? qlm_gpu_mma_m16n8k32_e4m3 : qlm_gpu_wgmma_m16n8k32_e4m3)(p, bt, C, E);
        } else {
            uint16_t A[256], B[128];
            memcpy(A, p, sizeof A);
            memcpy(B, bt, sizeof B);
            (kind == F16 ? qlm_gpu_mma_m16n8k16_f16 : qlm_gpu_mma_m16n8k16_bf16)(A, B, C, E);
        }
        for (int i = 0; i < 128; i++)
            if (qlm_f32_bits(E[i]) != qlm_f32_bits(D[i]) && bad++ < 5)
                print_message("%s tile %zu out %d: cpu 0x%08x gpu 0x%08x\n", name, t, i, qlm_f32_bits(E[i]),
                              qlm_f32_bits(D[i]));
    }
    free(buf);
    print_message("%s: %zu tiles, %zu outputs, %zu mismatches\n", name, tiles, tiles * 128, bad);
    assert_int_equal(bad, 0);
}

static void test_mma_f16_tiles(void **state)
{
    (void)state;
    check_tiles("tests/data/gpu/mma_f16.bin.zst", F16);
}

static void test_mma_bf16_tiles(void **state)
{
    (void)state;
    check_tiles("tests/data/gpu/mma_bf16.bin.zst", BF16);
}

/* wgmma: f16/bf16 follow the mma.sync contract; E4M3 has its own. */
static void test_wgmma_tiles(void **state)
{
    (void)state;
    check_tiles("tests/data/gpu/wgmma_f16.bin.zst", F16);
    check_tiles("tests/data/gpu/wgmma_bf16.bin.zst", BF16);
    check_tiles("tests/data/gpu/wgmma_e4m3.bin.zst", WG_E4M3);
}

static void test_mma_e4m3_tiles(void **state)
{
    (void)state;
    check_tiles("tests/data/gpu/mma_e4m3.bin.zst", E4M3);
    check_tiles("tests/data/gpu/mma_e4m3_adv.bin.zst", E4M3);
}

/* The contract's landmarks, derived by hand from the model (not from the
 * emulation). All-ones operands: every product is 1 with nominal exponent 0,
 * so with C = 2^e (e > 0) the truncation unit is 2^(e - 25). */
static void test_mma_landmarks(void **state)
{
    (void)state;
    uint16_t h1[16], b1[16];
    for (int k = 0; k < 16; k++)
        h1[k] = 0x3C00, b1[k] = 0x3F80; /* 1.0 in f16 and bf16 */
    /* C = 2^25: unit 1, the sixteen ones survive */
    assert_true(qlm_gpu_mma_f16_dot16(h1, h1, 0x1p25f) == 0x1p25f + 16);
    assert_true(qlm_gpu_mma_bf16_dot16(b1, b1, 0x1p25f) == 0x1p25f + 16);
    /* C = 2^26: unit 2, every 1 truncates to 0 although exact f32 arithmetic
     * would give 2^26 + 16 (the "addends lost at 2^26") */
    assert_true(qlm_gpu_mma_f16_dot16(h1, h1, 0x1p26f) == 0x1p26f);
    assert_true(qlm_gpu_mma_bf16_dot16(b1, b1, 0x1p26f) == 0x1p26f);
    /* C = 2^24 + 4: unit 2^-1, nothing truncated; 16 ones give 2^24 + 20 */
    assert_true(qlm_gpu_mma_f16_dot16(h1, h1, 0x1p24f + 4) == 0x1p24f + 20);
    uint16_t h15[16];
    memcpy(h15, h1, sizeof h15);
    h15[15] = 0; /* fifteen ones: 2^24 + 19, a tie; RZ gives + 18 where RN-even gives + 20 */
    assert_true(qlm_gpu_mma_f16_dot16(h1, h15, 0x1p24f + 4) == 0x1p24f + 18);
    /* bf16 below the f32 normal range: the unit stops at 2^-158, so
     * -2^-140 + 2^-158 keeps the small term (RZ: one subnormal step toward
     * zero) while -2^-140 + 2^-159 drops it */
    uint16_t ba[16] = {0x8000 | (127 - 70) << 7, (127 - 79) << 7}, bb[16] = {(127 - 70) << 7, (127 - 79) << 7};
    assert_true(qlm_gpu_mma_bf16_dot16(ba, bb, 0.0f) == -0x1p-140f + 0x1p-149f);
    bb[1] = (127 - 80) << 7;
    assert_true(qlm_gpu_mma_bf16_dot16(ba, bb, 0.0f) == -0x1p-140f);
    /* E4M3: two halves of 16 exact products, then RN(C + 32) */
    uint8_t e1[32];
    memset(e1, 0x38, sizeof e1);
    assert_true(qlm_gpu_mma_e4m3_dot32(e1, e1, 0x1p24f) == 0x1p24f + 32);
    /* wgmma E4M3: unit 2^(E - 13), so next to C = 2^24 the ones vanish... */
    assert_true(qlm_gpu_wgmma_e4m3_dot32(e1, e1, 0x1p24f) == 0x1p24f);
    /* ...and a 14-bit significand: C = 1 + 2^-13 + 2^-14 loses its last bit */
    uint8_t z32[32] = {0};
    assert_true(qlm_gpu_wgmma_e4m3_dot32(z32, z32, 1 + 0x1p-13f + 0x1p-14f) == 1 + 0x1p-13f);
    /* a NaN code anywhere gives the canonical NaN, even against a zero */
    uint8_t a[32] = {0x7F}, z[32] = {0};
    assert_int_equal(qlm_f32_bits(qlm_gpu_mma_e4m3_dot32(a, z, 1.0f)), 0x7FFFFFFFu);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mma_landmarks),
        cmocka_unit_test(test_mma_f16_tiles),
        cmocka_unit_test(test_mma_bf16_tiles),
        cmocka_unit_test(test_mma_e4m3_tiles),
        cmocka_unit_test(test_wgmma_tiles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
