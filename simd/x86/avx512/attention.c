/* AVX-512 attention helpers: Q.K for sixteen keys at a time (independent
 * dot16 chains, their trees batched), and P.V with a 64-float slice of y held in registers across
 * all keys instead of a load and store per key. */
#include "simd/x86/avx512/avx512.h"

static inline __mmask16 lanes(int64_t left) { return left >= 16 ? 0xFFFF : left <= 0 ? 0 : qa5_mask(left); }

/* The sum16 trees of 16 accumulators at once: each step adds halves a[l] +
 * a[l+w] of two vectors packed into one, so every lane follows the fixed
 * tree (w = 8, 4, 2, 1) in 15 adds and 30 shuffles instead of 16 x 8 ops.
 * Lane i of the result is the tree of a[(i % 4) * 4 + i / 4]. */
static inline __attribute__((always_inline)) __m512 tree16x16(const __m512 *a)
{
    __m512 u[8], v[4], w[2];
    #pragma GCC unroll 8
    for (int p = 0; p < 8; p++)
        u[p] = _mm512_add_ps(_mm512_shuffle_f32x4(a[2 * p], a[2 * p + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm512_shuffle_f32x4(a[2 * p], a[2 * p + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    #pragma GCC unroll 4
    for (int r = 0; r < 4; r++)
        v[r] = _mm512_add_ps(_mm512_shuffle_f32x4(u[2 * r], u[2 * r + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                             _mm512_shuffle_f32x4(u[2 * r], u[2 * r + 1], _MM_SHUFFLE(3, 1, 3, 1)));
    #pragma GCC unroll 2
    for (int s = 0; s < 2; s++)
        w[s] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(v[2 * s]), _mm512_castps_pd(v[2 * s + 1]))),
                             _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(v[2 * s]), _mm512_castps_pd(v[2 * s + 1]))));
    return _mm512_add_ps(_mm512_shuffle_ps(w[0], w[1], _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm512_shuffle_ps(w[0], w[1], _MM_SHUFFLE(3, 1, 3, 1)));
}

/* Keys j..j+15: the dot16 chains of all 16, then one batched tree. */
static void dot16_keys(float *out, const float *q, const float *k, int64_t ld, int64_t n, float scale)
{
    __m512 a[16];
    #pragma GCC unroll 16
    for (int s = 0; s < 16; s++)
        a[s] = _mm512_setzero_ps();
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 mk = lanes(n - i);
        __m512 vq = _mm512_maskz_loadu_ps(mk, q + i);
        #pragma GCC unroll 16
        for (int s = 0; s < 16; s++) /* slot s holds key (s % 4) * 4 + s / 4: lane order on output */
            a[s] = _mm512_mask3_fmadd_ps(vq, _mm512_maskz_loadu_ps(mk, k + ((s % 4) * 4 + s / 4) * ld + i), a[s], mk);
    }
    _mm512_storeu_ps(out, _mm512_mul_ps(tree16x16(a), _mm512_set1_ps(scale)));
}

void qa5_dot_rows(float *out, const float *q, const float *k, int64_t m, int64_t ld, int64_t n,
                  float scale)
{
    int64_t j = 0;
    for (; j + 16 <= m; j += 16)
        dot16_keys(out + j, q, k + j * ld, ld, n, scale);
    for (; j + 4 <= m; j += 4) {
        const float *k0 = k + j * ld, *k1 = k0 + ld, *k2 = k1 + ld, *k3 = k2 + ld;
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int64_t i = 0; i < n; i += 16) {
            __mmask16 mk = lanes(n - i);
            __m512 vq = _mm512_maskz_loadu_ps(mk, q + i);
            a0 = _mm512_mask3_fmadd_ps(vq, _mm512_maskz_loadu_ps(mk, k0 + i), a0, mk);
            a1 = _mm512_mask3_fmadd_ps(vq, _mm512_maskz_loadu_ps(mk, k1 + i), a1, mk);
            a2 = _mm512_mask3_fmadd_ps(vq, _mm512_maskz_loadu_ps(mk, k2 + i), a2, mk);
            a3 = _mm512_mask3_fmadd_ps(vq, _mm512_maskz_loadu_ps(mk, k3 + i), a3, mk);
        }
        out[j] = qa5_tree16(a0) * scale;
        out[j + 1] = qa5_tree16(a1) * scale;
        out[j + 2] = qa5_tree16(a2) * scale;
        out[j + 3] = qa5_tree16(a3) * scale;
    }
    for (; j < m; j++)
        out[j] = qa5_dot(q, k + j * ld, n) * scale;
}

void qa5_axpy_rows(float *y, const float *a, const float *v, int64_t m, int64_t ld, int64_t n)
{
    for (int64_t i = 0; i < n; i += 64) {
        __mmask16 m0 = lanes(n - i), m1 = lanes(n - i - 16), m2 = lanes(n - i - 32), m3 = lanes(n - i - 48);
        __m512 y0 = _mm512_maskz_loadu_ps(m0, y + i), y1 = _mm512_maskz_loadu_ps(m1, y + i + 16);
        __m512 y2 = _mm512_maskz_loadu_ps(m2, y + i + 32), y3 = _mm512_maskz_loadu_ps(m3, y + i + 48);
        for (int64_t j = 0; j < m; j++) { /* key order: each y lane is the reference's chain */
            const float *vr = v + j * ld + i;
            __m512 va = _mm512_set1_ps(a[j]);
            y0 = _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(m0, vr), y0);
            y1 = _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(m1, vr + 16), y1);
            y2 = _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(m2, vr + 32), y2);
            y3 = _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(m3, vr + 48), y3);
        }
        _mm512_mask_storeu_ps(y + i, m0, y0);
        _mm512_mask_storeu_ps(y + i + 16, m1, y1);
        _mm512_mask_storeu_ps(y + i + 32, m2, y2);
        _mm512_mask_storeu_ps(y + i + 48, m3, y3);
    }
}
