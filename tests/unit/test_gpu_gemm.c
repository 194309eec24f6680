/* SIMT GPU GEMM contracts (simd/gpu/gemm.h) against the outputs of the CUDA
 * reference kernels (tests/gpu/gemm_ref.cu) measured on an NVIDIA H200:
 * GC_CASES seeded cases per path (tests/common/gpu_cases.c), compared bitwise.
 * The stored outputs are tests/data/gpu/gemm_<path>.f32.zst. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "formats/common/half.h"
#include "simd/gpu/gemm.h"
#include "tests/common/gpu_cases.h"
#include "tests/common/testutil.h"

static void emulate(const gc_case *c, float *out)
{
    switch (c->path) {
    case GC_W4A16: qlm_gpu_gemm_w4a16(c->M, c->N, c->K, c->a16, c->wq, c->s16, out); break;
    case GC_FP8: qlm_gpu_gemm_fp8(c->M, c->N, c->K, c->a32, c->wq, c->sw, out); break;
    case GC_NVFP4: qlm_gpu_gemm_nvfp4(c->M, c->N, c->K, c->a16, c->wq, c->s8, c->ts, out); break;
    default: qlm_gpu_gemm_mxfp4(c->M, c->N, c->K, c->a16, c->wq, c->s8, out); break;
    }
}

/* The GPU outputs of one path, decompressed; *n floats. */
static float *load_gpu(gc_path p, size_t *n)
{
    char rel[128];
    snprintf(rel, sizeof rel, "tests/data/gpu/gemm_%s.f32.zst", gc_path_names[p]);
    size_t zlen;
    char *z = tu_read(tu_source(rel), &zlen);
    unsigned long long size = ZSTD_getFrameContentSize(z, zlen);
    if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size % 4 ||
        size > (64u << 20))
        fail_msg("%s: bad zstd frame", rel);
    float *v = malloc(size ? size : 1);
    assert_non_null(v);
    size_t got = ZSTD_decompress(v, size, z, zlen);
    if (ZSTD_isError(got) || got != size)
        fail_msg("%s: %s", rel, ZSTD_isError(got) ? ZSTD_getErrorName(got) : "short");
    free(z);
    *n = size / 4;
    return v;
}

static void check_path(gc_path p)
{
    size_t n, pos = 0, bad = 0, total = 0;
    float *gpu = load_gpu(p, &n);
    for (uint32_t i = 0; i < GC_CASES; i++) {
        gc_case c;
        assert_int_equal(gc_make(p, i, &c), 0);
        size_t mn = (size_t)c.M * c.N;
        if (pos + mn > n)
            fail_msg("%s: GPU outputs end at case %u", gc_path_names[p], i);
        float *out = malloc(mn * sizeof *out);
        assert_non_null(out);
        emulate(&c, out);
        for (size_t j = 0; j < mn; j++)
            if (qlm_f32_bits(out[j]) != qlm_f32_bits(gpu[pos + j]) && bad++ < 5)
                printf("%s case %u (M=%d N=%d K=%d style %d) out[%zu]: cpu 0x%08x gpu 0x%08x\n",
                       gc_path_names[p], i, c.M, c.N, c.K, c.style, j, qlm_f32_bits(out[j]),
                       qlm_f32_bits(gpu[pos + j]));
        pos += mn;
        total += mn;
        free(out);
        gc_free(&c);
    }
    free(gpu);
    printf("%s: %d cases, %zu outputs, %zu mismatches\n", gc_path_names[p], GC_CASES, total, bad);
    assert_int_equal(pos, n);
    assert_int_equal(bad, 0);
}

static void test_w4a16(void **state) { (void)state; check_path(GC_W4A16); }
static void test_fp8(void **state) { (void)state; check_path(GC_FP8); }
static void test_nvfp4(void **state) { (void)state; check_path(GC_NVFP4); }
static void test_mxfp4(void **state) { (void)state; check_path(GC_MXFP4); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_w4a16),
        cmocka_unit_test(test_fp8),
        cmocka_unit_test(test_nvfp4),
        cmocka_unit_test(test_mxfp4),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
