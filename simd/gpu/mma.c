#include "simd/gpu/mma.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "formats/common/half.h"

/* RN_f32(a + b) of two doubles without double rounding: the double sum s is
 * off by the exact TwoSum error e, which only matters when s is a midpoint
 * between two floats (there RN(s) would break the tie the wrong way). */
static float round_sum(double a, double b)
{
    double s = a + b, bb = s - a, e = (a - (s - bb)) + (b - bb);
    float r = (float)s;
    if (e == 0.0 || (double)r == s)
        return r;
    float other = nextafterf(r, s > (double)r ? INFINITY : -INFINITY);
    if (((double)r + (double)other) / 2 != s)
        return r; /* not a tie: the tiny error cannot change the rounding */
    return (e > 0) == (other > r) ? other : r;
}

/* A 16-bit float split into sign, integer significand and nominal exponent:
 * value = (-1)^neg * sig * 2^(exp - frac). */
typedef struct {
    int neg, exp;
    uint32_t sig;
} half_parts;

static half_parts split16(uint16_t h, int frac)
{
    int ebits = 15 - frac, bias = (1 << (ebits - 1)) - 1;
    int e = (h >> frac) & ((1 << ebits) - 1);
    uint32_t m = h & ((1u << frac) - 1);
    half_parts p = {h >> 15, e ? e - bias : 1 - bias, e ? m | 1u << frac : m};
    return p;
}

/* |x| * 2^(from - to), truncated toward zero (to >= from - 63 is not needed:
 * callers guarantee the left shifts stay below 2^40). */
static int64_t align_rz(uint64_t x, int from, int to)
{
    int sh = to - from;
    if (sh <= 0)
        return (int64_t)(x << -sh);
    return sh >= 64 ? 0 : (int64_t)(x >> sh);
}

/* RZ to f32 of an integer times 2^q: the double is exact (|s| < 2^40), then a
 * round-to-nearest conversion that went away from zero is stepped back. */
static float to_f32_rz(int64_t s, int q)
{
    double v = ldexp((double)s, q);
    float f = (float)v;
    if (fabs((double)f) > fabs(v))
        f = nextafterf(f, 0.0f);
    return f == 0.0f ? 0.0f : f; /* a sum that truncates to zero is +0 */
}

static float dot16(const uint16_t *a, const uint16_t *b, float c, int frac)
{
    half_parts pa[16], pb[16];
    int emax = INT32_MIN, all_neg_zero = signbit(c) != 0;
    for (int k = 0; k < 16; k++) {
        pa[k] = split16(a[k], frac);
        pb[k] = split16(b[k], frac);
        if (pa[k].sig && pb[k].sig && pa[k].exp + pb[k].exp > emax)
            emax = pa[k].exp + pb[k].exp;
        all_neg_zero &= (pa[k].neg ^ pb[k].neg) || (pa[k].sig && pb[k].sig);
    }
    int ce;
    double cm = frexp((double)c, &ce); /* c = cm * 2^ce, 0.5 <= |cm| < 1 */
    if (c != 0.0f && ce - 1 > emax)
        emax = ce - 1;
    if (emax == INT32_MIN) /* C and every product are zeros */
        return all_neg_zero ? -0.0f : 0.0f;
    /* the unit every term is truncated to; it never goes below 2^-158 (seen
     * only with bf16, whose products reach 2^-266) */
    int q = emax - 25 > -158 ? emax - 25 : -158;
    int64_t sum = 0;
    for (int k = 0; k < 16; k++) {
        if (!pa[k].sig || !pb[k].sig)
            continue;
        int64_t t = align_rz((uint64_t)pa[k].sig * pb[k].sig, pa[k].exp + pb[k].exp - 2 * frac, q);
        sum += (pa[k].neg ^ pb[k].neg) ? -t : t;
    }
    if (c != 0.0f) {
        int64_t t = align_rz((uint64_t)ldexp(fabs(cm), 24), ce - 24, q);
        sum += c < 0 ? -t : t;
    }
    return sum == 0 ? 0.0f : to_f32_rz(sum, q);
}

float qlm_gpu_mma_f16_dot16(const uint16_t *a, const uint16_t *b, float c)
{
    return dot16(a, b, c, 10);
}

float qlm_gpu_mma_bf16_dot16(const uint16_t *a, const uint16_t *b, float c)
{
    return dot16(a, b, c, 7);
}

static void tile16(const uint16_t *A, const uint16_t *Bt, const float *C, float *D,
                   float (*dot)(const uint16_t *, const uint16_t *, float))
{
    for (int m = 0; m < 16; m++)
        for (int n = 0; n < 8; n++)
            D[m * 8 + n] = dot(A + m * 16, Bt + n * 16, C[m * 8 + n]);
}

void qlm_gpu_mma_m16n8k16_f16(const uint16_t *A, const uint16_t *Bt, const float *C, float *D)
{
    tile16(A, Bt, C, D, qlm_gpu_mma_f16_dot16);
}

