/* CPU emulations of the SIMT reference GPU GEMM kernels, bit for bit.
 *
 * docs/GPU-NUMERICS.md section 2 states each contract; tests/gpu/gemm_ref.cu
 * is the CUDA kernel, and tests/data/gpu/gemm_*.f32.zst its outputs on an H200.
 * All compute out[m*N + n] = sum_k A[m][k] * W[n][k] (W is out x in, like every
 * qlm weight) with one f32 accumulator per output, added to in increasing k
 * by fmaf, starting from +0. Quantized operands hold one code per byte.
 * A NaN result is stored as the canonical 0x7FFFFFFF, as the GPU writes it.
 */
#ifndef QLM_SIMD_GPU_GEMM_H
#define QLM_SIMD_GPU_GEMM_H

#include <stdint.h>

#define QLM_GPU_W4_GROUP 128  /* W4A16 scale group along K (last group may be short) */
#define QLM_GPU_NVFP4_BLOCK 16
#define QLM_GPU_MXFP4_BLOCK 32
#define QLM_GPU_FP8_MAX 448.0f
#define QLM_GPU_FP8_GROUP 128 /* fp8-g128 weight scale group along K (last may be short) */
#define QLM_GPU_FP8_MIN_SCALE (1.0f / (448.0f * 512.0f)) /* vLLM's floor for dynamic scales */

/* W4A16 (Marlin numerics): a f16 [M][K]; q int4 codes 0..15 [N][K];
 * s f16 [N][ceil(K/128)]. w = f16(q-8) * s rounded to f16; acc += f32(a)*f32(w). */
void qlm_gpu_gemm_w4a16(int M, int N, int K, const uint16_t *a, const uint8_t *q,
                        const uint16_t *s, float *out);

/* Per-token dynamic E4M3 quantization of one activation row: scale =
 * max(amax/448, QLM_GPU_FP8_MIN_SCALE), q[k] = e4m3_sat(a[k] / scale). */
float qlm_gpu_fp8_quant_row(int K, const float *a, uint8_t *q);

/* FP8 W8A8: a f32 [M][K] quantized per row as above; w E4M3 [N][K]; sw f32 [N].
 * acc += e4m3(qa)*e4m3(w) (exact products); out = (acc * scale_a[m]) * sw[n]. */
void qlm_gpu_gemm_fp8(int M, int N, int K, const float *a, const uint8_t *w, const float *sw,
                      float *out);

/* NVFP4 x bf16: a bf16 [M][K]; q E2M1 [N][K]; sb UE4M3 [N][K/16]; K % 16 == 0.
 * w = e2m1(q) * ue4m3(sb) (exact); acc += f32(a) * w; out = acc * ts. */
void qlm_gpu_gemm_nvfp4(int M, int N, int K, const uint16_t *a, const uint8_t *q,
                        const uint8_t *sb, float ts, float *out);

/* MXFP4 x bf16: a bf16 [M][K]; q E2M1 [N][K]; se E8M0 [N][K/32]; K % 32 == 0.
 * w = e2m1(q) * 2^(se-127) (exact); acc += f32(a) * w; out = acc. */
void qlm_gpu_gemm_mxfp4(int M, int N, int K, const uint16_t *a, const uint8_t *q,
                        const uint8_t *se, float *out);

/* ---- One output element of each contract (the runtime's linear layers) ----
 * a: the activation row as the kernel receives it, w/q: one weight row, K
 * elements; the result is out[m*N + n] of the GEMM above for that row pair. */

/* W4A16 with zero points: w = f16(f16(q - z[g]) * s[g]), z NULL = 8 for every
 * group (the contract above). q - z is an integer of magnitude < 2048, exact in
 * f16, so the arithmetic is that of the measured kernel for any z. */
float qlm_gpu_dot_w4a16(int K, const uint16_t *a, const uint8_t *q, const uint16_t *s, const uint8_t *z);
/* FP8 W8A8 from the activation codes qa and scale sa (qlm_gpu_fp8_quant_row). */
float qlm_gpu_dot_fp8(int K, const uint8_t *qa, float sa, const uint8_t *w, float sw);
/* FP8 W8A8 with one weight scale per 128 along K (sw[ceil(K/128)]): each
 * group's fmaf chain p_g starts at +0; acc = acc + p_g * sw[g] (two roundings,
 * groups in order, acc from +0); out = acc * sa. Measured on an H200 (gemm_ref --ext). */
float qlm_gpu_dot_fp8_g128(int K, const uint8_t *qa, float sa, const uint8_t *w, const float *sw);
float qlm_gpu_dot_nvfp4(int K, const uint16_t *a, const uint8_t *q, const uint8_t *sb, float ts);
float qlm_gpu_dot_mxfp4(int K, const uint16_t *a, const uint8_t *q, const uint8_t *se);
/* SIMT f32 and bf16 x bf16: acc = fmaf(a_k, w_k, acc), ascending k, from +0.
 * Measured on an H200 like the others (gemm_ref paths f32 and bf16). */
float qlm_gpu_dot_f32(int K, const float *a, const float *w);
float qlm_gpu_dot_bf16(int K, const uint16_t *a, const uint16_t *w);

#endif
