/* AVX2 float-weight matmuls (f32, f16, bf16 weights; f32 activations).
 * Each (row, token) output is one dot16 chain held in two ymm; a tile of
 * 2 rows x 2 tokens keeps four chains in flight within 16 registers. */
#include "simd/x86/avx2/avx2.h"

typedef enum { W_F32, W_F16, W_BF16 } wkind;

#define INLINE static inline __attribute__((always_inline))

/* n (0..8) weights from element i of a row, widened exactly; the rest 0. */
INLINE __m256 load_w(const void *row, int64_t i, int64_t n, wkind kd)
{
    if (kd == W_F32) {
        const float *p = (const float *)row + i;
        return n >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, qa2_mask(n));
    }
    const uint16_t *p = (const uint16_t *)row + i;
    __m128i h;
    if (n >= 8) {
        h = _mm_loadu_si128((const __m128i *)p);
    } else {
        uint16_t t[8] = {0};
        for (int64_t e = 0; e < n; e++)
            t[e] = p[e];
        h = _mm_loadu_si128((const __m128i *)t);
    }
    if (kd == W_F16)
        return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

INLINE __m256 load_x(const float *p, int64_t n)
{
    return n >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, qa2_mask(n));
}

INLINE void tile(const char *w, size_t wsize, const float *x, int64_t k, int64_t r, int R, int T,
                 float *y, int64_t ldy, wkind kd)
{
    __m256 acc[2][2][2]; /* [row][token][lo/hi] */
    #pragma GCC unroll 16
    for (int a = 0; a < R; a++)
        #pragma GCC unroll 16
        for (int t = 0; t < T; t++)
            acc[a][t][0] = acc[a][t][1] = _mm256_setzero_ps();
    for (int64_t i = 0; i < k; i += 16) {
        #pragma GCC unroll 16
        for (int h = 0; h < 2; h++) {
            int64_t n = qa2_left(k - i - 8 * h);
            __m256 wv[2], xv[2];
            #pragma GCC unroll 16
            for (int a = 0; a < R; a++)
                wv[a] = load_w(w + (size_t)((r + a) * k) * wsize, i + 8 * h, n, kd);
            #pragma GCC unroll 16
            for (int t = 0; t < T; t++)
                xv[t] = load_x(x + t * k + i + 8 * h, n);
            #pragma GCC unroll 16
            for (int a = 0; a < R; a++)
                #pragma GCC unroll 16
                for (int t = 0; t < T; t++)
                    acc[a][t][h] = _mm256_fmadd_ps(wv[a], xv[t], acc[a][t][h]);
        }
    }
    #pragma GCC unroll 16
    for (int a = 0; a < R; a++)
        #pragma GCC unroll 16
        for (int t = 0; t < T; t++)
            y[t * ldy + r + a] = qa2_tree16(acc[a][t][0], acc[a][t][1]);
}

INLINE void mm(const void *w, size_t wsize, const float *x, int64_t k, int64_t nt, int64_t r0,
               int64_t r1, float *y, int64_t ldy, wkind kd)
{
    for (int64_t r = r0; r < r1;) {
        int two = r1 - r >= 2;
        int64_t t = 0;
        for (; t + 2 <= nt; t += 2) {
            if (two)
                tile(w, wsize, x + t * k, k, r, 2, 2, y + t * ldy, ldy, kd);
            else
                tile(w, wsize, x + t * k, k, r, 1, 2, y + t * ldy, ldy, kd);
        }
        if (t < nt) {
            if (two)
                tile(w, wsize, x + t * k, k, r, 2, 1, y + t * ldy, ldy, kd);
            else
                tile(w, wsize, x + t * k, k, r, 1, 1, y + t * ldy, ldy, kd);
        }
        r += two ? 2 : 1;
    }
}

void qa2_mm_f32(const float *w, const float *x, int64_t k, int64_t nt, int64_t r0, int64_t r1,
                float *y, int64_t ldy)
{
    mm(w, 4, x, k, nt, r0, r1, y, ldy, W_F32);
}

void qa2_mm_f16(const uint16_t *w, const float *x, int64_t k, int64_t nt, int64_t r0, int64_t r1,
                float *y, int64_t ldy)
{
    mm(w, 2, x, k, nt, r0, r1, y, ldy, W_F16);
}

void qa2_mm_bf16(const uint16_t *w, const float *x, int64_t k, int64_t nt, int64_t r0, int64_t r1,
                 float *y, int64_t ldy)
{
    mm(w, 2, x, k, nt, r0, r1, y, ldy, W_BF16);
}
