/* NEON (aarch64 + dotprod) kernel set: shared inline helpers and the
 * functions of the table. The reference's 16 lanes are four float32x4:
 * v[q] holds lanes 4q..4q+3. */
#ifndef QLM_SIMD_NEON_H
#define QLM_SIMD_NEON_H

#include <arm_neon.h>
#include <stdint.h>

#include "simd/kernels.h"
#include "simd/ref/qmath.h"

typedef struct {
    float32x4_t v[4];
} qn_f16x;

static inline qn_f16x qn_zero16(void)
{
    qn_f16x a = {{vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)}};
    return a;
}

/* The fixed tree of sum16/dot16: w = 8, 4, 2, 1; a[l] = a[l] + a[l + w]. */
static inline float qn_tree16(qn_f16x a)
{
    float32x4_t s8lo = vaddq_f32(a.v[0], a.v[2]), s8hi = vaddq_f32(a.v[1], a.v[3]);
    float32x4_t s4 = vaddq_f32(s8lo, s8hi);
    float32x2_t s2 = vadd_f32(vget_low_f32(s4), vget_high_f32(s4));
    return vget_lane_f32(vpadd_f32(s2, s2), 0);
}

static inline float32x4_t qn_pow2i(int32x4_t k)
{
    return vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(k, vdupq_n_s32(127)), 23));
}

/* qlm_expf() lane by lane: the same roundings in the same order. */
static inline float32x4_t qn_expf(float32x4_t x)
{
    float32x4_t n = vrndnq_f32(vmulq_f32(x, vdupq_n_f32(QLM_LOG2E)));
    float32x4_t r = vfmaq_f32(x, n, vdupq_n_f32(-QLM_LN2_HI));
    r = vfmaq_f32(r, n, vdupq_n_f32(-QLM_LN2_LO));
    float32x4_t p = vdupq_n_f32(qlm_expf_poly[7]);
    for (int i = 6; i >= 0; i--)
        p = vfmaq_f32(vdupq_n_f32(qlm_expf_poly[i]), p, r);
    int32x4_t ni = vcvtq_s32_f32(n);
    /* n1 = ni / 2 truncating toward zero, n2 = ni - n1 */
    int32x4_t n1 = vshrq_n_s32(vaddq_s32(ni, vreinterpretq_s32_u32(vshrq_n_u32(vreinterpretq_u32_s32(ni), 31))), 1);
    int32x4_t n2 = vsubq_s32(ni, n1);
    float32x4_t y = vmulq_f32(vmulq_f32(p, qn_pow2i(n1)), qn_pow2i(n2));
    y = vbslq_f32(vcgtq_f32(x, vdupq_n_f32(QLM_EXPF_HI)), vdupq_n_f32(INFINITY), y);
    y = vbslq_f32(vcltq_f32(x, vdupq_n_f32(QLM_EXPF_LO)), vdupq_n_f32(0.0f), y);
    return vbslq_f32(vceqq_f32(x, x), y, x);
}

void qn_quant_act(const float *x, qlm_block_q8a *out, int64_t k);
void qn_mm_q8(const qlm_block_q8 *w, const qlm_block_q8a *x, int64_t nb, int64_t nt, int64_t r0,
              int64_t r1, float *y, int64_t ldy);
void qn_mm_q4(const qlm_block_q4 *w, const qlm_block_q8a *x, int64_t nb, int64_t nt, int64_t r0,
              int64_t r1, float *y, int64_t ldy);
void qn_mm_f32(const float *w, const float *x, int64_t k, int64_t nt, int64_t r0, int64_t r1,
               float *y, int64_t ldy);
void qn_mm_f16(const uint16_t *w, const float *x, int64_t k, int64_t nt, int64_t r0, int64_t r1,
               float *y, int64_t ldy);
void qn_mm_bf16(const uint16_t *w, const float *x, int64_t k, int64_t nt, int64_t r0, int64_t r1,
                float *y, int64_t ldy);
float qn_dot(const float *x, const float *y, int64_t n);
float qn_sum(const float *x, int64_t n);
void qn_axpy(float *y, float a, const float *x, int64_t n);
void qn_dot_rows(float *out, const float *q, const float *k, int64_t m, int64_t ld, int64_t n,
                float scale);
void qn_axpy_rows(float *y, const float *a, const float *v, int64_t m, int64_t ld, int64_t n);
void qn_rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps);
void qn_softmax(float *x, int64_t n);
void qn_silu_mul(float *g, const float *u, int64_t n);
void qn_rope(float *x, const float *cos, const float *sin, int64_t head_dim);

#endif
