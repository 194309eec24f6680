#include "formats/gpu/gpucvt.h"

#include <math.h>

#include "formats/common/half.h"

/* A small binary format: `mbits` stored mantissa bits, exponent bias `bias`,
 * subnormals, and codes counted upwards from +0 so that "the next code" is
 * "the next larger magnitude". */
typedef struct {
    int mbits;
    int bias;
} narrow_fmt;

static const narrow_fmt k_e4m3 = {3, 7};
static const narrow_fmt k_e5m2 = {2, 15};
static const narrow_fmt k_e2m1 = {1, 1};

/* Shift v right by s (1..31) rounding to nearest-even, or truncating. */
static uint32_t shift_round(uint32_t v, int s, bool round_zero)
{
    if (round_zero)
        return v >> s;
    uint32_t half = 1u << (s - 1);
    uint32_t rem = v & ((half << 1) - 1);
    uint32_t r = v >> s;
    return r + (rem > half || (rem == half && (r & 1u)));
}

/* Magnitude code of the finite f32 magnitude `a` (bits, sign cleared),
 * rounded; may exceed the format's largest finite code (the caller decides
 * between saturation, Inf and NaN). Rounding the biased bit pattern works
 * across binade boundaries because the codes are monotone in magnitude. */
static uint32_t narrow_mag(uint32_t a, narrow_fmt f, bool round_zero)
{
    int shift = 23 - f.mbits;
    uint32_t minnorm = (uint32_t)(127 + 1 - f.bias) << 23;
    if (a >= minnorm)
        return shift_round(a - ((uint32_t)(127 - f.bias) << 23), shift, round_zero);
    int e = (int)(a >> 23); /* biased f32 exponent, below the format's minimum */
    int s = shift + (127 + 1 - f.bias) - e; /* code unit is 2^(1-bias-mbits) */
    if (e == 0 || s > 31)
        return 0; /* far below half the smallest subnormal */
    return shift_round((a & 0x7FFFFFu) | 0x800000u, s, round_zero);
}

uint8_t qlm_gpu_f32_to_e4m3(float x, bool satfinite)
{
    uint32_t u = qlm_f32_bits(x), a = u & 0x7FFFFFFFu;
    uint8_t sign = (uint8_t)(u >> 24 & 0x80u);
    if (a > 0x7F800000u)
        return 0x7F; /* canonical NaN, sign dropped */
    uint32_t c = a == 0x7F800000u ? 0xFFu : narrow_mag(a, k_e4m3, false);
    if (c > 0x7Eu) /* beyond 448 (no Inf in E4M3) */
        c = satfinite ? 0x7Eu : 0x7Fu;
    return (uint8_t)(sign | c);
}

uint8_t qlm_gpu_f32_to_e5m2(float x, bool satfinite)
{
    uint32_t u = qlm_f32_bits(x), a = u & 0x7FFFFFFFu;
    uint8_t sign = (uint8_t)(u >> 24 & 0x80u);
    if (a > 0x7F800000u)
        return 0x7F;
    uint32_t c = a == 0x7F800000u ? 0xFFu : narrow_mag(a, k_e5m2, false);
    if (c > 0x7Bu) /* beyond 57344: Inf, or the largest finite value */
        c = satfinite ? 0x7Bu : 0x7Cu;
    return (uint8_t)(sign | c);
}

uint8_t qlm_gpu_f32_to_e2m1(float x, bool round_zero)
{
    uint32_t u = qlm_f32_bits(x), a = u & 0x7FFFFFFFu;
    if (a > 0x7F800000u)
        return 0x7; /* no NaN in E2M1: +6 */
    uint8_t sign = (uint8_t)(u >> 28 & 0x8u);
    uint32_t c = a == 0x7F800000u ? 0xFu : narrow_mag(a, k_e2m1, round_zero);
    return (uint8_t)(sign | (c > 7u ? 7u : c));
}

uint8_t qlm_gpu_f32_to_ue4m3(float x)
{
    return (uint8_t)(qlm_gpu_f32_to_e4m3(x, true) & 0x7Fu);
}

/* E8M0 holds 2^(c-127) for c = 0..254, NaN at 255; results below 2^-127
 * clamp to it, results above 2^127 saturate or become NaN. */
uint8_t qlm_gpu_f32_to_e8m0(float x, bool satfinite, bool round_up)
{
    uint32_t a = qlm_f32_bits(x) & 0x7FFFFFFFu;
    if (a > 0x7F800000u)
        return 0xFF;
    uint32_t c = a >> 23;
    if (round_up && a > 0x00400000u && (a & 0x7FFFFFu) && a < 0x7F800000u)
        c++; /* not a power of two above 2^-127: next power up */
    if (c == 0xFFu && satfinite)
        c = 0xFE;
    return (uint8_t)c;
}

uint16_t qlm_gpu_f32_to_bf16(float x)
{
    if ((qlm_f32_bits(x) & 0x7FFFFFFFu) > 0x7F800000u)
        return 0x7FFF;
    return qlm_f32_to_bf16(x);
}

uint16_t qlm_gpu_f32_to_f16(float x)
{
    if ((qlm_f32_bits(x) & 0x7FFFFFFFu) > 0x7F800000u)
        return 0x7FFF;
    return qlm_f32_to_f16(x);
}

/* Exact value of a non-special magnitude code. */
static float narrow_value(uint32_t c, narrow_fmt f)
{
    uint32_t e = c >> f.mbits, m = c & ((1u << f.mbits) - 1);
    if (e == 0)
        return ldexpf((float)m, 1 - f.bias - f.mbits);
    return ldexpf((float)((1u << f.mbits) | m), (int)e - f.bias - f.mbits);
}

