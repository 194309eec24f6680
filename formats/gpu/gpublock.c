/* GPU block formats: quantizers, unpacking and dequantization of rows.
 * Rules: gpublock.h and docs/GPU-NUMERICS.md section 4. */
#include "formats/gpu/gpublock.h"

#include <math.h>
#include <string.h>

#include "formats/gpu/gpucvt.h"

static size_t row_bytes(qlm_dtype t, int64_t cols)
{
    const qlm_dtype_info *di = qlm_dtype_get(t);
    return di->row_extra + (size_t)cols / di->block_elems * di->block_bytes;
}

static const uint8_t *row_ptr(qlm_dtype t, const void *tensor, int64_t cols, int64_t r)
{
    return (const uint8_t *)tensor + qlm_dtype_get(t)->tensor_extra + (size_t)r * row_bytes(t, cols);
}

static qlm_status check_finite(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return qlm_fail(QLM_E_VALUE, "element %zu is %g: NaN/Inf cannot be quantized", i, (double)x[i]);
    return QLM_OK;
}

static float amax_of(const float *x, size_t n)
{
    float m = 0.0f;
    for (size_t i = 0; i < n; i++)
        m = fmaxf(m, fabsf(x[i]));
    return m;
}

/* FP8 scale of a row or group: amax / 448; 1 for an all-zero group; a
 * nonzero amax whose quotient underflows to 0 keeps amax (codes saturate). */
static float fp8_scale(float amax)
{
    float s = amax / 448.0f;
    return s > 0.0f ? s : amax > 0.0f ? amax : 1.0f;
}

static void fp8_codes(const float *x, size_t n, float s, uint8_t *q)
{
    for (size_t i = 0; i < n; i++)
        q[i] = qlm_gpu_f32_to_e4m3(x[i] / s, true);
}

static void pack_nibbles(const uint8_t *q, size_t n, uint8_t *qs)
{
    for (size_t i = 0; i < n / 2; i++)
        qs[i] = (uint8_t)((q[2 * i] & 15) | (q[2 * i + 1] & 15) << 4);
}

static void unpack_nibbles(const uint8_t *qs, size_t n, uint8_t *q)
{
    for (size_t i = 0; i < n / 2; i++) {
        q[2 * i] = qs[i] & 15;
        q[2 * i + 1] = qs[i] >> 4;
    }
}

/* E2M1 codes of x / d for d > 0; all zero codes when d is 0 (the block scale
 * underflowed), where x / d would be NaN or Inf. */
static void e2m1_codes(const float *x, size_t n, float d, uint8_t *q)
{
    for (size_t i = 0; i < n; i++)
        q[i] = d > 0.0f ? qlm_gpu_f32_to_e2m1(x[i] / d, false) : 0;
}

static void quant_nvfp4(const float *x, size_t n, float ts, qlm_block_nvfp4 *b)
{
    for (size_t j = 0; j < n / QLM_NVFP4_B; j++, x += QLM_NVFP4_B) {
        uint8_t q[QLM_NVFP4_B];
        b[j].s = qlm_gpu_f32_to_ue4m3(amax_of(x, QLM_NVFP4_B) / 6.0f / ts);
        e2m1_codes(x, QLM_NVFP4_B, qlm_gpu_ue4m3_to_f32(b[j].s) * ts, q);
        pack_nibbles(q, QLM_NVFP4_B, b[j].qs);
    }
}

static void quant_mxfp4(const float *x, size_t n, qlm_block_mxfp4 *b)
{
    for (size_t j = 0; j < n / QLM_MXFP4_B; j++, x += QLM_MXFP4_B) {
        uint8_t q[QLM_MXFP4_B];
        /* round the scale up: amax / scale <= 6, so the largest element is not clipped */
        b[j].e = qlm_gpu_f32_to_e8m0(amax_of(x, QLM_MXFP4_B) / 6.0f, true, true);
        e2m1_codes(x, QLM_MXFP4_B, qlm_gpu_e8m0_to_f32(b[j].e), q);
        pack_nibbles(q, QLM_MXFP4_B, b[j].qs);
    }
}

static uint8_t clamp15(float v) { return (uint8_t)(v < 0.0f ? 0 : v > 15.0f ? 15 : v); }

