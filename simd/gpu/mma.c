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

/* x * 2^(from - to), truncated toward zero. Left shifts stay small (a term
 * is aligned at most 11 bits below its own unit), so every term fits easily. */
static int64_t align_rz(uint64_t x, int from, int to)
{
    int sh = to - from;
    if (sh <= 0)
        return (int64_t)(x << -sh);
    return sh >= 64 ? 0 : (int64_t)(x >> sh);
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

/* One exact product: value (-1)^neg * sig * 2^unit, nominal exponent exp. */
typedef struct {
    int neg, exp, unit;
    uint64_t sig;
} product;

static product multiply(half_parts a, half_parts b, int frac)
{
    product p = {a.neg ^ b.neg, a.exp + b.exp, a.exp + b.exp - 2 * frac, (uint64_t)a.sig * b.sig};
    return p;
}

/* The fused step every instruction here is built from: acc (an f32, may be
 * 0) plus n products; every term is truncated toward zero to a multiple of
 * 2^max(E - F, qmin), E the largest nominal exponent (acc's real one), the
 * exact sum is cut toward zero to a `bits`-bit significand and then to f32.
 * Everything zero gives +0. */
static float fused_step(float acc, const product *p, int n, int F, int qmin, int bits)
{
    int emax = INT32_MIN, ae = 0;
    for (int i = 0; i < n; i++)
        if (p[i].sig && p[i].exp > emax)
            emax = p[i].exp;
    double am = frexp((double)acc, &ae); /* acc = am * 2^ae, 0.5 <= |am| < 1 */
    if (acc != 0.0f && ae - 1 > emax)
        emax = ae - 1;
    if (emax == INT32_MIN)
        return 0.0f;
    int q = emax - F > qmin ? emax - F : qmin;
    int64_t sum = 0;
    for (int i = 0; i < n; i++) {
        int64_t t = p[i].sig ? align_rz(p[i].sig, p[i].unit, q) : 0;
        sum += p[i].neg ? -t : t;
    }
    if (acc != 0.0f) {
        int64_t t = align_rz((uint64_t)ldexp(fabs(am), 24), ae - 24, q);
        sum += acc < 0 ? -t : t;
    }
    return sum == 0 ? 0.0f : to_f32_rz(keep_bits(sum, bits), q);
}

/* f16/bf16: 25 bits below E, never finer than 2^-158 (seen only with bf16,
 * whose products reach 2^-266); all-zero terms add as IEEE zeros. */
static float dot16(const uint16_t *a, const uint16_t *b, float c, int frac)
{
    product p[16];
    bool all_neg_zero = signbit(c) != 0 && c == 0.0f;
    for (int k = 0; k < 16; k++) {
        p[k] = multiply(split16(a[k], frac), split16(b[k], frac), frac);
        all_neg_zero &= p[k].sig == 0 && p[k].neg;
    }
    if (all_neg_zero)
        return -0.0f;
    return fused_step(c, p, 16, 25, -158, 24);
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

/* One E4M3 step over acc and the products a[k]*b[k] for the k in ks. */
static float e4m3_step(float acc, const uint8_t *a, const uint8_t *b, const int *ks, int n, int F, int bits)
{
    product p[32];
    for (int i = 0; i < n; i++)
        p[i] = multiply(split_e4m3(a[ks[i]]), split_e4m3(b[ks[i]]), 3);
    return fused_step(acc, p, n, F, INT32_MIN, bits);
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
