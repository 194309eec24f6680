#include "simd/gpu/mma.h"

#include <math.h>

#include "formats/gpu/gpucvt.h"

/* An E4M3 magnitude is an integer (at most 15) times 2^-9 or a larger power of
 * two; a product is therefore an integer times 2^-18, below 2^36 of those
 * units, and 32 of them sum exactly in an int64. */
static int64_t e4m3_units(uint8_t c) /* value in units of 2^-9 */
{
    return (int64_t)ldexpf(qlm_gpu_e4m3_to_f32(c), 9);
}

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

float qlm_gpu_mma_e4m3_dot32(const uint8_t *a, const uint8_t *b, float c)
{
    int64_t sum = 0;
    for (int k = 0; k < 32; k++)
        sum += e4m3_units(a[k]) * e4m3_units(b[k]);
    return round_sum((double)c, ldexp((double)sum, -18));
}

void qlm_gpu_mma_m16n8k32_e4m3(const uint8_t *A, const uint8_t *Bt, const float *C, float *D)
{
    for (int m = 0; m < 16; m++)
        for (int n = 0; n < 8; n++)
            D[m * 8 + n] = qlm_gpu_mma_e4m3_dot32(A + m * 32, Bt + n * 32, C[m * 8 + n]);
}
