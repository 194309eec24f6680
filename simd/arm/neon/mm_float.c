/* NEON float-weight matmuls (f32, f16, bf16 weights; f32 activations).
 * Each (row, token) output is one dot16 chain in four float32x4; a tile of
 * 2 rows x 2 tokens keeps four chains in flight. The last partial group of
 * 16 is zero-padded (fmaf(0, 0, a) == a). */
#include <string.h>

#include "simd/arm/neon/neon.h"

typedef enum { W_F32, W_F16, W_BF16 } wkind;

#define INLINE static inline __attribute__((always_inline))

/* 16 weights from element i of a row (n of them valid), widened exactly. */
INLINE qn_f16x load_w(const void *row, int64_t i, int64_t n, wkind kd)
{
    qn_f16x v;
    if (kd == W_F32) {
        float t[16] = {0};
        const float *p = (const float *)row + i;
        if (n < 16)
            p = memcpy(t, p, (size_t)n * sizeof *p);
        #pragma GCC unroll 16
        for (int q = 0; q < 4; q++)
            v.v[q] = vld1q_f32(p + 4 * q);
        return v;
    }
    uint16_t t[16] = {0};
    const uint16_t *p = (const uint16_t *)row + i;
    if (n < 16)
        p = memcpy(t, p, (size_t)n * sizeof *p);
    #pragma GCC unroll 16
    for (int q = 0; q < 4; q++) {
        uint16x4_t h = vld1_u16(p + 4 * q);
        v.v[q] = kd == W_F16 ? vcvt_f32_f16(vreinterpret_f16_u16(h))
                             : vreinterpretq_f32_u32(vshll_n_u16(h, 16));
    }
    return v;
}

INLINE void tile(const char *w, size_t wsize, const float *x, int64_t k, int64_t r, int R, int T,
                 float *y, int64_t ldy, wkind kd)
{
    qn_f16x acc[2][2];
    #pragma GCC unroll 16
    for (int a = 0; a < R; a++)
        #pragma GCC unroll 16
        for (int t = 0; t < T; t++)
            acc[a][t] = qn_zero16();
    for (int64_t i = 0; i < k; i += 16) {
        int64_t n = k - i;
        qn_f16x wv[2], xv[2];
        #pragma GCC unroll 16
        for (int a = 0; a < R; a++)
            wv[a] = load_w(w + (size_t)((r + a) * k) * wsize, i, n, kd);
        #pragma GCC unroll 16
        for (int t = 0; t < T; t++)
            xv[t] = load_w(x + t * k, i, n, W_F32);
        #pragma GCC unroll 16
        for (int a = 0; a < R; a++)
            #pragma GCC unroll 16
            for (int t = 0; t < T; t++)
                #pragma GCC unroll 16
                for (int q = 0; q < 4; q++)
                    acc[a][t].v[q] = vfmaq_f32(acc[a][t].v[q], wv[a].v[q], xv[t].v[q]);
    }
    #pragma GCC unroll 16
    for (int a = 0; a < R; a++)
        #pragma GCC unroll 16
        for (int t = 0; t < T; t++)
            y[t * ldy + r + a] = qn_tree16(acc[a][t]);
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

void qn_mm_f32(const float *w, const float *x, int64_t k, int64_t nt, int64_t r0, int64_t r1,
               float *y, int64_t ldy)
{
    mm(w, 4, x, k, nt, r0, r1, y, ldy, W_F32);
}

void qn_mm_f16(const uint16_t *w, const float *x, int64_t k, int64_t nt, int64_t r0, int64_t r1,
               float *y, int64_t ldy)
{
    mm(w, 2, x, k, nt, r0, r1, y, ldy, W_F16);
}

void qn_mm_bf16(const uint16_t *w, const float *x, int64_t k, int64_t nt, int64_t r0, int64_t r1,
                float *y, int64_t ldy)
{
    mm(w, 2, x, k, nt, r0, r1, y, ldy, W_BF16);
}
