/* AVX-512 vector kernels: lane l of a zmm accumulator is lane l of the
 * reference's 16-lane array, tails use masked loads so masked-off lanes are
 * left exactly as they were. */
#include <math.h>

#include "simd/x86/avx512/avx512.h"

float qa5_sum(const float *x, int64_t n)
{
    __m512 a = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        a = _mm512_add_ps(a, _mm512_loadu_ps(x + i));
    if (i < n) {
        __mmask16 m = qa5_mask(n - i);
        a = _mm512_mask_add_ps(a, m, a, _mm512_maskz_loadu_ps(m, x + i));
    }
    return qa5_tree16(a);
}

float qa5_dot(const float *x, const float *y, int64_t n)
{
    __m512 a = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        a = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i), a);
    if (i < n) {
        __mmask16 m = qa5_mask(n - i);
        a = _mm512_mask3_fmadd_ps(_mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i), a, m);
    }
    return qa5_tree16(a);
}

void qa5_axpy(float *y, float a, const float *x, int64_t n)
{
    __m512 va = _mm512_set1_ps(a);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? 0xFFFF : qa5_mask(n - i);
        __m512 v = _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i));
        _mm512_mask_storeu_ps(y + i, m, v);
    }
}

void qa5_rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps)
{
    float ss = qa5_dot(x, x, n);
    __m512 r = _mm512_set1_ps(1.0f / sqrtf(ss / (float)n + eps));
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? 0xFFFF : qa5_mask(n - i);
        __m512 v = _mm512_mul_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), r),
                                 _mm512_maskz_loadu_ps(m, w + i));
        _mm512_mask_storeu_ps(out + i, m, v);
    }
}

void qa5_softmax(float *x, int64_t n)
{
    if (n <= 0)
        return;
    /* max is exact in any order */
    __m512 mx = _mm512_set1_ps(x[0]);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? 0xFFFF : qa5_mask(n - i);
        mx = _mm512_mask_max_ps(mx, m, mx, _mm512_maskz_loadu_ps(m, x + i));
    }
    __m512 vm = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
    /* e[i] and the sum16 lanes together: lane i%16 of the accumulator */
    __m512 s = _mm512_setzero_ps();
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? 0xFFFF : qa5_mask(n - i);
        __m512 e = qa5_expf(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), vm));
        _mm512_mask_storeu_ps(x + i, m, e);
        s = _mm512_mask_add_ps(s, m, s, e);
    }
    __m512 vs = _mm512_set1_ps(qa5_tree16(s));
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? 0xFFFF : qa5_mask(n - i);
        _mm512_mask_storeu_ps(x + i, m, _mm512_div_ps(_mm512_maskz_loadu_ps(m, x + i), vs));
    }
}

void qa5_silu_mul(float *g, const float *u, int64_t n)
{
    __m512 one = _mm512_set1_ps(1.0f);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? 0xFFFF : qa5_mask(n - i);
        __m512 v = _mm512_maskz_loadu_ps(m, g + i);
        __m512 e = qa5_expf(_mm512_xor_ps(v, _mm512_set1_ps(-0.0f))); /* -g, exact */
        v = _mm512_mul_ps(_mm512_div_ps(v, _mm512_add_ps(one, e)), _mm512_maskz_loadu_ps(m, u + i));
        _mm512_mask_storeu_ps(g + i, m, v);
    }
}

void qa5_rope(float *x, const float *c, const float *s, int64_t d)
{
    int64_t h = d / 2;
    for (int64_t i = 0; i < h; i += 16) {
        __mmask16 m = h - i >= 16 ? 0xFFFF : qa5_mask(h - i);
        __m512 a = _mm512_maskz_loadu_ps(m, x + i), b = _mm512_maskz_loadu_ps(m, x + i + h);
        __m512 vc = _mm512_maskz_loadu_ps(m, c + i), vs = _mm512_maskz_loadu_ps(m, s + i);
        _mm512_mask_storeu_ps(x + i, m, _mm512_sub_ps(_mm512_mul_ps(a, vc), _mm512_mul_ps(b, vs)));
        _mm512_mask_storeu_ps(x + i + h, m, _mm512_add_ps(_mm512_mul_ps(b, vc), _mm512_mul_ps(a, vs)));
    }
}
