/* CPU emulation of NVIDIA tensor-core MMA instructions, bit for bit where
 * measured (docs/GPU-NUMERICS.md section 3).
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

/* One output: RN_f32(c + sum_{k<32} e4m3(a[k]) * e4m3(b[k])), the sum exact. */
float qlm_gpu_mma_e4m3_dot32(const uint8_t *a, const uint8_t *b, float c);

/* A 16 x 32 E4M3 row-major, Bt 8 x 32 (row n = column n of B), C and D 16 x 8 f32. */
void qlm_gpu_mma_m16n8k32_e4m3(const uint8_t *A, const uint8_t *Bt, const float *C, float *D);

#endif
