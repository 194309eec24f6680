/* AVX-512 attention helpers: Q.K for four keys at a time (four independent
 * dot16 chains), and P.V with a 64-float slice of y held in registers across
 * all keys instead of a load and store per key. */
#include "simd/x86/avx512/avx512.h"

static inline __mmask16 lanes(int64_t left) { return left >= 16 ? 0xFFFF : left <= 0 ? 0 : qa5_mask(left); }

void qa5_dot_rows(float *out, const float *q, const float *k, int64_t m, int64_t ld, int64_t n,
                  float scale)
{
    int64_t j = 0;
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
