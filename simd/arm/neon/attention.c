/* NEON attention helpers: Q.K for two keys at a time (two dot16 chains),
 * and P.V with a 16-float slice of y held in registers across all keys;
 * the last n % 4 elements take the reference's scalar fmaf chain. */
#include <math.h>

#include "simd/arm/neon/neon.h"

void qn_dot_rows(float *out, const float *q, const float *k, int64_t m, int64_t ld, int64_t n,
                 float scale)
{
    int64_t j = 0;
    if (n % 16 == 0) { /* whole groups of 16: no padding needed */
        for (; j + 2 <= m; j += 2) {
            const float *k0 = k + j * ld, *k1 = k0 + ld;
            qn_f16x a0 = qn_zero16(), a1 = qn_zero16();
            for (int64_t i = 0; i < n; i += 16)
                for (int c = 0; c < 4; c++) {
                    float32x4_t vq = vld1q_f32(q + i + 4 * c);
                    a0.v[c] = vfmaq_f32(a0.v[c], vq, vld1q_f32(k0 + i + 4 * c));
                    a1.v[c] = vfmaq_f32(a1.v[c], vq, vld1q_f32(k1 + i + 4 * c));
                }
            out[j] = qn_tree16(a0) * scale;
            out[j + 1] = qn_tree16(a1) * scale;
        }
    }
    for (; j < m; j++)
        out[j] = qn_dot(q, k + j * ld, n) * scale;
}

void qn_axpy_rows(float *y, const float *a, const float *v, int64_t m, int64_t ld, int64_t n)
{
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        float32x4_t y0 = vld1q_f32(y + i), y1 = vld1q_f32(y + i + 4);
        float32x4_t y2 = vld1q_f32(y + i + 8), y3 = vld1q_f32(y + i + 12);
        for (int64_t j = 0; j < m; j++) { /* key order: each y lane is the reference's chain */
            const float *vr = v + j * ld + i;
            y0 = vfmaq_n_f32(y0, vld1q_f32(vr), a[j]);
            y1 = vfmaq_n_f32(y1, vld1q_f32(vr + 4), a[j]);
            y2 = vfmaq_n_f32(y2, vld1q_f32(vr + 8), a[j]);
            y3 = vfmaq_n_f32(y3, vld1q_f32(vr + 12), a[j]);
        }
        vst1q_f32(y + i, y0);
        vst1q_f32(y + i + 4, y1);
        vst1q_f32(y + i + 8, y2);
        vst1q_f32(y + i + 12, y3);
    }
    for (; i + 4 <= n; i += 4) {
        float32x4_t y0 = vld1q_f32(y + i);
        for (int64_t j = 0; j < m; j++)
            y0 = vfmaq_n_f32(y0, vld1q_f32(v + j * ld + i), a[j]);
        vst1q_f32(y + i, y0);
    }
    for (; i < n; i++)
        for (int64_t j = 0; j < m; j++)
            y[i] = fmaf(a[j], v[j * ld + i], y[i]);
}
