/* IEEE binary16 and bfloat16 <-> binary32 conversions, portable bit arithmetic.
 *
 * f32 -> f16/bf16 round to nearest, ties to even. NaN handling follows the
 * "keep sign and payload" rule (quiet bit forced) of F16C/ggml; the CUDA
 * canonical-NaN variants live with the GPU formats (formats/gpu). Widening
 * (f16/bf16 -> f32) is exact.
 */
#ifndef QLM_HALF_H
#define QLM_HALF_H

#include <stdint.h>
#include <string.h>

static inline uint32_t qlm_f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static inline float qlm_bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline float qlm_bf16_to_f32(uint16_t h) { return qlm_bits_f32((uint32_t)h << 16); }

static inline uint16_t qlm_f32_to_bf16(float f)
{
    uint32_t u = qlm_f32_bits(f);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u)
        return (uint16_t)((u >> 16) | 0x0040u); /* NaN: keep sign/payload, quiet */
    return (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

static inline float qlm_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1Fu;
    uint32_t man = h & 0x3FFu;
    uint32_t u;
    if (exp == 0) {
        if (man == 0) {
            u = sign;
        } else { /* subnormal: normalize */
            int e = -1;
            do {
                e++;
                man <<= 1;
            } while (!(man & 0x400u));
            u = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3FFu) << 13);
        }
    } else if (exp == 0x1F) {
        u = sign | 0x7F800000u | (man << 13);
    } else {
        u = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    return qlm_bits_f32(u);
}

static inline uint16_t qlm_f32_to_f16(float f)
{
    uint32_t u = qlm_f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7FFFFFFFu;
    if (a > 0x7F800000u) /* NaN */
        return (uint16_t)(sign | 0x7E00u | ((a >> 13) & 0x3FFu));
    if (a >= 0x477FF000u) /* rounds to >= 65520: infinity */
        return (uint16_t)(sign | 0x7C00u);
    if (a < 0x38800000u) { /* below 2^-14: subnormal or zero */
        if (a < 0x33000000u) /* < 2^-25: rounds to zero (2^-25 ties to even 0) */
            return sign;
        uint32_t man = (a & 0x7FFFFFu) | 0x800000u;
        int shift = 126 - (int)(a >> 23); /* 14..24 */
        uint32_t r = man >> shift;
        uint32_t rem = man & ((1u << shift) - 1);
        uint32_t half = 1u << (shift - 1);
        if (rem > half || (rem == half && (r & 1)))
            r++;
        return (uint16_t)(sign | r);
    }
    uint32_t r = a - 0x38000000u; /* rebias exponent: 127-15 = 112 << 23 */
    r = (r + 0x0FFFu + ((r >> 13) & 1u)) >> 13;
    return (uint16_t)(sign | r);
}

#endif
