/* CPU emulation of NVIDIA tensor-core MMA instructions, bit for bit where
 * measured (docs/GPU-NUMERICS.md section 3).
 *
 * f16/bf16: see qlm_gpu_mma_f16_dot16 below.
 *
 * mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32 on sm_90 behaves as
 * exact arithmetic: D = RN_f32(C + sum of the 32 exact products), one
 * rounding. Measured on an H200 on 4000 random tiles (512000 outputs, exponent
 * spreads over 2^-20..2^20 in C): 0 mismatches. Finite operands only: NaN
 * codes/C are outside the measured contract.
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

/* One output: RN_f32(c + sum_{k<32} e4m3(a[k]) * e4m3(b[k])), the sum exact. */
float qlm_gpu_mma_e4m3_dot32(const uint8_t *a, const uint8_t *b, float c);

/* A 16 x 32 E4M3 row-major, Bt 8 x 32 (row n = column n of B), C and D 16 x 8 f32. */
void qlm_gpu_mma_m16n8k32_e4m3(const uint8_t *A, const uint8_t *Bt, const float *C, float *D);

#endif