static float with_sign(float v, bool neg) { return neg ? -v : v; }

float qlm_gpu_e4m3_to_f32(uint8_t c)
{
    if ((c & 0x7Fu) == 0x7Fu)
        return qlm_bits_f32(0x7FFFFFFFu);
    return with_sign(narrow_value(c & 0x7Fu, k_e4m3), c & 0x80u);
}

float qlm_gpu_e5m2_to_f32(uint8_t c)
{
    /* E5M2 is the top byte of an f16, Inf and NaN included. */
    return qlm_gpu_f16_to_f32((uint16_t)(c << 8));
}

float qlm_gpu_e2m1_to_f32(uint8_t c)
{
    return with_sign(narrow_value(c & 0x7u, k_e2m1), c & 0x8u);
}

float qlm_gpu_ue4m3_to_f32(uint8_t c) { return qlm_gpu_e4m3_to_f32(c & 0x7Fu); }

float qlm_gpu_e8m0_to_f32(uint8_t c)
{
    if (c == 0xFF)
        return qlm_bf16_to_f32(0x7FFF);
    return ldexpf(1.0f, (int)c - 127);
}

float qlm_gpu_bf16_to_f32(uint16_t c) { return qlm_bf16_to_f32(c); }

/* cvt.f32.f16 drops the payload: every f16 NaN widens to 0x7FFFFFFF. */
float qlm_gpu_f16_to_f32(uint16_t c)
{
    if ((c & 0x7FFFu) > 0x7C00u)
        return qlm_bits_f32(0x7FFFFFFFu);
    return qlm_f16_to_f32(c);
}

static const char *const k_names[QLM_GPU_CVT_COUNT] = {
    [QLM_GPU_CVT_E4M3_SAT] = "e4m3_sat",       [QLM_GPU_CVT_E4M3_NOSAT] = "e4m3_nosat",
    [QLM_GPU_CVT_E5M2_SAT] = "e5m2_sat",       [QLM_GPU_CVT_E5M2_NOSAT] = "e5m2_nosat",
    [QLM_GPU_CVT_E2M1_RN] = "e2m1_rn",         [QLM_GPU_CVT_E2M1_RZ] = "e2m1_rz",
    [QLM_GPU_CVT_UE4M3] = "ue4m3",             [QLM_GPU_CVT_E8M0_RZ_SAT] = "e8m0_rz_sat",
    [QLM_GPU_CVT_E8M0_RZ_NOSAT] = "e8m0_rz_nosat", [QLM_GPU_CVT_E8M0_RP_SAT] = "e8m0_rp_sat",
    [QLM_GPU_CVT_E8M0_RP_NOSAT] = "e8m0_rp_nosat", [QLM_GPU_CVT_BF16_RN] = "bf16_rn",
    [QLM_GPU_CVT_F16_RN] = "f16_rn",
};

const char *qlm_gpu_cvt_name(qlm_gpu_cvt_mode m) { return k_names[m]; }

size_t qlm_gpu_cvt_width(qlm_gpu_cvt_mode m)
{
    return m == QLM_GPU_CVT_BF16_RN || m == QLM_GPU_CVT_F16_RN ? 2 : 1;
}

static uint16_t cvt_one(qlm_gpu_cvt_mode m, float x)
{
    switch (m) {
    case QLM_GPU_CVT_E4M3_SAT: return qlm_gpu_f32_to_e4m3(x, true);
    case QLM_GPU_CVT_E4M3_NOSAT: return qlm_gpu_f32_to_e4m3(x, false);
    case QLM_GPU_CVT_E5M2_SAT: return qlm_gpu_f32_to_e5m2(x, true);
    case QLM_GPU_CVT_E5M2_NOSAT: return qlm_gpu_f32_to_e5m2(x, false);
    case QLM_GPU_CVT_E2M1_RN: return qlm_gpu_f32_to_e2m1(x, false);
    case QLM_GPU_CVT_E2M1_RZ: return qlm_gpu_f32_to_e2m1(x, true);
    case QLM_GPU_CVT_UE4M3: return qlm_gpu_f32_to_ue4m3(x);
    case QLM_GPU_CVT_E8M0_RZ_SAT: return qlm_gpu_f32_to_e8m0(x, true, false);
    case QLM_GPU_CVT_E8M0_RZ_NOSAT: return qlm_gpu_f32_to_e8m0(x, false, false);
    case QLM_GPU_CVT_E8M0_RP_SAT: return qlm_gpu_f32_to_e8m0(x, true, true);
    case QLM_GPU_CVT_E8M0_RP_NOSAT: return qlm_gpu_f32_to_e8m0(x, false, true);
    case QLM_GPU_CVT_BF16_RN: return qlm_gpu_f32_to_bf16(x);
    case QLM_GPU_CVT_F16_RN: return qlm_gpu_f32_to_f16(x);
    case QLM_GPU_CVT_COUNT: break;
    }
    return 0;
}

void qlm_gpu_cvt_run(qlm_gpu_cvt_mode m, uint32_t first, size_t n, uint8_t *out)
{
    size_t w = qlm_gpu_cvt_width(m);
    for (size_t i = 0; i < n; i++) {
        uint16_t c = cvt_one(m, qlm_bits_f32(first + (uint32_t)i));
        out[i * w] = (uint8_t)c;
        if (w == 2)
            out[i * w + 1] = (uint8_t)(c >> 8);
    }
}
