/* Row conversion for the emitter: any source type -> f32 -> any target type.
 * Widening (f16/bf16/Q8_0/Q4_0 -> f32, w4a16 -> its f16 weight) is exact; narrowing rounds to nearest
 * even (formats/common/half.h) or quantizes (formats/quant/quant.h). */
#include "formats/convert/emit_rows.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "formats/common/half.h"
#include "formats/gpu/gpublock.h"
#include "formats/qlm/dtype.h"
#include "formats/quant/quant.h"

size_t qlm_src_row_bytes(qlm_src_type t, uint64_t n)
{
    switch (t) {
    case SRC_F32:
    case SRC_I32: return (size_t)n * 4;
    case SRC_F16:
    case SRC_BF16: return (size_t)n * 2;
    case SRC_Q8_0: return (size_t)(n / QLM_BLOCK) * sizeof(qlm_block_q8);
    case SRC_Q4_0: return (size_t)(n / QLM_BLOCK) * sizeof(qlm_block_q4);
    case SRC_W4A16: return (size_t)(n / QLM_W4_G) * sizeof(qlm_block_w4);
    }
    return 0;
}

/* bf16 -> f32 is a shift; written in fixed groups of 16 with restrict so
 * that -O2 (which will not add alias checks or remainder loops) vectorizes it. */
static void bf16_to_f32(const uint16_t *restrict h, float *restrict dst, size_t n)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (size_t k = 0; k < 16; k++)
            dst[i + k] = qlm_bf16_to_f32(h[i + k]);
    for (; i < n; i++)
        dst[i] = qlm_bf16_to_f32(h[i]);
}

/* Safetensors does not require its data section to be aligned (older
 * writers did not pad the header), so 16-bit rows may start at an odd
 * address: convert those through an aligned buffer, a chunk at a time. */
static void f16ish_unaligned(qlm_src_type t, const uint8_t *src, float *dst, size_t n)
{
    uint16_t buf[256];
    for (size_t i = 0; i < n; i += 256) {
        size_t k = n - i < 256 ? n - i : 256;
        memcpy(buf, src + 2 * i, 2 * k);
        qlm_src_to_f32(t, buf, dst + i, k);
    }
}

void qlm_src_to_f32(qlm_src_type t, const void *src, float *dst, size_t n)
{
    const uint16_t *h = src;
    if ((t == SRC_F16 || t == SRC_BF16) && ((uintptr_t)src & 1)) {
        f16ish_unaligned(t, src, dst, n);
        return;
    }
    switch (t) {
    case SRC_F32: memcpy(dst, src, n * 4); break;
    case SRC_F16:
        for (size_t i = 0; i < n; i++)
            dst[i] = qlm_f16_to_f32(h[i]);
        break;
    case SRC_BF16: bf16_to_f32(h, dst, n); break;
    case SRC_Q8_0: qlm_dequantize_q8(src, dst, n); break;
    case SRC_Q4_0: qlm_dequantize_q4(src, dst, n); break;
    case SRC_W4A16: qlm_gpu_dequant_row(QLM_DT_W4A16, src, (int64_t)n, 0, dst); break;
    case SRC_I32: break; /* never converted: qlm_emit_is_copy */
    }
}

/* f32 -> f16 must not turn a finite weight into infinity silently. */
static qlm_status to_f16(const float *x, uint16_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        out[i] = qlm_f32_to_f16(x[i]);
        if ((out[i] & 0x7FFFu) == 0x7C00u && isfinite(x[i]))
            return qlm_fail(QLM_E_VALUE, "element %zu (%g) overflows f16 (use --keep NAME=bf16 or f32)", i,
                            (double)x[i]);
    }
    return QLM_OK;
}

qlm_status qlm_f32_to_target(qlm_dtype t, qlm_q4_method m, const float *x, void *out, size_t n, float ts)
{
    if (qlm_dtype_is_gpu(t))
        return qlm_gpu_quantize_row(t, x, n, ts, out);
    switch (t) {
    case QLM_DT_F32: memcpy(out, x, n * 4); return QLM_OK;
    case QLM_DT_F16: return to_f16(x, out, n);
    case QLM_DT_BF16: {
        uint16_t *o = out;
        for (size_t i = 0; i < n; i++)
            o[i] = qlm_f32_to_bf16(x[i]);
        return QLM_OK;
    }
    case QLM_DT_Q8: return qlm_quantize_q8(x, out, n);
    case QLM_DT_Q4: return qlm_quantize_q4_method(x, out, n, m);
    default: return qlm_fail(QLM_E_DTYPE, "cannot convert to dtype %u", (unsigned)t);
    }
}

bool qlm_emit_is_copy(qlm_src_type s, qlm_dtype t)
{
    return (s == SRC_F32 && t == QLM_DT_F32) || (s == SRC_F16 && t == QLM_DT_F16) ||
           (s == SRC_BF16 && t == QLM_DT_BF16) || (s == SRC_Q8_0 && t == QLM_DT_Q8) ||
           (s == SRC_Q4_0 && t == QLM_DT_Q4) || (s == SRC_W4A16 && t == QLM_DT_W4A16) ||
           (s == SRC_I32 && t == QLM_DT_I32);
}

bool qlm_src_type_of(uint32_t dtype, qlm_src_type *out)
{
    switch (dtype) {
    case QLM_DT_F32: *out = SRC_F32; return true;
    case QLM_DT_F16: *out = SRC_F16; return true;
    case QLM_DT_BF16: *out = SRC_BF16; return true;
    case QLM_DT_Q8: *out = SRC_Q8_0; return true;
    case QLM_DT_Q4: *out = SRC_Q4_0; return true;
    default: return false;
    }
}
