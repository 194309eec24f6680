/* AVX2 vector kernels. Accumulator lanes never hold -0 (they start at +0
 * and x + y == 0 rounds to +0), so adding a zero-filled tail lane, or
 * fmaf(0, 0, a), leaves a lane exactly as it was. */
#include <math.h>

#include "simd/x86/avx2/avx2.h"

/* n floats from p (n in 0..8), the rest 0. */
static inline __m256 load(const float *p, int64_t n)
{
    return n >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, qa2_mask(n));
}

static inline void store(float *p, __m256 v, int64_t n)
{
    if (n >= 8)
        _mm256_storeu_ps(p, v);
    else
        _mm256_maskstore_ps(p, qa2_mask(n), v);
}

float qa2_sum(const float *x, int64_t n)
{
    __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
    for (int64_t i = 0; i < n; i += 16) {
        lo = _mm256_add_ps(lo, load(x + i, qa2_left(n - i)));
        hi = _mm256_add_ps(hi, load(x + i + 8, qa2_left(n - i - 8)));
    }
    return qa2_tree16(lo, hi);
}

float qa2_dot(const float *x, const float *y, int64_t n)
{
    __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
    for (int64_t i = 0; i < n; i += 16) {
        int64_t a = qa2_left(n - i), b = qa2_left(n - i - 8);
        lo = _mm256_fmadd_ps(load(x + i, a), load(y + i, a), lo);
        hi = _mm256_fmadd_ps(load(x + i + 8, b), load(y + i + 8, b), hi);
    }
    return qa2_tree16(lo, hi);
}

void qa2_axpy(float *y, float a, const float *x, int64_t n)
{
    __m256 va = _mm256_set1_ps(a);
    for (int64_t i = 0; i < n; i += 8) {
        int64_t m = qa2_left(n - i);
        store(y + i, _mm256_fmadd_ps(va, load(x + i, m), load(y + i, m)), m);
    }
}

void qa2_rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps)
{
    float ss = qa2_dot(x, x, n);
    __m256 r = _mm256_set1_ps(1.0f / sqrtf(ss / (float)n + eps));
    for (int64_t i = 0; i < n; i += 8) {
        int64_t m = qa2_left(n - i);
        store(out + i, _mm256_mul_ps(_mm256_mul_ps(load(x + i, m), r), load(w + i, m)), m);
    }
}

void qa2_softmax(float *x, int64_t n)
{
    if (n <= 0)
        return;
    __m256 x0 = _mm256_set1_ps(x[0]), mx = x0;
    for (int64_t i = 0; i < n; i += 8) { /* tail lanes repeat x[0] */
        int64_t m = qa2_left(n - i);
        mx = _mm256_max_ps(mx, _mm256_blendv_ps(x0, load(x + i, m), _mm256_castsi256_ps(qa2_mask(m))));
    }
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    __m256 vm = _mm256_set1_ps(_mm_cvtss_f32(_mm_max_ss(m4, _mm_movehdup_ps(m4))));
    __m256 s[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int64_t i = 0; i < n; i += 8) {
        int64_t m = qa2_left(n - i);
        __m256 e = qa2_expf(_mm256_sub_ps(load(x + i, m), vm));
        e = _mm256_and_ps(e, _mm256_castsi256_ps(qa2_mask(m))); /* tail lanes add +0 */
        store(x + i, e, m);
        s[(i / 8) % 2] = _mm256_add_ps(s[(i / 8) % 2], e);
    }
    __m256 vs = _mm256_set1_ps(qa2_tree16(s[0], s[1]));
    for (int64_t i = 0; i < n; i += 8) {
        int64_t m = qa2_left(n - i);
        store(x + i, _mm256_div_ps(load(x + i, m), vs), m);
    }
}

void qa2_silu_mul(float *g, const float *u, int64_t n)
{
    __m256 one = _mm256_set1_ps(1.0f), sign = _mm256_set1_ps(-0.0f);
    for (int64_t i = 0; i < n; i += 8) {
        int64_t m = qa2_left(n - i);
        __m256 v = load(g + i, m);
        __m256 e = qa2_expf(_mm256_xor_ps(v, sign));
        store(g + i, _mm256_mul_ps(_mm256_div_ps(v, _mm256_add_ps(one, e)), load(u + i, m)), m);
    }
}

void qa2_rope(float *x, const float *c, const float *s, int64_t d)
{
    int64_t h = d / 2;
    for (int64_t i = 0; i < h; i += 8) {
        int64_t m = qa2_left(h - i);
        __m256 a = load(x + i, m), b = load(x + i + h, m), vc = load(c + i, m), vs = load(s + i, m);
        store(x + i, _mm256_sub_ps(_mm256_mul_ps(a, vc), _mm256_mul_ps(b, vs)), m);
        store(x + i + h, _mm256_add_ps(_mm256_mul_ps(b, vc), _mm256_mul_ps(a, vs)), m);
    }
}
