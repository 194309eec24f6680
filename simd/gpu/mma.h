/* CPU emulation of NVIDIA Hopper tensor-core MMA instructions, bit for bit
 * as measured on an H200 (docs/GPU-NUMERICS.md section 3): mma.sync f16/bf16
 * m16n8k16 and E4M3 m16n8k32, wgmma E4M3 m64n8k32 (and f16/bf16 m64n8k16,
 * which equal mma.sync). Each has its own accumulation structure below.
 */
#ifndef QLM_SIMD_GPU_MMA_H
#define QLM_SIMD_GPU_MMA_H

#include <stdint.h>

/* mma.sync.aligned.m16n8k16.row.col.f32.{f16,bf16}.{f16,bf16}.f32 on sm_90 is
 * one 17-term fused step (measured on an H200: 0 mismatches of 1.5 million outputs per type from
 * random, adversarial and sparse tiles; docs/GPU-NUMERICS.md section 3):
 *   E = max(ea + eb over the nonzero products, exponent of C if C != 0), where
 *       ea, eb are the operands' nominal exponents (biased exponent - bias, or
 *       1 - bias for subnormals), so a product's significand lies in [0, 4);
 *   every product (exact) and C is truncated toward zero to a multiple of
 *       2^max(E - 25, -158);
 *   the truncated terms are summed exactly and the sum is rounded toward zero
 *       to f32; a result that is zero is +0 (when every term is a zero they
 *       add as IEEE zeros).
 * Finite operands and a finite result only (NaN/Inf and bf16 products beyond
 * the f32 range were not measured). */
float qlm_gpu_mma_f16_dot16(const uint16_t *a, const uint16_t *b, float c);
float qlm_gpu_mma_bf16_dot16(const uint16_t *a, const uint16_t *b, float c);

/* A 16 x 16 row-major, Bt 8 x 16 (row n = column n of B), C and D 16 x 8 f32;
 * codes are IEEE binary16 (f16) or bfloat16 (bf16) bit patterns. */
void qlm_gpu_mma_m16n8k16_f16(const uint16_t *A, const uint16_t *Bt, const float *C, float *D);
void qlm_gpu_mma_m16n8k16_bf16(const uint16_t *A, const uint16_t *Bt, const float *C, float *D);

/* mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32 on sm_90: three steps
 * (docs/GPU-NUMERICS.md section 3). P = the fused step above (truncation 25
 * bits below the largest nominal exponent, exact sum, RZ to f32) over the 16
 * products with k mod 4 in {0, 1}; P = the same over P and the products with
 * k mod 4 in {2, 3}; D = RN_f32(C + P). A NaN code (0x7F/0xFF) anywhere in a
 * or b, even against a zero, gives 0x7FFFFFFF. Inf/NaN C was not measured. */
float qlm_gpu_mma_e4m3_dot32(const uint8_t *a, const uint8_t *b, float c);

/* A 16 x 32 E4M3 row-major, Bt 8 x 32 (row n = column n of B), C and D 16 x 8 f32. */
void qlm_gpu_mma_m16n8k32_e4m3(const uint8_t *A, const uint8_t *Bt, const float *C, float *D);

/* wgmma.mma_async.sync.aligned.m64n8k32.f32.e4m3.e4m3 (A from registers) on
 * sm_90: one fused step over C and all 32 products, every term truncated
 * toward zero 13 bits below the largest nominal exponent (C's real exponent
 * counts), the exact sum cut toward zero to a 14-bit significand: D has at
 * most 13 fraction bits. NaN codes as for mma.sync. An output depends only on
 * its row of A and column of B, so a warp's 16 rows of the m64 tile are
 * computed as a 16 x 8 tile here. (wgmma m64n8k16 f16/bf16 equals the
 * mma.sync f16/bf16 functions above.) */
float qlm_gpu_wgmma_e4m3_dot32(const uint8_t *a, const uint8_t *b, float c);
void qlm_gpu_wgmma_m16n8k32_e4m3(const uint8_t *A, const uint8_t *Bt, const float *C, float *D);

#endif
