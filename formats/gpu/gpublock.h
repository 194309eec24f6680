/* The GPU block formats of .qlm (dtypes 16..21, byte layouts in docs/FORMAT.md
 * "GPU block formats"), their reference quantizers and row access.
 *
 * Quantizer rules (docs/GPU-NUMERICS.md section 4): every scale is computed in
 * f32 from the block/row/tensor amax, rounded into its storage format by the
 * CUDA conversions of formats/gpu/gpucvt.h, and every code is computed from the
 * stored (rounded) scale: code = cvt(x / scale). NaN/Inf input is QLM_E_VALUE
 * naming the element. All rows are independent given the tensor scale (NVFP4
 * only), so rows may be quantized in parallel.
 *
 * Unpacking gives the operands of the GEMM contracts of simd/gpu/gemm.h: one
 * code per byte plus the scales. Dequantization gives the f32 value of every
 * weight as the "f32" path of the runtime uses it (exact except where noted).
 */
#ifndef QLM_GPUBLOCK_H
#define QLM_GPUBLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "formats/common/err.h"
#include "formats/qlm/dtype.h"

#define QLM_FP8_G 128   /* fp8-g128 scale group */
#define QLM_NVFP4_B 16  /* nvfp4 block */
#define QLM_MXFP4_B 32  /* mxfp4 block */
#define QLM_W4_G 128    /* w4a16 group */

typedef struct {
    float s;            /* x = e4m3(q[i]) * s */
    uint8_t q[QLM_FP8_G];
} qlm_block_fp8g;       /* 132 bytes */

typedef struct {
    uint8_t s;          /* UE4M3 block scale */
    uint8_t qs[8];      /* E2M1 pairs: element 2i low nibble, 2i+1 high nibble */
} qlm_block_nvfp4;      /* 9 bytes; x = e2m1 * ue4m3(s) * tensor scale */

typedef struct {
    uint8_t e;          /* E8M0 block scale 2^(e-127) */
    uint8_t qs[16];     /* E2M1 pairs as in nvfp4 */
} qlm_block_mxfp4;      /* 17 bytes; x = e2m1 * 2^(e-127) */

typedef struct {
    uint16_t s;         /* f16 scale */
    uint8_t z;          /* zero point (0..15 from the quantizer) */
    uint8_t pad;        /* 0 */
    uint8_t qs[64];     /* uint4 pairs: element 2i low nibble, 2i+1 high nibble */
} qlm_block_w4;         /* 68 bytes; x = f16(f16(q - z) * s) */

_Static_assert(sizeof(qlm_block_fp8g) == 132, "fp8-g128 block layout");
_Static_assert(sizeof(qlm_block_nvfp4) == 9, "nvfp4 block layout");
_Static_assert(sizeof(qlm_block_mxfp4) == 17, "mxfp4 block layout");
_Static_assert(sizeof(qlm_block_w4) == 68, "w4a16 block layout");

/* The tensor scale an NVFP4 tensor stores for this tensor-wide amax (finite):
 * amax / (6 * 448), or 1 for amax == 0. Other dtypes need none (0 is returned). */
float qlm_gpu_tensor_scale(qlm_dtype t, float amax);

/* Quantize n = cols floats into one row of dtype t (row_extra + blocks bytes,
 * as qlm_tensor_nbytes counts them). ts: the tensor scale (NVFP4). */
qlm_status qlm_gpu_quantize_row(qlm_dtype t, const float *x, size_t n, float ts, void *out);

/* A row unpacked to the operands of simd/gpu/gemm.h. Buffers are the
 * caller's: q [cols], sc [cols/16], sh [cols/128], sf [cols/128 + 1]. */
typedef struct {
    uint8_t *q;    /* codes, one per byte: E4M3, E2M1 (low nibble) or uint4 */
    uint8_t *sc;   /* NVFP4 UE4M3 / MXFP4 E8M0 scale codes; W4A16 zero points */
    uint16_t *sh;  /* W4A16 f16 scales */
    float *sf;     /* FP8: the row scale (sf[0]) or the per-128 scales */
    float ts;      /* NVFP4 tensor scale */
} qlm_gpu_row;

/* Unpack row r of a tensor of dtype t (GPU dtypes) with `cols` columns. */
void qlm_gpu_unpack_row(qlm_dtype t, const void *tensor, int64_t cols, int64_t r, qlm_gpu_row *out);

/* f32 values of row r (GPU dtypes): fp8 e4m3(q)*s and nvfp4 (e2m1*ue4m3)*ts
 * round once in f32; mxfp4 is exact; w4a16 is the f16 product of the GEMM
 * contract, widened. */
void qlm_gpu_dequant_row(qlm_dtype t, const void *tensor, int64_t cols, int64_t r, float *out);

/* One W4A16 weight as the GEMM contract forms it: f16(f16(q - z) * s), widened. */
float qlm_gpu_w4_value(uint8_t q, uint8_t z, uint16_t s);

#endif
