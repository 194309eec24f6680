/* SIMT GPU GEMM contracts (simd/gpu/gemm.h) against the outputs of the CUDA
 * reference kernels (tests/gpu/gemm_ref.cu) measured on an NVIDIA H200:
 * GC_CASES seeded cases per path (tests/common/gpu_cases.c), compared bitwise.
 * The stored outputs are tests/data/gpu/gemm_<path>.f32.zst; w4a16z and
 * fp8g128 are the same cases through the contract variants (`gemm_ref --ext`:
 * W4A16 with per-group zero points, FP8 with one weight scale per 128); f32
 * and bf16 are the plain fmaf chains of the `--path f32|bf16` linear layers. */
#include <stdbool.h>
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
    case GC_MXFP4: qlm_gpu_gemm_mxfp4(c->M, c->N, c->K, c->a16, c->wq, c->s8, out); break;
    default: /* F32, BF16: the runtime's per-element dots (there is no GEMM form) */
        for (int m = 0; m < c->M; m++)
            for (int n = 0; n < c->N; n++) {
                size_t ia = (size_t)m * c->K, iw = (size_t)n * c->K, i = (size_t)m * c->N + n;
                out[i] = c->path == GC_F32 ? qlm_gpu_dot_f32(c->K, c->a32 + ia, c->w32 + iw)
                                           : qlm_gpu_dot_bf16(c->K, c->a16 + ia, c->w16 + iw);
            }
        break;
    }
}

/* The --ext variants, one output element at a time through the runtime's
 * per-element functions. */
static void emulate_ext(const gc_case *c, float *out)
{
    int groups = (c->K + 127) / 128;
    uint8_t *z = malloc((size_t)c->N * groups), *qa = malloc((size_t)c->K);
    float *sg = malloc((size_t)c->N * groups * sizeof *sg);
    assert_true(z && qa && sg);
    if (c->path == GC_W4A16)
        gc_w4_zeros(c, z);
    else
        gc_fp8_group_scales(c, sg);
    for (int m = 0; m < c->M; m++) {
        float sa = c->path == GC_FP8 ? qlm_gpu_fp8_quant_row(c->K, c->a32 + (size_t)m * c->K, qa) : 0;
        for (int n = 0; n < c->N; n++) {
            size_t kn = (size_t)n * c->K, gn = (size_t)n * groups;
            out[(size_t)m * c->N + n] =
                c->path == GC_W4A16
                    ? qlm_gpu_dot_w4a16(c->K, c->a16 + (size_t)m * c->K, c->wq + kn, c->s16 + gn, z + gn)
                    : qlm_gpu_dot_fp8_g128(c->K, qa, sa, c->wq + kn, sg + gn);
        }
    }
    free(z), free(qa), free(sg);
}

/* The GPU outputs of one path (ext: its --ext variant), decompressed; *n floats. */
static float *load_gpu(gc_path p, bool ext, size_t *n)
{
    char rel[128];
    snprintf(rel, sizeof rel, "tests/data/gpu/gemm_%s%s.f32.zst", gc_path_names[p],
             !ext ? "" : p == GC_W4A16 ? "z" : "g128");
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

static void check_path(gc_path p, bool ext)
{
    size_t n, pos = 0, bad = 0, total = 0;
    float *gpu = load_gpu(p, ext, &n);
    for (uint32_t i = 0; i < GC_CASES; i++) {
        gc_case c;
        assert_int_equal(gc_make(p, i, &c), 0);
        size_t mn = (size_t)c.M * c.N;
        if (pos + mn > n)
            fail_msg("%s: GPU outputs end at case %u", gc_path_names[p], i);
        float *out = malloc(mn * sizeof *out);
        assert_non_null(out);
        (ext ? emulate_ext : emulate)(&c, out);
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
    printf("%s%s: %d cases, %zu outputs, %zu mismatches\n", gc_path_names[p], ext ? " (ext)" : "", GC_CASES,
           total, bad);
    assert_int_equal(pos, n);
    assert_int_equal(bad, 0);
}

static void test_w4a16(void **state) { (void)state; check_path(GC_W4A16, false); }
static void test_fp8(void **state) { (void)state; check_path(GC_FP8, false); }
static void test_nvfp4(void **state) { (void)state; check_path(GC_NVFP4, false); }
static void test_mxfp4(void **state) { (void)state; check_path(GC_MXFP4, false); }
static void test_w4a16_zero_points(void **state) { (void)state; check_path(GC_W4A16, true); }
static void test_fp8_g128(void **state) { (void)state; check_path(GC_FP8, true); }
static void test_f32(void **state) { (void)state; check_path(GC_F32, false); }
static void test_bf16(void **state) { (void)state; check_path(GC_BF16, false); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_w4a16),
        cmocka_unit_test(test_fp8),
        cmocka_unit_test(test_nvfp4),
        cmocka_unit_test(test_mxfp4),
        cmocka_unit_test(test_w4a16_zero_points),
        cmocka_unit_test(test_fp8_g128),
        cmocka_unit_test(test_f32),
        cmocka_unit_test(test_bf16),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
