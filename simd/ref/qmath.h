/* Deterministic math shared by every kernel set (and by model set-up code):
 * no libm calls whose last bit may differ between platforms.
 *
 * qlm_expf: n = rne(x * log2e); r = x - n*ln2 (two-part, fmaf);
 * p = Taylor polynomial of degree 7 in Horner form with fmaf; result p * 2^n
 * applied as two exact power-of-two multiplies (so subnormal results round
 * once, correctly from p). Max error about 1 ulp over the normal range.
 * SIMD versions replicate these exact operations lane by lane.
 */
#ifndef QLM_QMATH_H
#define QLM_QMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#define QLM_EXPF_HI 88.72283935546875f   /* above: +inf */
#define QLM_EXPF_LO -103.972084045410156f /* below: +0 */
#define QLM_LOG2E 1.44269502162933349609f
#define QLM_LN2_HI 0.693145751953125f
#define QLM_LN2_LO 1.42860676533018052578e-06f

static const float qlm_expf_poly[8] = {
    1.0f, 1.0f, 0.5f, 0.16666667163372039795f, 0.041666667908430099487f,
    0.0083333337679505348206f, 0.0013888889225199818611f, 0.00019841270113829523325f};

static inline float qlm_pow2i(int k) /* 2^k for k in [-126, 127] */
{
    uint32_t u = (uint32_t)(k + 127) << 23;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline float qlm_expf(float x)
{
    if (x != x)
        return x;
    if (x > QLM_EXPF_HI)
        return INFINITY;
    if (x < QLM_EXPF_LO)
        return 0.0f;
    float n = nearbyintf(x * QLM_LOG2E);
    float r = fmaf(n, -QLM_LN2_HI, x);
    r = fmaf(n, -QLM_LN2_LO, r);
    float p = qlm_expf_poly[7];
    for (int i = 6; i >= 0; i--)
        p = fmaf(p, r, qlm_expf_poly[i]);
    int ni = (int)n;          /* in [-150, 128] */
    int n1 = ni / 2;          /* truncates toward zero */
    int n2 = ni - n1;
    return (p * qlm_pow2i(n1)) * qlm_pow2i(n2);
}

/* Double-precision sin/cos of |x| < 2^20 with our own argument reduction
 * (Cody-Waite, 3-part pi/2) and Taylor kernels; used only to build RoPE
 * tables, whose values are then rounded to float. */
void qlm_sincos_d(double x, double *s, double *c);
/* exp and log in double for table set-up (RoPE inverse frequencies). */
double qlm_exp_d(double x);
double qlm_log_d(double x);

#endif