void qlm_gpu_mma_m16n8k16_bf16(const uint16_t *A, const uint16_t *Bt, const float *C, float *D)
{
    tile16(A, Bt, C, D, qlm_gpu_mma_bf16_dot16);
}

/* Nominal parts of an E4M3 code: value = (-1)^neg * sig * 2^(exp - 3). */
static half_parts split_e4m3(uint8_t c)
{
    int e = (c >> 3) & 15;
    half_parts p = {c >> 7, e ? e - 7 : -6, e ? (c & 7u) | 8u : c & 7u};
    return p;
}

/* Keep the `bits` most significant bits of |s| (toward zero). */
static int64_t keep_bits(int64_t s, int bits)
{
    uint64_t m = s < 0 ? -(uint64_t)s : (uint64_t)s;
    int h = 63 - __builtin_clzll(m | 1);
    if (h >= bits)
        m &= ~((UINT64_C(1) << (h - bits + 1)) - 1);
    return s < 0 ? -(int64_t)m : (int64_t)m;
}

/* One fused step of the E4M3 pipelines: acc (an f32, may be 0) plus the
 * products a[k]*b[k] for the k in ks, every term first truncated toward zero
 * to a multiple of 2^(E - F), E the largest nominal exponent; the exact sum is
 * cut to a `bits`-bit significand and then to f32, both toward zero. */
static float e4m3_step(float acc, const uint8_t *a, const uint8_t *b, const int *ks, int n, int F, int bits)
{
    half_parts pa[32], pb[32];
    int emax = INT32_MIN, ae = 0;
    for (int i = 0; i < n; i++) {
        pa[i] = split_e4m3(a[ks[i]]);
        pb[i] = split_e4m3(b[ks[i]]);
        if (pa[i].sig && pb[i].sig && pa[i].exp + pb[i].exp > emax)
            emax = pa[i].exp + pb[i].exp;
    }
    double am = frexp((double)acc, &ae);
    if (acc != 0.0f && ae - 1 > emax)
        emax = ae - 1;
    if (emax == INT32_MIN)
        return 0.0f;
    int q = emax - F;
    int64_t sum = 0;
    for (int i = 0; i < n; i++) {
        if (!pa[i].sig || !pb[i].sig)
            continue;
        int64_t t = align_rz((uint64_t)pa[i].sig * pb[i].sig, pa[i].exp + pb[i].exp - 6, q);
        sum += (pa[i].neg ^ pb[i].neg) ? -t : t;
    }
    if (acc != 0.0f) {
        int64_t t = align_rz((uint64_t)ldexp(fabs(am), 24), ae - 24, q);
        sum += acc < 0 ? -t : t;
    }
    return sum == 0 ? 0.0f : to_f32_rz(keep_bits(sum, bits), q);
}

static bool has_e4m3_nan(const uint8_t *a, const uint8_t *b)
{
    for (int k = 0; k < 32; k++) /* a NaN code anywhere, even times zero */
        if ((a[k] & 0x7F) == 0x7F || (b[k] & 0x7F) == 0x7F)
            return true;
    return false;
}

/* The k of each half of an m16n8k32 E4M3 dot: bytes 0-1 and 2-3 of every
 * 32-bit operand register. */
static const int k_lo[16] = {0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29};
static const int k_hi[16] = {2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30, 31};

float qlm_gpu_mma_e4m3_dot32(const uint8_t *a, const uint8_t *b, float c)
{
    if (has_e4m3_nan(a, b))
        return qlm_bits_f32(0x7FFFFFFFu);
    float p = e4m3_step(0.0f, a, b, k_lo, 16, 25, 24);
    p = e4m3_step(p, a, b, k_hi, 16, 25, 24);
    return round_sum((double)c, (double)p);
}

float qlm_gpu_wgmma_e4m3_dot32(const uint8_t *a, const uint8_t *b, float c)
{
    static const int all[32] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
                                16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};
    if (has_e4m3_nan(a, b))
        return qlm_bits_f32(0x7FFFFFFFu);
    return e4m3_step(c, a, b, all, 32, 13, 14);
}

static void tile32(const uint8_t *A, const uint8_t *Bt, const float *C, float *D,
                   float (*dot)(const uint8_t *, const uint8_t *, float))
{
    for (int m = 0; m < 16; m++)
        for (int n = 0; n < 8; n++)
            D[m * 8 + n] = dot(A + m * 32, Bt + n * 32, C[m * 8 + n]);
}

void qlm_gpu_mma_m16n8k32_e4m3(const uint8_t *A, const uint8_t *Bt, const float *C, float *D)
{
    tile32(A, Bt, C, D, qlm_gpu_mma_e4m3_dot32);
}

void qlm_gpu_wgmma_m16n8k32_e4m3(const uint8_t *A, const uint8_t *Bt, const float *C, float *D)
{
    tile32(A, Bt, C, D, qlm_gpu_wgmma_e4m3_dot32);
}
