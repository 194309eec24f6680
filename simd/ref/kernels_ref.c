/* Scalar reference kernels: the executable specification of simd/kernels.h.
 * Written for clarity, not speed; every ISA set must match them bit for bit. */
#include <math.h>

#include "formats/common/half.h"
#include "simd/kernels.h"
#include "simd/ref/qmath.h"
#include "simd/ref/ref.h"

static float tree16(float a[16])
{
    for (int w = 8; w >= 1; w /= 2)
        for (int l = 0; l < w; l++)
            a[l] = a[l] + a[l + w];
    return a[0];
}

float qlm_ref_sum16(const float *x, int64_t n)
{
    float a[16] = {0};
    for (int64_t i = 0; i < n; i++)
        a[i % 16] = a[i % 16] + x[i];
    return tree16(a);
}

float qlm_ref_dot16(const float *x, const float *y, int64_t n)
{
    float a[16] = {0};
    for (int64_t i = 0; i < n; i++)
        a[i % 16] = fmaf(x[i], y[i], a[i % 16]);
    return tree16(a);
}

float qlm_ref_quant_block(const float *x, int64_t n, int8_t *q)
{
    float amax = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        float a = fabsf(x[i]);
        if (a > amax)
            amax = a;
    }
    float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    for (int64_t i = 0; i < n; i++) {
        float v = nearbyintf(x[i] * id);
        if (v != v) /* 0 * inf: 127/amax overflows when amax < 127/FLT_MAX */
            v = 0.0f;
        if (v > 127.0f) v = 127.0f;
        if (v < -127.0f) v = -127.0f;
        q[i] = (int8_t)v;
    }
    return amax / 127.0f;
}

void qlm_ref_quant_act(const float *x, qlm_block_q8a *out, int64_t k)
{
    for (int64_t b = 0; b < k / 32; b++)
        out[b].d = qlm_ref_quant_block(x + b * 32, 32, out[b].q);
}

static float dot_q8_row(const qlm_block_q8 *w, const qlm_block_q8a *x, int64_t nb)
{
    float acc = 0.0f;
    for (int64_t j = 0; j < nb; j++) {
        int32_t isum = 0;
        for (int i = 0; i < 32; i++)
            isum += (int32_t)w[j].q[i] * (int32_t)x[j].q[i];
        float s = qlm_f16_to_f32(w[j].d) * x[j].d;
        acc = fmaf((float)isum, s, acc);
    }
    return acc;
}

static float dot_q4_row(const qlm_block_q4 *w, const qlm_block_q8a *x, int64_t nb)
{
    float acc = 0.0f;
    for (int64_t j = 0; j < nb; j++) {
        int32_t isum = 0;
        for (int i = 0; i < 16; i++) {
            isum += ((int32_t)(w[j].qs[i] & 15) - 8) * (int32_t)x[j].q[i];
            isum += ((int32_t)(w[j].qs[i] >> 4) - 8) * (int32_t)x[j].q[i + 16];
        }
        float s = qlm_f16_to_f32(w[j].d) * x[j].d;
        acc = fmaf((float)isum, s, acc);
    }
    return acc;
}

static void mm_q8(const qlm_block_q8 *w, const qlm_block_q8a *x, int64_t nb, int64_t nt,
                  int64_t r0, int64_t r1, float *y, int64_t ldy)
{
    for (int64_t t = 0; t < nt; t++)
        for (int64_t r = r0; r < r1; r++)
            y[t * ldy + r] = dot_q8_row(w + r * nb, x + t * nb, nb);
}

static void mm_q4(const qlm_block_q4 *w, const qlm_block_q8a *x, int64_t nb, int64_t nt,
                  int64_t r0, int64_t r1, float *y, int64_t ldy)
{
    for (int64_t t = 0; t < nt; t++)
        for (int64_t r = r0; r < r1; r++)
            y[t * ldy + r] = dot_q4_row(w + r * nb, x + t * nb, nb);
}

