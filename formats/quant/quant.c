/* Reference Q8/Q4 quantizers (docs/FORMAT.md "Quantization").
 *
 * Per block of 32: the scale is computed in f32, rounded UP in magnitude to
 * fp16 (so no code can fall outside its range because the stored scale came
 * out smaller than the ideal one), and every code is computed from that stored
 * scale: q = rne(x / d), clamped. The dequantization error of an element is
 * then at most d/2 (plus the f32 rounding of x/d), except for Q4 elements
 * above 7.5*d (see quantize_q4_block).
 */
#include "formats/quant/quant.h"

#include <math.h>
#include <string.h>

#include "formats/common/half.h"
#include "formats/qlm/dtype.h"

/* Round to nearest, ties to even, for |x| < 2^22: adding and subtracting
 * 1.5*2^23 leaves exactly the rounded integer in f32 (and vectorizes, unlike
 * nearbyintf on baseline x86-64). Needs -ffp-contract=off and no fast-math. */
static inline float rne_small(float x)
{
    const float magic = 12582912.0f;
    return (x + magic) - magic;
}

/* Smallest fp16 >= d for finite d > 0 (0 for d == 0); 0x7C00 (inf) when d is
 * beyond the fp16 range, which the callers report. */
static uint16_t f16_round_up(float d)
{
    uint16_t h = qlm_f32_to_f16(d);
    if (qlm_f16_to_f32(h) < d)
        h++; /* positive fp16 bit patterns are ordered like their values */
    return h;
}

/* Largest |x| of a block as bits: for non-negative floats the integer order
 * of the bit patterns is the numeric order, and NaN/Inf are exactly the
 * patterns >= 0x7F800000, so one integer max (which vectorizes, unlike a
 * float max with NaN semantics) finds both. */
static uint32_t block_amax_bits(const float *x)
{
    uint32_t m = 0;
    for (int i = 0; i < QLM_BLOCK; i++) {
        uint32_t a = qlm_f32_bits(x[i]) & 0x7FFFFFFFu;
        m = a > m ? a : m;
    }
    return m;
}

/* Index of the first NaN/Inf of a block known to hold one. */
static size_t first_nonfinite(const float *x)
{
    size_t i = 0;
    while (i < QLM_BLOCK - 1 && (qlm_f32_bits(x[i]) & 0x7FFFFFFFu) < 0x7F800000u)
        i++;
    return i;
}

static qlm_status bad_value(const float *x, size_t block, size_t i)
{
    return qlm_fail(QLM_E_VALUE, "element %zu is %g: cannot quantize non-finite values",
                    block * QLM_BLOCK + i, (double)x[i]);
}

static qlm_status out_of_range(size_t block, float amax, const char *type)
{
    return qlm_fail(QLM_E_VALUE, "block at element %zu: magnitude %g exceeds the %s range",
                    block * QLM_BLOCK, (double)amax, type);
}

qlm_status qlm_quantize_q8(const float *x, qlm_block_q8 *out, size_t n)
{
    for (size_t b = 0; b < n / QLM_BLOCK; b++, x += QLM_BLOCK) {
        uint32_t abits = block_amax_bits(x);
        if (abits >= 0x7F800000u)
            return bad_value(x, b, first_nonfinite(x));
        float amax = qlm_bits_f32(abits);
        uint16_t h = f16_round_up(amax / 127.0f);
        if (h >= 0x7C00)
            return out_of_range(b, amax, "Q8");
        float d = qlm_f16_to_f32(h);
        out[b].d = h;
        if (d == 0) { /* only an all-zero block */
            memset(out[b].q, 0, sizeof out[b].q);
            continue;
        }
        /* |x/d| <= 127 * (1 + 2^-24) by the upward scale rounding, so rne
         * never leaves [-127, 127]. */
        int32_t c[QLM_BLOCK]; /* via int32: the conversion then vectorizes */
        for (int i = 0; i < QLM_BLOCK; i++)
            c[i] = (int32_t)rne_small(x[i] / d);
        for (int i = 0; i < QLM_BLOCK; i++)
            out[b].q[i] = (int8_t)c[i];
    }
    return QLM_OK;
}

/* Q4 uses all 16 codes -8..7, as GGUF Q4_0 does: the element of largest
 * magnitude m (the first one on a tie) maps to code -8, d = m / -8, so the
 * sign of d follows -m. Elements on the other side reach only +7: those with
 * x/d > 7.5 are clamped to 7 (error up to |m| - 7|d| <= |d|). A symmetric
 * -7..7 code would waste a level; this choice gains one level of resolution
 * for every other element. Returns the signed fp16 scale (magnitude >= 0x7C00
 * when amax/8 is beyond fp16). */
static uint16_t rtn_scale(const float *x, float amax)
{
    float m = 0.0f;
    for (int i = 0; i < QLM_BLOCK; i++) {
        if (fabsf(x[i]) == amax) {
            m = x[i];
            break;
        }
    }
    return (uint16_t)(f16_round_up(amax / 8.0f) | (m > 0 ? 0x8000u : 0u));
}

