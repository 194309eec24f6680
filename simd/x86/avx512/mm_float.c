/* AVX-512 float-weight matmuls (f32, f16, bf16 weights; f32 activations).
 * Each (row, token) output is one dot16 chain in one zmm (lane l = reference
 * lane l); a tile of 4 rows x 3 tokens keeps 12 chains in flight so the
 * FMA latency of one chain is hidden by the others. */
#include "simd/x86/avx512/avx512.h"

typedef enum { W_F32, W_F16, W_BF16 } wkind;

#define INLINE static inline __attribute__((always_inline))

/* 16 weights from element i of a row, widened exactly; lanes outside m are 0. */
INLINE __m512 load_w(const void *row, int64_t i, __mmask16 m, wkind kd)
{
    if (kd == W_F32)
        return _mm512_maskz_loadu_ps(m, (const float *)row + i);
    __m256i h = _mm256_maskz_loadu_epi16(m, (const uint16_t *)row + i);
    if (kd == W_F16)
        return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

INLINE void tile(const char *w, size_t wsize, const float *x, int64_t k, int64_t r, int R, int T,
                 float *y, int64_t ldy, wkind kd)
{
    __m512 acc[4][3];
    #pragma GCC unroll 16
    for (int a = 0; a < R; a++)
        #pragma GCC unroll 16
        for (int t = 0; t < T; t++)
            acc[a][t] = _mm512_setzero_ps();
    for (int64_t i = 0; i < k; i += 16) {
        __mmask16 m = k - i >= 16 ? 0xFFFF : qa5_mask(k - i);
        __m512 wv[4], xv[3];
        #pragma GCC unroll 16
        for (int a = 0; a < R; a++)
            wv[a] = load_w(w + (size_t)((r + a) * k) * wsize, i, m, kd);
        #pragma GCC unroll 16
        for (int t = 0; t < T; t++)
            xv[t] = _mm512_maskz_loadu_ps(m, x + t * k + i);
        #pragma GCC unroll 16
        for (int a = 0; a < R; a++)
            #pragma GCC unroll 16
            for (int t = 0; t < T; t++)
                acc[a][t] = _mm512_mask3_fmadd_ps(wv[a], xv[t], acc[a][t], m);
    }
    #pragma GCC unroll 16
    for (int a = 0; a < R; a++)
        #pragma GCC unroll 16
        for (int t = 0; t < T; t++)
            y[t * ldy + r + a] = qa5_tree16(acc[a][t]);
}

INLINE void mm(const void *w, size_t wsize, const float *x, int64_t k, int64_t nt, int64_t r0,
               int64_t r1, float *y, int64_t ldy, wkind kd)
{
    for (int64_t r = r0; r < r1;) {
        int four = r1 - r >= 4;
        int64_t t = 0;
        for (; t + 3 <= nt; t += 3) {
            if (four)
                tile(w, wsize, x + t * k, k, r, 4, 3, y + t * ldy, ldy, kd);
            else
                tile(w, wsize, x + t * k, k, r, 1, 3, y + t * ldy, ldy, kd);
        }
        for (; t < nt; t++) {
            if (four)
                tile(w, wsize, x + t * k, k, r, 4, 1, y + t * ldy, ldy, kd);
            else
                tile(w, wsize, x + t * k, k, r, 1, 1, y + t * ldy, ldy, kd);
        }
        r += four ? 4 : 1;
    }
}

void qa5_mm_f32(const float *w, const float *x, int64_t k, int64_t nt, int64_t r0, int64_t r1,
                float *y, int64_t ldy)
{
    mm(w, 4, x, k, nt, r0, r1, y, ldy, W_F32);
}

void qa5_mm_f16(const uint16_t *w, const float *x, int64_t k, int64_t nt, int64_t r0, int64_t r1,
                float *y, int64_t ldy)
{
    mm(w, 2, x, k, nt, r0, r1, y, ldy, W_F16);
}

void qa5_mm_bf16(const uint16_t *w, const float *x, int64_t k, int64_t nt, int64_t r0, int64_t r1,
                 float *y, int64_t ldy)
{
    mm(w, 2, x, k, nt, r0, r1, y, ldy, W_BF16);
}
