/* AVX-512 kernel set: shared inline helpers and the functions of the table.
 * Every helper reproduces an operation of simd/ref/ exactly (see kernels.h);
 * only files compiled with the AVX-512 flags may include this header. */
#ifndef QLM_SIMD_AVX512_H
#define QLM_SIMD_AVX512_H

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#include "simd/kernels.h"
#include "simd/ref/qmath.h"

/* Lanes [0, n) for n <= 16. */
static inline __mmask16 qa5_mask(int64_t n) { return (__mmask16)((1u << n) - 1u); }

/* The fixed tree of sum16/dot16: w = 8, 4, 2, 1; a[l] = a[l] + a[l + w]. */
static inline float qa5_tree16(__m512 a)
{
    __m256 s8 = _mm256_add_ps(_mm512_castps512_ps256(a), _mm512_extractf32x8_ps(a, 1));
    __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
    __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    return _mm_cvtss_f32(_mm_add_ss(s2, _mm_movehdup_ps(s2)));
}

/* 2^k per lane for k in [-126, 127]. */
static inline __m512 qa5_pow2i(__m512i k)
{
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(k, _mm512_set1_epi32(127)), 23));
}

/* qlm_expf() lane by lane: the same roundings in the same order. */
static inline __m512 qa5_expf(__m512 x)
{
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(QLM_LOG2E)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fmadd_ps(n, _mm512_set1_ps(-QLM_LN2_HI), x);
    r = _mm512_fmadd_ps(n, _mm512_set1_ps(-QLM_LN2_LO), r);
    __m512 p = _mm512_set1_ps(qlm_expf_poly[7]);
    for (int i = 6; i >= 0; i--)
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(qlm_expf_poly[i]));
    __m512i ni = _mm512_cvtps_epi32(n);
    /* n1 = ni / 2 truncating toward zero, n2 = ni - n1 */
    __m512i n1 = _mm512_srai_epi32(_mm512_add_epi32(ni, _mm512_srli_epi32(ni, 31)), 1);
    __m512i n2 = _mm512_sub_epi32(ni, n1);
    __m512 y = _mm512_mul_ps(_mm512_mul_ps(p, qa5_pow2i(n1)), qa5_pow2i(n2));
    y = _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, _mm512_set1_ps(QLM_EXPF_HI), _CMP_GT_OQ),
                           _mm512_set1_ps(INFINITY));
    y = _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, _mm512_set1_ps(QLM_EXPF_LO), _CMP_LT_OQ),
                           _mm512_setzero_ps());
    return _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), x);
}

void qa5_quant_act(const float *x, qlm_block_q8a *out, int64_t k);
void qa5_mm_q8(const qlm_block_q8 *w, const qlm_block_q8a *x, int64_t nb, int64_t nt, int64_t r0,
               int64_t r1, float *y, int64_t ldy);
void qa5_mm_q4(const qlm_block_q4 *w, const qlm_block_q8a *x, int64_t nb, int64_t nt, int64_t r0,
               int64_t r1, float *y, int64_t ldy);
size_t qa5_pack_size(uint32_t dtype, int64_t rows, int64_t nb);
void qa5_pack(uint32_t dtype, const void *w, int64_t rows, int64_t nb, void *out);
void qa5_mm_packed(uint32_t dtype, const void *wp, const qlm_block_q8a *x, int64_t nb, int64_t nt, int64_t r0,
                   int64_t r1, float *y, int64_t ldy);
void qa5_mm_f32(const float *w, const float *x, int64_t k, int64_t nt, int64_t r0, int64_t r1,
                float *y, int64_t ldy);
void qa5_mm_f16(const uint16_t *w, const float *x, int64_t k, int64_t nt, int64_t r0, int64_t r1,
                float *y, int64_t ldy);
void qa5_mm_bf16(const uint16_t *w, const float *x, int64_t k, int64_t nt, int64_t r0, int64_t r1,
                 float *y, int64_t ldy);
float qa5_dot(const float *x, const float *y, int64_t n);
float qa5_sum(const float *x, int64_t n);
void qa5_axpy(float *y, float a, const float *x, int64_t n);
void qa5_dot_rows(float *out, const float *q, const float *k, int64_t m, int64_t ld, int64_t n,
                 float scale);
void qa5_axpy_rows(float *y, const float *a, const float *v, int64_t m, int64_t ld, int64_t n);
void qa5_rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps);
void qa5_softmax(float *x, int64_t n);
void qa5_silu_mul(float *g, const float *u, int64_t n);
void qa5_rope(float *x, const float *cos, const float *sin, int64_t head_dim);

#endif