static void mm_f32(const float *w, const float *x, int64_t k, int64_t nt, int64_t r0, int64_t r1,
                   float *y, int64_t ldy)
{
    for (int64_t t = 0; t < nt; t++)
        for (int64_t r = r0; r < r1; r++)
            y[t * ldy + r] = qlm_ref_dot16(w + r * k, x + t * k, k);
}

/* Half-precision weights: widen exactly, then the dot16 order. */
static float dot_f16_row(const uint16_t *w, const float *x, int64_t k, int bf16)
{
    float a[16] = {0};
    for (int64_t i = 0; i < k; i++) {
        float wf = bf16 ? qlm_bf16_to_f32(w[i]) : qlm_f16_to_f32(w[i]);
        a[i % 16] = fmaf(wf, x[i], a[i % 16]);
    }
    return tree16(a);
}

static void mm_f16(const uint16_t *w, const float *x, int64_t k, int64_t nt, int64_t r0, int64_t r1,
                   float *y, int64_t ldy)
{
    for (int64_t t = 0; t < nt; t++)
        for (int64_t r = r0; r < r1; r++)
            y[t * ldy + r] = dot_f16_row(w + r * k, x + t * k, k, 0);
}

static void mm_bf16(const uint16_t *w, const float *x, int64_t k, int64_t nt, int64_t r0, int64_t r1,
                    float *y, int64_t ldy)
{
    for (int64_t t = 0; t < nt; t++)
        for (int64_t r = r0; r < r1; r++)
            y[t * ldy + r] = dot_f16_row(w + r * k, x + t * k, k, 1);
}

static void axpy(float *y, float a, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = fmaf(a, x[i], y[i]);
}

static void dot_rows(float *out, const float *q, const float *k, int64_t m, int64_t ld, int64_t n,
                     float scale)
{
    for (int64_t j = 0; j < m; j++)
        out[j] = qlm_ref_dot16(q, k + j * ld, n) * scale;
}

static void axpy_rows(float *y, const float *a, const float *v, int64_t m, int64_t ld, int64_t n)
{
    for (int64_t j = 0; j < m; j++)
        axpy(y, a[j], v + j * ld, n);
}

static void rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps)
{
    float ss = qlm_ref_dot16(x, x, n);
    float r = 1.0f / sqrtf(ss / (float)n + eps);
    for (int64_t i = 0; i < n; i++)
        out[i] = (x[i] * r) * w[i];
}

static void softmax(float *x, int64_t n)
{
    if (n <= 0)
        return;
    float m = x[0];
    for (int64_t i = 1; i < n; i++)
        if (x[i] > m)
            m = x[i];
    for (int64_t i = 0; i < n; i++)
        x[i] = qlm_expf(x[i] - m);
    float s = qlm_ref_sum16(x, n);
    for (int64_t i = 0; i < n; i++)
        x[i] = x[i] / s;
}

static void silu_mul(float *g, const float *u, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        g[i] = (g[i] / (1.0f + qlm_expf(-g[i]))) * u[i];
}

static void rope(float *x, const float *c, const float *s, int64_t d)
{
    int64_t h = d / 2;
    for (int64_t i = 0; i < h; i++) {
        float a = x[i], b = x[i + h];
        x[i] = a * c[i] - b * s[i];
        x[i + h] = b * c[i] + a * s[i];
    }
}

static const qlm_kernels k_ref = {
    .name = "scalar",
    .quant_act = qlm_ref_quant_act,
    .mm_q8 = mm_q8,
    .mm_q4 = mm_q4,
    .mm_f32 = mm_f32,
    .mm_f16 = mm_f16,
    .mm_bf16 = mm_bf16,
    .dot = qlm_ref_dot16,
    .sum = qlm_ref_sum16,
    .axpy = axpy,
    .dot_rows = dot_rows,
    .axpy_rows = axpy_rows,
    .rmsnorm = rmsnorm,
    .softmax = softmax,
    .silu_mul = silu_mul,
    .rope = rope,
};

const qlm_kernels *qlm_kernels_ref(void) { return &k_ref; }