/* Asymmetric min/max group (GPTQ round-to-nearest): the range [min(x,0),
 * max(x,0)] is split into 15 steps, the f16 scale rounded to nearest. */
static qlm_status quant_w4_group(const float *x, size_t j, qlm_block_w4 *b)
{
    float lo = 0.0f, hi = 0.0f;
    for (int i = 0; i < QLM_W4_G; i++) {
        lo = fminf(lo, x[i]);
        hi = fmaxf(hi, x[i]);
    }
    uint8_t q[QLM_W4_G];
    memset(b, 0, sizeof *b);
    b->z = 8;
    memset(q, 8, sizeof q);
    if (hi - lo > 0.0f) {
        float range = hi - lo;
        if (!isfinite(range))
            return qlm_fail(QLM_E_VALUE, "group %zu: range %g overflows f32", j, (double)range);
        b->s = qlm_gpu_f32_to_f16(range / 15.0f);
        if ((b->s & 0x7FFF) == 0x7C00)
            return qlm_fail(QLM_E_VALUE, "group %zu: scale %g overflows f16", j, (double)(range / 15.0f));
        if (b->s == 0)
            b->s = 1; /* the smallest f16 subnormal, 2^-24 */
        float d = qlm_gpu_f16_to_f32(b->s);
        b->z = clamp15(nearbyintf(-lo / d));
        for (int i = 0; i < QLM_W4_G; i++)
            q[i] = clamp15(nearbyintf(x[i] / d) + (float)b->z);
    }
    pack_nibbles(q, QLM_W4_G, b->qs);
    return QLM_OK;
}

float qlm_gpu_tensor_scale(qlm_dtype t, float amax)
{
    if (t != QLM_DT_NVFP4)
        return 0.0f;
    float ts = amax / (6.0f * 448.0f);
    return ts > 0.0f ? ts : 1.0f;
}

qlm_status qlm_gpu_quantize_row(qlm_dtype t, const float *x, size_t n, float ts, void *out)
{
    qlm_status rc = check_finite(x, n);
    if (rc)
        return rc;
    uint8_t *o = out;
    switch (t) {
    case QLM_DT_FP8: {
        float s = fp8_scale(amax_of(x, n));
        memcpy(o, &s, 4);
        fp8_codes(x, n, s, o + 4);
        return QLM_OK;
    }
    case QLM_DT_FP8_G128:
        for (size_t j = 0; j < n / QLM_FP8_G; j++) {
            qlm_block_fp8g *b = (qlm_block_fp8g *)o + j;
            b->s = fp8_scale(amax_of(x + j * QLM_FP8_G, QLM_FP8_G));
            fp8_codes(x + j * QLM_FP8_G, QLM_FP8_G, b->s, b->q);
        }
        return QLM_OK;
    case QLM_DT_NVFP4:
        if (!(ts > 0.0f) || !isfinite(ts))
            return qlm_fail(QLM_E_VALUE, "nvfp4 tensor scale %g is not positive and finite", (double)ts);
        quant_nvfp4(x, n, ts, out);
        return QLM_OK;
    case QLM_DT_MXFP4: quant_mxfp4(x, n, out); return QLM_OK;
    case QLM_DT_W4A16:
        for (size_t j = 0; j < n / QLM_W4_G; j++)
            if ((rc = quant_w4_group(x + j * QLM_W4_G, j, (qlm_block_w4 *)o + j)))
                return rc;
        return QLM_OK;
    default: return qlm_fail(QLM_E_DTYPE, "dtype %u is not a GPU block format", (unsigned)t);
    }
}

