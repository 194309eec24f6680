/* AVX2 (+FMA, F16C) kernel set: shared inline helpers and the functions of
 * the table. The reference's 16 lanes are two ymm: lo = lanes 0..7,
 * hi = lanes 8..15. Only files compiled with the AVX2 flags include this. */
#ifndef QLM_SIMD_AVX2_H
#define QLM_SIMD_AVX2_H

#include <immintrin.h>
#include <stdint.h>

#include "simd/kernels.h"
#include "simd/ref/qmath.h"

/* All-ones in int lanes [0, n), n in 0..8: a maskload/maskstore mask. */
static inline __m256i qa2_mask(int64_t n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* Clamp a remaining count to one ymm. */
static inline int64_t qa2_left(int64_t n) { return n < 0 ? 0 : n > 8 ? 8 : n; }

/* The fixed tree of sum16/dot16 on lanes lo (0..7) and hi (8..15). */
static inline float qa2_tree16(__m256 lo, __m256 hi)
{
    __m256 s8 = _mm256_add_ps(lo, hi);
    __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
    __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    return _mm_cvtss_f32(_mm_add_ss(s2, _mm_movehdup_ps(s2)));
}

static inline __m256 qa2_pow2i(__m256i k)
{
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k, _mm256_set1_epi32(127)), 23));
}

/* qlm_expf() lane by lane: the same roundings in the same order. */
static inline __m256 qa2_expf(__m256 x)
{
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(QLM_LOG2E)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fmadd_ps(n, _mm256_set1_ps(-QLM_LN2_HI), x);
    r = _mm256_fmadd_ps(n, _mm256_set1_ps(-QLM_LN2_LO), r);
    __m256 p = _mm256_set1_ps(qlm_expf_poly[7]);
    for (int i = 6; i >= 0; i--)
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(qlm_expf_poly[i]));
    __m256i ni = _mm256_cvtps_epi32(n);
    __m256i n1 = _mm256_srai_epi32(_mm256_add_epi32(ni, _mm256_srli_epi32(ni, 31)), 1);
    __m256i n2 = _mm256_sub_epi32(ni, n1);
    __m256 y = _mm256_mul_ps(_mm256_mul_ps(p, qa2_pow2i(n1)), qa2_pow2i(n2));
    y = _mm256_blendv_ps(y, _mm256_set1_ps(INFINITY), _mm256_cmp_ps(x, _mm256_set1_ps(QLM_EXPF_HI), _CMP_GT_OQ));
    y = _mm256_blendv_ps(y, _mm256_setzero_ps(), _mm256_cmp_ps(x, _mm256_set1_ps(QLM_EXPF_LO), _CMP_LT_OQ));
    return _mm256_blendv_ps(y, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

void qa2_quant_act(const float *x, qlm_block_q8a *out, int64_t k);
void qa2_mm_q8(const qlm_block_q8 *w, const qlm_block_q8a *x, int64_t nb, int64_t nt, int64_t r0,
               int64_t r1, float *y, int64_t ldy);
void qa2_mm_q4(const qlm_block_q4 *w, const qlm_block_q8a *x, int64_t nb, int64_t nt, int64_t r0,
               int64_t r1, float *y, int64_t ldy);
void qa2_mm_f32(const float *w, const float *x, int64_t k, int64_t nt, int64_t r0, int64_t r1,
                float *y, int64_t ldy);
void qa2_mm_f16(const uint16_t *w, const float *x, int64_t k, int64_t nt, int64_t r0, int64_t r1,
                float *y, int64_t ldy);
void qa2_mm_bf16(const uint16_t *w, const float *x, int64_t k, int64_t nt, int64_t r0, int64_t r1,
                 float *y, int64_t ldy);
float qa2_dot(const float *x, const float *y, int64_t n);
float qa2_sum(const float *x, int64_t n);
void qa2_axpy(float *y, float a, const float *x, int64_t n);
void qa2_dot_rows(float *out, const float *q, const float *k, int64_t m, int64_t ld, int64_t n,
                 float scale);
void qa2_axpy_rows(float *y, const float *a, const float *v, int64_t m, int64_t ld, int64_t n);
void qa2_rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps);
void qa2_softmax(float *x, int64_t n);
void qa2_silu_mul(float *g, const float *u, int64_t n);
void qa2_rope(float *x, const float *cos, const float *sin, int64_t head_dim);

/* The AVX2 table; the maddubs and AVX-VNNI variants differ only in their
 * quantized matmuls, so both are built from this one list. */
#define QA2_KERNELS(mm_q8_fn, mm_q4_fn)                                                         \
    {                                                                                           \
        .name = "avx2", .quant_act = qa2_quant_act, .mm_q8 = mm_q8_fn, .mm_q4 = mm_q4_fn,        \
        .mm_f32 = qa2_mm_f32, .mm_f16 = qa2_mm_f16, .mm_bf16 = qa2_mm_bf16, .dot = qa2_dot,      \
        .sum = qa2_sum, .axpy = qa2_axpy, .dot_rows = qa2_dot_rows, .axpy_rows = qa2_axpy_rows, \
        .rmsnorm = qa2_rmsnorm, .softmax = qa2_softmax, .silu_mul = qa2_silu_mul,               \
        .rope = qa2_rope,                                                                       \
    }

#endif
