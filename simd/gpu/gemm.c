#include "simd/gpu/gemm.h"

#include <math.h>

#include "formats/common/half.h"
#include "formats/gpu/gpucvt.h"

/* The GPU stores every NaN it computes as 0x7FFFFFFF; x86 would give 0xFFC00000. */
static float gpu_nan(float x) { return isnan(x) ? qlm_bits_f32(0x7FFFFFFFu) : x; }

void qlm_gpu_gemm_w4a16(int M, int N, int K, const uint16_t *a, const uint8_t *q,
                        const uint16_t *s, float *out)
{
    int groups = (K + QLM_GPU_W4_GROUP - 1) / QLM_GPU_W4_GROUP;
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            const uint16_t *ar = a + (size_t)m * K;
            const uint8_t *qr = q + (size_t)n * K;
            const uint16_t *sr = s + (size_t)n * groups;
            float acc = 0.0f;
            for (int k = 0; k < K; k++) {
                float sc = qlm_gpu_f16_to_f32(sr[k / QLM_GPU_W4_GROUP]);
                /* f16 x f16 is exact in f32, so one rounding to f16 = __hmul */
                uint16_t w = qlm_gpu_f32_to_f16((float)((int)qr[k] - 8) * sc);
                acc = fmaf(qlm_gpu_f16_to_f32(ar[k]), qlm_gpu_f16_to_f32(w), acc);
            }
            out[(size_t)m * N + n] = gpu_nan(acc);
        }
}

static float fp8_row_scale(int K, const float *a)
{
    float amax = 0.0f;
    for (int k = 0; k < K; k++)
        amax = fmaxf(amax, fabsf(a[k]));
    return fmaxf(amax / QLM_GPU_FP8_MAX, QLM_GPU_FP8_MIN_SCALE);
}

float qlm_gpu_fp8_quant_row(int K, const float *a, uint8_t *q)
{
    float scale = fp8_row_scale(K, a);
    for (int k = 0; k < K; k++)
        q[k] = qlm_gpu_f32_to_e4m3(a[k] / scale, true);
    return scale;
}

void qlm_gpu_gemm_fp8(int M, int N, int K, const float *a, const uint8_t *w, const float *sw,
                      float *out)
{
    for (int m = 0; m < M; m++) {
        const float *ar = a + (size_t)m * K;
        float sa = fp8_row_scale(K, ar);
        for (int n = 0; n < N; n++) {
            const uint8_t *wr = w + (size_t)n * K;
            float acc = 0.0f;
            for (int k = 0; k < K; k++) {
                float qa = qlm_gpu_e4m3_to_f32(qlm_gpu_f32_to_e4m3(ar[k] / sa, true));
                acc = fmaf(qa, qlm_gpu_e4m3_to_f32(wr[k]), acc);
            }
            out[(size_t)m * N + n] = gpu_nan(acc * sa * sw[n]);
        }
    }
}

/* E2M1 x block scale GEMM shared by NVFP4 and MXFP4: the block-scaled weight
 * is exact in f32, so only the accumulation rounds. */
static void gemm_fp4(int M, int N, int K, const uint16_t *a, const uint8_t *q, const uint8_t *sc,
                     int block, float (*scale_of)(uint8_t), float post, float *out)
{
    int blocks = K / block;
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            const uint16_t *ar = a + (size_t)m * K;
            const uint8_t *qr = q + (size_t)n * K;
            const uint8_t *sr = sc + (size_t)n * blocks;
            float acc = 0.0f;
            for (int k = 0; k < K; k++) {
                float w = qlm_gpu_e2m1_to_f32(qr[k]) * scale_of(sr[k / block]);
                acc = fmaf(qlm_gpu_bf16_to_f32(ar[k]), w, acc);
            }
            out[(size_t)m * N + n] = gpu_nan(acc * post);
        }
}

void qlm_gpu_gemm_nvfp4(int M, int N, int K, const uint16_t *a, const uint8_t *q,
                        const uint8_t *sb, float ts, float *out)
{
    gemm_fp4(M, N, K, a, q, sb, QLM_GPU_NVFP4_BLOCK, qlm_gpu_ue4m3_to_f32, ts, out);
}

void qlm_gpu_gemm_mxfp4(int M, int N, int K, const uint16_t *a, const uint8_t *q,
                        const uint8_t *se, float *out)
{
    gemm_fp4(M, N, K, a, q, se, QLM_GPU_MXFP4_BLOCK, qlm_gpu_e8m0_to_f32, 1.0f, out);
}
