/* NEON vector kernels. Reductions run 16 lanes at a time; the last partial
 * group is zero-padded, which leaves the accumulators exactly as they were
 * (they never hold -0, so a + 0 == a and fmaf(0, 0, a) == a). Lane-wise
 * kernels finish the last n % 4 elements with the reference's scalar code. */
#include <math.h>
#include <string.h>

#include "simd/arm/neon/neon.h"

/* n (0..16) floats from p, zero-padded. */
static qn_f16x load16(const float *p, int64_t n)
{
    float t[16] = {0};
    if (n < 16)
        p = memcpy(t, p, (size_t)n * sizeof *p);
    qn_f16x v = {{vld1q_f32(p), vld1q_f32(p + 4), vld1q_f32(p + 8), vld1q_f32(p + 12)}};
    return v;
}

float qn_sum(const float *x, int64_t n)
{
    qn_f16x a = qn_zero16();
    for (int64_t i = 0; i < n; i += 16) {
        qn_f16x v = load16(x + i, n - i);
        for (int q = 0; q < 4; q++)
            a.v[q] = vaddq_f32(a.v[q], v.v[q]);
    }
    return qn_tree16(a);
}

float qn_dot(const float *x, const float *y, int64_t n)
{
    qn_f16x a = qn_zero16();
    for (int64_t i = 0; i < n; i += 16) {
        qn_f16x u = load16(x + i, n - i), v = load16(y + i, n - i);
        for (int q = 0; q < 4; q++)
            a.v[q] = vfmaq_f32(a.v[q], u.v[q], v.v[q]);
    }
    return qn_tree16(a);
}

void qn_axpy(float *y, float a, const float *x, int64_t n)
{
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        vst1q_f32(y + i, vfmaq_n_f32(vld1q_f32(y + i), vld1q_f32(x + i), a));
    for (; i < n; i++)
        y[i] = fmaf(a, x[i], y[i]);
}

void qn_rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps)
{
    float ss = qn_dot(x, x, n);
    float r = 1.0f / sqrtf(ss / (float)n + eps);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        vst1q_f32(out + i, vmulq_f32(vmulq_n_f32(vld1q_f32(x + i), r), vld1q_f32(w + i)));
    for (; i < n; i++)
        out[i] = (x[i] * r) * w[i];
}

void qn_softmax(float *x, int64_t n)
{
    if (n <= 0)
        return;
    float m = x[0];
    int64_t i = 0;
    if (n >= 4) { /* max is exact in any order */
        float32x4_t mv = vld1q_f32(x);
        for (i = 4; i + 4 <= n; i += 4)
            mv = vmaxq_f32(mv, vld1q_f32(x + i));
        m = vmaxvq_f32(mv);
    }
    for (; i < n; i++)
        if (x[i] > m)
            m = x[i];
    float32x4_t vm = vdupq_n_f32(m);
    for (i = 0; i + 4 <= n; i += 4)
        vst1q_f32(x + i, qn_expf(vsubq_f32(vld1q_f32(x + i), vm)));
    for (; i < n; i++)
        x[i] = qlm_expf(x[i] - m);
    float s = qn_sum(x, n);
    float32x4_t vs = vdupq_n_f32(s);
    for (i = 0; i + 4 <= n; i += 4)
        vst1q_f32(x + i, vdivq_f32(vld1q_f32(x + i), vs));
    for (; i < n; i++)
        x[i] = x[i] / s;
}

void qn_silu_mul(float *g, const float *u, int64_t n)
{
    float32x4_t one = vdupq_n_f32(1.0f);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        float32x4_t v = vld1q_f32(g + i);
        float32x4_t e = qn_expf(vnegq_f32(v));
        vst1q_f32(g + i, vmulq_f32(vdivq_f32(v, vaddq_f32(one, e)), vld1q_f32(u + i)));
    }
    for (; i < n; i++)
        g[i] = (g[i] / (1.0f + qlm_expf(-g[i]))) * u[i];
}

void qn_rope(float *x, const float *c, const float *s, int64_t d)
{
    int64_t h = d / 2, i = 0;
    for (; i + 4 <= h; i += 4) {
        float32x4_t a = vld1q_f32(x + i), b = vld1q_f32(x + i + h);
        float32x4_t vc = vld1q_f32(c + i), vs = vld1q_f32(s + i);
        vst1q_f32(x + i, vsubq_f32(vmulq_f32(a, vc), vmulq_f32(b, vs)));
        vst1q_f32(x + i + h, vaddq_f32(vmulq_f32(b, vc), vmulq_f32(a, vs)));
    }
    for (; i < h; i++) {
        float a = x[i], b = x[i + h];
        x[i] = a * c[i] - b * s[i];
        x[i + h] = b * c[i] + a * s[i];
    }
}