void qlm_gpu_unpack_row(qlm_dtype t, const void *tensor, int64_t cols, int64_t r, qlm_gpu_row *out)
{
    const uint8_t *p = row_ptr(t, tensor, cols, r);
    size_t n = (size_t)cols;
    switch (t) {
    case QLM_DT_FP8:
        memcpy(&out->sf[0], p, 4);
        memcpy(out->q, p + 4, n);
        break;
    case QLM_DT_FP8_G128:
        for (size_t j = 0; j < n / QLM_FP8_G; j++) {
            qlm_block_fp8g b;
            memcpy(&b, p + j * sizeof b, sizeof b);
            out->sf[j] = b.s;
            memcpy(out->q + j * QLM_FP8_G, b.q, QLM_FP8_G);
        }
        break;
    case QLM_DT_NVFP4:
        memcpy(&out->ts, tensor, 4);
        for (size_t j = 0; j < n / QLM_NVFP4_B; j++) {
            const qlm_block_nvfp4 *b = (const qlm_block_nvfp4 *)p + j;
            out->sc[j] = b->s;
            unpack_nibbles(b->qs, QLM_NVFP4_B, out->q + j * QLM_NVFP4_B);
        }
        break;
    case QLM_DT_MXFP4:
        for (size_t j = 0; j < n / QLM_MXFP4_B; j++) {
            const qlm_block_mxfp4 *b = (const qlm_block_mxfp4 *)p + j;
            out->sc[j] = b->e;
            unpack_nibbles(b->qs, QLM_MXFP4_B, out->q + j * QLM_MXFP4_B);
        }
        break;
    case QLM_DT_W4A16:
        for (size_t j = 0; j < n / QLM_W4_G; j++) {
            qlm_block_w4 b;
            memcpy(&b, p + j * sizeof b, sizeof b);
            out->sh[j] = b.s;
            out->sc[j] = b.z;
            unpack_nibbles(b.qs, QLM_W4_G, out->q + j * QLM_W4_G);
        }
        break;
    default: break;
    }
}

static float w4_value(uint8_t q, uint8_t z, uint16_t s)
{
    /* q - z is exact in f16; f16 x f16 is exact in f32, so one rounding = __hmul */
    return qlm_gpu_f16_to_f32(qlm_gpu_f32_to_f16((float)((int)q - (int)z) * qlm_gpu_f16_to_f32(s)));
}

float qlm_gpu_w4_value(uint8_t q, uint8_t z, uint16_t s) { return w4_value(q, z, s); }

void qlm_gpu_dequant_row(qlm_dtype t, const void *tensor, int64_t cols, int64_t r, float *out)
{
    const uint8_t *p = row_ptr(t, tensor, cols, r);
    size_t n = (size_t)cols;
    uint8_t q[QLM_W4_G];
    switch (t) {
    case QLM_DT_FP8: {
        float s;
        memcpy(&s, p, 4);
        for (size_t i = 0; i < n; i++)
            out[i] = qlm_gpu_e4m3_to_f32(p[4 + i]) * s;
        break;
    }
    case QLM_DT_FP8_G128:
        for (size_t j = 0; j < n / QLM_FP8_G; j++) {
            qlm_block_fp8g b;
            memcpy(&b, p + j * sizeof b, sizeof b);
            for (int i = 0; i < QLM_FP8_G; i++)
                out[j * QLM_FP8_G + i] = qlm_gpu_e4m3_to_f32(b.q[i]) * b.s;
        }
        break;
    case QLM_DT_NVFP4: {
        float ts;
        memcpy(&ts, tensor, 4);
        for (size_t j = 0; j < n / QLM_NVFP4_B; j++) {
            const qlm_block_nvfp4 *b = (const qlm_block_nvfp4 *)p + j;
            unpack_nibbles(b->qs, QLM_NVFP4_B, q);
            for (int i = 0; i < QLM_NVFP4_B; i++)
                out[j * QLM_NVFP4_B + i] = qlm_gpu_e2m1_to_f32(q[i]) * qlm_gpu_ue4m3_to_f32(b->s) * ts;
        }
        break;
    }
    case QLM_DT_MXFP4:
        for (size_t j = 0; j < n / QLM_MXFP4_B; j++) {
            const qlm_block_mxfp4 *b = (const qlm_block_mxfp4 *)p + j;
            unpack_nibbles(b->qs, QLM_MXFP4_B, q);
            for (int i = 0; i < QLM_MXFP4_B; i++)
                out[j * QLM_MXFP4_B + i] = qlm_gpu_e2m1_to_f32(q[i]) * qlm_gpu_e8m0_to_f32(b->e);
        }
        break;
    case QLM_DT_W4A16:
        for (size_t j = 0; j < n / QLM_W4_G; j++) {
            qlm_block_w4 b;
            memcpy(&b, p + j * sizeof b, sizeof b);
            unpack_nibbles(b.qs, QLM_W4_G, q);
            for (int i = 0; i < QLM_W4_G; i++)
                out[j * QLM_W4_G + i] = w4_value(q[i], b.z, b.s);
        }
        break;
    default: break;
    }
}
