/* Narrow floating-point conversions exactly as NVIDIA GPUs perform them.
 *
 * Every function here reproduces a CUDA 13 intrinsic bit for bit on all 2^32
 * f32 inputs (encoders) and all codes (decoders); tests/data/gpu/ holds the
 * SHA-256 digests measured on an H100 and docs/GPU-NUMERICS.md states each rule.
 *
 *   qlm_gpu_f32_to_e4m3(x, sat)  __nv_cvt_float_to_fp8(x, sat?__NV_SATFINITE:__NV_NOSAT, __NV_E4M3)
 *   qlm_gpu_f32_to_e5m2(x, sat)  __nv_cvt_float_to_fp8(x, ..., __NV_E5M2)
 *   qlm_gpu_f32_to_e2m1(x, rz)   __nv_cvt_float_to_fp4(x, __NV_E2M1, rz?cudaRoundZero:cudaRoundNearest)
 *   qlm_gpu_f32_to_ue4m3(x)      __nv_cvt_float_to_fp8(fabsf(x), __NV_SATFINITE, __NV_E4M3)
 *   qlm_gpu_f32_to_e8m0(x,sat,up) __nv_cvt_float_to_e8m0(x, sat, up?cudaRoundPosInf:cudaRoundZero)
 *   qlm_gpu_f32_to_bf16(x)       __float2bfloat16_rn(x)
 *   qlm_gpu_f32_to_f16(x)        __float2half_rn(x)
 *
 * Rounding is to nearest, ties to even, unless named otherwise. NaN never
 * keeps its payload on the GPU: it becomes the canonical code (0x7F for the
 * FP8 kinds, 0x7FFF for bf16/f16, +6.0 for E2M1 which has no NaN, 0xFF for
 * E8M0). The f16/bf16 rules differ from formats/common/half.h only there.
 *
 * Decoders return the f32 a GPU produces when widening the code (FP8/FP4 go
 * through f16, E8M0 through bf16, as the cvt instructions do). They are exact
 * for every non-NaN code. f16 -> f32 (cvt.f32.f16) makes every NaN the
 * canonical 0x7FFFFFFF, so do FP8 NaNs; bf16 -> f32 keeps the payload.
 */
#ifndef QLM_GPUCVT_H
#define QLM_GPUCVT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

uint8_t qlm_gpu_f32_to_e4m3(float x, bool satfinite);
uint8_t qlm_gpu_f32_to_e5m2(float x, bool satfinite);
uint8_t qlm_gpu_f32_to_e2m1(float x, bool round_zero); /* always satfinite; low nibble */
uint8_t qlm_gpu_f32_to_ue4m3(float x);
uint8_t qlm_gpu_f32_to_e8m0(float x, bool satfinite, bool round_up);
uint16_t qlm_gpu_f32_to_bf16(float x);
uint16_t qlm_gpu_f32_to_f16(float x);

float qlm_gpu_e4m3_to_f32(uint8_t c);
float qlm_gpu_e5m2_to_f32(uint8_t c);
float qlm_gpu_e2m1_to_f32(uint8_t c); /* low nibble */
float qlm_gpu_ue4m3_to_f32(uint8_t c);
float qlm_gpu_e8m0_to_f32(uint8_t c);
float qlm_gpu_bf16_to_f32(uint16_t c);
float qlm_gpu_f16_to_f32(uint16_t c);

/* The conversion modes whose exhaustive digests tests/data/gpu/ stores. Names
 * are the first column of tests/data/gpu/cvt_digests.txt. */
typedef enum {
    QLM_GPU_CVT_E4M3_SAT,
    QLM_GPU_CVT_E4M3_NOSAT,
    QLM_GPU_CVT_E5M2_SAT,
    QLM_GPU_CVT_E5M2_NOSAT,
    QLM_GPU_CVT_E2M1_RN,
    QLM_GPU_CVT_E2M1_RZ,
    QLM_GPU_CVT_UE4M3,
    QLM_GPU_CVT_E8M0_RZ_SAT,
    QLM_GPU_CVT_E8M0_RZ_NOSAT,
    QLM_GPU_CVT_E8M0_RP_SAT,
    QLM_GPU_CVT_E8M0_RP_NOSAT,
    QLM_GPU_CVT_BF16_RN,
    QLM_GPU_CVT_F16_RN,
    QLM_GPU_CVT_COUNT
} qlm_gpu_cvt_mode;

const char *qlm_gpu_cvt_name(qlm_gpu_cvt_mode m);
/* Bytes per output code in the digest stream: 1 or 2 (little-endian). */
size_t qlm_gpu_cvt_width(qlm_gpu_cvt_mode m);
/* Convert the n f32 bit patterns first, first+1, ... (no wrap-around) and store
 * the codes in digest-stream layout into out (n * width bytes). */
void qlm_gpu_cvt_run(qlm_gpu_cvt_mode m, uint32_t first, size_t n, uint8_t *out);

#endif
