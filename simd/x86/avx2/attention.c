/* AVX2 attention helpers: Q.K for two keys at a time (two dot16 chains of
 * two ymm each), and P.V with a 32-float slice of y held in registers across
 * all keys. Zero-filled tail lanes leave the chains exactly as they were. */
#include "simd/x86/avx2/avx2.h"

static inline __m256 load(const float *p, int64_t n)
{
    return n >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, qa2_mask(n < 0 ? 0 : n));
}

void qa2_dot_rows(float *out, const float *q, const float *k, int64_t m, int64_t ld, int64_t n,
                  float scale)
{
    int64_t j = 0;
    for (; j + 2 <= m; j += 2) {
        const float *k0 = k + j * ld, *k1 = k0 + ld;
        __m256 a0l = _mm256_setzero_ps(), a0h = a0l, a1l = a0l, a1h = a0l;
        for (int64_t i = 0; i < n; i += 16) {
            int64_t nl = n - i, nh = n - i - 8;
            __m256 ql = load(q + i, nl), qh = load(q + i + 8, nh);
            a0l = _mm256_fmadd_ps(ql, load(k0 + i, nl), a0l);
            a0h = _mm256_fmadd_ps(qh, load(k0 + i + 8, nh), a0h);
            a1l = _mm256_fmadd_ps(ql, load(k1 + i, nl), a1l);
            a1h = _mm256_fmadd_ps(qh, load(k1 + i + 8, nh), a1h);
        }
        out[j] = qa2_tree16(a0l, a0h) * scale;
        out[j + 1] = qa2_tree16(a1l, a1h) * scale;
    }
    for (; j < m; j++)
        out[j] = qa2_dot(q, k + j * ld, n) * scale;
}

void qa2_axpy_rows(float *y, const float *a, const float *v, int64_t m, int64_t ld, int64_t n)
{
    for (int64_t i = 0; i < n; i += 32) {
        int64_t c[4];
        __m256 yv[4];
        for (int b = 0; b < 4; b++) {
            c[b] = qa2_left(n - i - 8 * b);
            yv[b] = load(y + i + 8 * b, c[b]);
        }
        for (int64_t j = 0; j < m; j++) { /* key order: each y lane is the reference's chain */
            const float *vr = v + j * ld + i;
            __m256 va = _mm256_set1_ps(a[j]);
            for (int b = 0; b < 4; b++)
                yv[b] = _mm256_fmadd_ps(va, load(vr + 8 * b, c[b]), yv[b]);
        }
        for (int b = 0; b < 4; b++)
            if (c[b] > 0)
                _mm256_maskstore_ps(y + i + 8 * b, qa2_mask(c[b]), yv[b]);
    }
}
