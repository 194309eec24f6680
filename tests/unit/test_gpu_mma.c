/* Tensor-core emulation (simd/gpu/mma.h) against mma.sync m16n8k32 E4M3 tiles
 * run on an NVIDIA H200 by tests/gpu/mma_probe.cu: the first 500 of its 4000
 * random tiles (operands and results) are tests/data/gpu/mma_e4m3.bin.zst. */
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "formats/common/half.h"
#include "simd/gpu/mma.h"
#include "tests/common/testutil.h"

enum { TILE_BYTES = 16 * 32 + 8 * 32 + 2 * 128 * 4 }; /* A, B^T, C, D */

static void test_mma_e4m3_tiles(void **state)
{
    (void)state;
    size_t zlen;
    char *z = tu_read(tu_source("tests/data/gpu/mma_e4m3.bin.zst"), &zlen);
    unsigned long long size = ZSTD_getFrameContentSize(z, zlen);
    if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size == 0 ||
        size % TILE_BYTES || size > (16u << 20))
        fail_msg("mma_e4m3.bin.zst: bad zstd frame or size");
    uint8_t *buf = malloc(size);
    assert_non_null(buf);
    size_t got = ZSTD_decompress(buf, size, z, zlen);
    assert_false(ZSTD_isError(got));
    assert_int_equal(got, size);
    free(z);
    size_t bad = 0, tiles = size / TILE_BYTES;
    for (size_t t = 0; t < tiles; t++) {
        const uint8_t *p = buf + t * TILE_BYTES;
        float C[128], D[128], E[128];
        memcpy(C, p + 768, sizeof C);
        memcpy(D, p + 768 + sizeof C, sizeof D);
        qlm_gpu_mma_m16n8k32_e4m3(p, p + 512, C, E);
        for (int i = 0; i < 128; i++)
            if (qlm_f32_bits(E[i]) != qlm_f32_bits(D[i]) && bad++ < 5)
                print_message("tile %zu out %d: cpu 0x%08x gpu 0x%08x\n", t, i,
                              qlm_f32_bits(E[i]), qlm_f32_bits(D[i]));
    }
    free(buf);
    print_message("%zu tiles, %zu outputs, %zu mismatches\n", tiles, tiles * 128, bad);
    assert_int_equal(bad, 0);
}

/* Exactness where plain f32 accumulation would lose bits: C = 2^24 plus 32
 * products of 1 (0x38 = 1.0) must give exactly 2^24 + 32. */
static void test_mma_e4m3_exact_sum(void **state)
{
    (void)state;
    uint8_t ones[32];
    memset(ones, 0x38, sizeof ones);
    assert_true(qlm_gpu_mma_e4m3_dot32(ones, ones, 16777216.0f) == 16777248.0f);
    /* 2^24 + 1 + 2^-18 (tie plus a tiny addend) rounds up to 2^24 + 2 */
    uint8_t a[32] = {0x38, 0x01}, b[32] = {0x38, 0x01}; /* 1*1 + 2^-9*2^-9 */
    assert_true(qlm_gpu_mma_e4m3_dot32(a, b, 16777216.0f) == 16777218.0f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mma_e4m3_exact_sum),
        cmocka_unit_test(test_mma_e4m3_tiles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