/* The code of v under scale d != 0: rne(v/d) clamped to -8..7. */
static inline float code_f(float v, float d)
{
    float q = rne_small(v / d);
    q = q < -8.0f ? -8.0f : q;
    return q > 7.0f ? 7.0f : q;
}

int qlm_q4_code(float v, float d) { return (int)code_f(v, d); }

/* Squared error of the block under scale d (codes as qlm_q4_code gives). */
static double block_sse(const float *x, float d)
{
    double e = 0.0;
    for (int i = 0; i < QLM_BLOCK; i++) {
        double diff = (double)x[i] - (double)(d * code_f(x[i], d));
        e += diff * diff;
    }
    return e;
}

/* rtn-mse search (quant.h): RTN's scale, then the two candidate ladders. */
static uint16_t mse_scale(const float *x, float amax)
{
    uint16_t best = rtn_scale(x, amax);
    if ((best & 0x7FFFu) >= 0x7C00u || amax == 0.0f)
        return best;
    double best_e = block_sse(x, qlm_f16_to_f32(best));
    for (int side = 0; side < 2; side++) {
        float base = amax / (side ? 7.0f : 8.0f);
        uint16_t sign = (uint16_t)((best & 0x8000u) ^ (side ? 0x8000u : 0u));
        for (int i = 0; i < 32; i++) {
            uint16_t mag = f16_round_up(base * (1.0f - (float)i / 64.0f));
            if (mag == 0 || mag >= 0x7C00u)
                continue;
            uint16_t h = (uint16_t)(mag | sign);
            double e = block_sse(x, qlm_f16_to_f32(h));
            if (e < best_e) {
                best_e = e;
                best = h;
            }
        }
    }
    return best;
}

uint16_t qlm_q4_scale(const float *x, qlm_q4_method m)
{
    float amax = qlm_bits_f32(block_amax_bits(x));
    return m == QLM_Q4_RTN_MSE ? mse_scale(x, amax) : rtn_scale(x, amax);
}

void qlm_q4_pack(const int8_t *codes, uint16_t d, qlm_block_q4 *out)
{
    out->d = d;
    for (int i = 0; i < QLM_BLOCK / 2; i++)
        out->qs[i] = (uint8_t)((codes[i] + 8) | ((codes[i + QLM_BLOCK / 2] + 8) << 4));
}

/* Codes of a block from its stored scale h; d == 0 only for an all-zero
 * block, whose codes are all 0 (stored as 8). */
static void quantize_q4_block(const float *x, uint16_t h, qlm_block_q4 *out)
{
    float d = qlm_f16_to_f32(h);
    out->d = h;
    if (d == 0) {
        memset(out->qs, 0x88, sizeof out->qs);
        return;
    }
    int32_t c[QLM_BLOCK]; /* via int32: the conversion then vectorizes */
    for (int i = 0; i < QLM_BLOCK; i++)
        c[i] = (int32_t)code_f(x[i], d) + 8;
    for (int i = 0; i < QLM_BLOCK / 2; i++)
        out->qs[i] = (uint8_t)(c[i] | (c[i + QLM_BLOCK / 2] << 4));
}

qlm_status qlm_quantize_q4_method(const float *x, qlm_block_q4 *out, size_t n, qlm_q4_method m)
{
    for (size_t b = 0; b < n / QLM_BLOCK; b++, x += QLM_BLOCK) {
        uint32_t abits = block_amax_bits(x);
        if (abits >= 0x7F800000u)
            return bad_value(x, b, first_nonfinite(x));
        uint16_t h = qlm_q4_scale(x, m);
        if ((h & 0x7FFFu) >= 0x7C00u)
            return out_of_range(b, qlm_bits_f32(abits), "Q4");
        quantize_q4_block(x, h, &out[b]);
    }
    return QLM_OK;
}

qlm_status qlm_quantize_q4(const float *x, qlm_block_q4 *out, size_t n)
{
    return qlm_quantize_q4_method(x, out, n, QLM_Q4_RTN);
}

void qlm_dequantize_q8(const qlm_block_q8 *b, float *out, size_t n)
{
    for (size_t k = 0; k < n / QLM_BLOCK; k++, out += QLM_BLOCK) {
        float d = qlm_f16_to_f32(b[k].d);
        for (int i = 0; i < QLM_BLOCK; i++)
            out[i] = d * (float)b[k].q[i];
    }
}

void qlm_dequantize_q4(const qlm_block_q4 *b, float *out, size_t n)
{
    for (size_t k = 0; k < n / QLM_BLOCK; k++, out += QLM_BLOCK) {
        float d = qlm_f16_to_f32(b[k].d);
        for (int i = 0; i < QLM_BLOCK / 2; i++) {
            out[i] = d * (float)((b[k].qs[i] & 15) - 8);
            out[i + QLM_BLOCK / 2] = d * (float)((b[k].qs[i] >> 4) - 8);
        }
    }
}
