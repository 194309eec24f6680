#include "simd/gpu/gemm.h"

#include <math.h>

#include "formats/common/half.h"
#include "formats/gpu/gpublock.h"
#include "formats/gpu/gpucvt.h"

/* The GPU stores every NaN it computes as 0x7FFFFFFF; x86 would give 0xFFC00000. */
static float gpu_nan(float x) { return isnan(x) ? qlm_bits_f32(0x7FFFFFFFu) : x; }

float qlm_gpu_dot_w4a16(int K, const uint16_t *a, const uint8_t *q, const uint16_t *s, const uint8_t *z)
{
    float acc = 0.0f;
    for (int k = 0; k < K; k++) {
        int g = k / QLM_GPU_W4_GROUP;
        float w = qlm_gpu_w4_value(q[k], z ? z[g] : 8, s[g]);
        acc = fmaf(qlm_gpu_f16_to_f32(a[k]), w, acc);
    }
    return gpu_nan(acc);
}

void qlm_gpu_gemm_w4a16(int M, int N, int K, const uint16_t *a, const uint8_t *q,
                        const uint16_t *s, float *out)
{
    int groups = (K + QLM_GPU_W4_GROUP - 1) / QLM_GPU_W4_GROUP;
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++)
            out[(size_t)m * N + n] = qlm_gpu_dot_w4a16(K, a + (size_t)m * K, q + (size_t)n * K,
                                                       s + (size_t)n * groups, NULL);
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

/* fmaf chain over k0 <= k < k1 of exact E4M3 products, from +0. */
static float fp8_chain(int k0, int k1, const uint8_t *qa, const uint8_t *w)
{
    float acc = 0.0f;
    for (int k = k0; k < k1; k++)
        acc = fmaf(qlm_gpu_e4m3_to_f32(qa[k]), qlm_gpu_e4m3_to_f32(w[k]), acc);
    return acc;
}

float qlm_gpu_dot_fp8(int K, const uint8_t *qa, float sa, const uint8_t *w, float sw)
{
    return gpu_nan(fp8_chain(0, K, qa, w) * sa * sw);
}

float qlm_gpu_dot_fp8_g128(int K, const uint8_t *qa, float sa, const uint8_t *w, const float *sw)
{
    float acc = 0.0f;
    for (int k0 = 0; k0 < K; k0 += QLM_GPU_FP8_GROUP) {
        int k1 = K - k0 < QLM_GPU_FP8_GROUP ? K : k0 + QLM_GPU_FP8_GROUP;
        float p = fp8_chain(k0, k1, qa, w) * sw[k0 / QLM_GPU_FP8_GROUP];
        acc = acc + p;
    }
    return gpu_nan(acc * sa);
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
            for (int k = 0; k < K; k++) { /* the codes qlm_gpu_fp8_quant_row gives */
                float qa = qlm_gpu_e4m3_to_f32(qlm_gpu_f32_to_e4m3(ar[k] / sa, true));
                acc = fmaf(qa, qlm_gpu_e4m3_to_f32(wr[k]), acc);
            }
            out[(size_t)m * N + n] = gpu_nan(acc * sa * sw[n]);
        }
    }
}

/* E2M1 x block scale dot shared by NVFP4 and MXFP4: the block-scaled weight
 * is exact in f32, so only the accumulation rounds. */
static float dot_fp4(int K, const uint16_t *a, const uint8_t *q, const uint8_t *sc, int block,
                     float (*scale_of)(uint8_t), float post)
{
    float acc = 0.0f;
    for (int k = 0; k < K; k++) {
        float w = qlm_gpu_e2m1_to_f32(q[k]) * scale_of(sc[k / block]);
        acc = fmaf(qlm_gpu_bf16_to_f32(a[k]), w, acc);
    }
    return gpu_nan(acc * post);
}

float qlm_gpu_dot_nvfp4(int K, const uint16_t *a, const uint8_t *q, const uint8_t *sb, float ts)
{
    return dot_fp4(K, a, q, sb, QLM_GPU_NVFP4_BLOCK, qlm_gpu_ue4m3_to_f32, ts);
}

float qlm_gpu_dot_mxfp4(int K, const uint16_t *a, const uint8_t *q, const uint8_t *se)
{
    return dot_fp4(K, a, q, se, QLM_GPU_MXFP4_BLOCK, qlm_gpu_e8m0_to_f32, 1.0f);
}

void qlm_gpu_gemm_nvfp4(int M, int N, int K, const uint16_t *a, const uint8_t *q,
                        const uint8_t *sb, float ts, float *out)
{
    int blocks = K / QLM_GPU_NVFP4_BLOCK;
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++)
            out[(size_t)m * N + n] = qlm_gpu_dot_nvfp4(K, a + (size_t)m * K, q + (size_t)n * K,
                                                       sb + (size_t)n * blocks, ts);
}

void qlm_gpu_gemm_mxfp4(int M, int N, int K, const uint16_t *a, const uint8_t *q,
                        const uint8_t *se, float *out)
{
    int blocks = K / QLM_GPU_MXFP4_BLOCK;
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++)
            out[(size_t)m * N + n] = qlm_gpu_dot_mxfp4(K, a + (size_t)m * K, q + (size_t)n * K,
                                                       se + (size_t)n * blocks);
}

float qlm_gpu_dot_f32(int K, const float *a, const float *w)
{
    float acc = 0.0f;
    for (int k = 0; k < K; k++)
        acc = fmaf(a[k], w[k], acc);
    return gpu_nan(acc);
}

float qlm_gpu_dot_bf16(int K, const uint16_t *a, const uint16_t *w)
{
    float acc = 0.0f;
    for (int k = 0; k < K; k++)
        acc = fmaf(qlm_gpu_bf16_to_f32(a[k]), qlm_gpu_bf16_to_f32(w[k]), acc);
    return gpu_nan(acc);
}
