// SIMT reference GEMM kernels of docs/GPU-NUMERICS.md section 2, one thread per
// output, on the cases of tests/common/gpu_cases.c (regenerated from seeds).
// Writes the outputs of all GC_CASES cases of each path, in case order, each
// case M*N little-endian f32 (row m, column n), to <dir>/gemm_<path>.f32.
//
//   gemm_ref DIR [--host [NCASES]]
//
// --host evaluates the same per-output functions on the CPU (the host code
// paths of the CUDA headers) for the first NCASES cases: a dry run without GPU.
//
//   gemm_ref DIR --ext [--host [NCASES]]
//
// writes instead the contract variants the runtime added (docs/GPU-NUMERICS.md
// section 5), on the same cases with the operands of gc_w4_zeros /
// gc_fp8_group_scales: gemm_w4a16z.f32 (W4A16 with zero points) and
// gemm_fp8g128.f32 (FP8 W8A8 with per-128 weight scales).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp4.h>
#include <cuda_fp8.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

extern "C" {
#include "tests/common/gpu_cases.h"
}

struct Ops {
    int path, M, N, K;
    const uint16_t *a16;
    const float *a32;
    const uint8_t *wq;
    const float *w32;     // F32 weights
    const uint16_t *w16;  // BF16 weights
    const uint16_t *s16;
    const uint8_t *s8;
    const float *sw;
    float ts;
    const uint8_t *z;  // --ext: W4A16 zero points [N][groups], NULL = 8
    const float *sg;   // --ext: FP8 weight scales per 128 [N][groups], NULL = per-channel sw
};

__host__ __device__ static float e4m3(uint8_t c)
{
    return __half2float(__half(__nv_cvt_fp8_to_halfraw(c, __NV_E4M3)));
}
__host__ __device__ static float e2m1(uint8_t c)
{
    return __half2float(__half(__nv_cvt_fp4_to_halfraw(c, __NV_E2M1)));
}
__host__ __device__ static float e8m0(uint8_t c)
{
    return __bfloat162float(__nv_bfloat16(__nv_cvt_e8m0_to_bf16raw(c)));
}
__host__ __device__ static float bf16(uint16_t c) { return __bfloat162float(__ushort_as_bfloat16(c)); }

// W4A16: int4 -> f16 exact, times the f16 group scale in f16, f32 accumulate.
__host__ __device__ static float dot_w4a16(const Ops &o, int m, int n)
{
    int groups = (o.K + 127) / 128;
    float acc = 0.0f;
    for (int k = 0; k < o.K; k++) {
        __half s = __ushort_as_half(o.s16[n * groups + k / 128]);
        int z = o.z ? o.z[n * groups + k / 128] : 8;
        __half w = __hmul(__int2half_rn((int)o.wq[(size_t)n * o.K + k] - z), s);
        acc = fmaf(__half2float(__ushort_as_half(o.a16[(size_t)m * o.K + k])), __half2float(w), acc);
    }
    return acc;
}

// FP8 W8A8: per-token dynamic scale, E4M3 x E4M3 products, f32 accumulate.
__host__ __device__ static float dot_fp8(const Ops &o, int m, int n)
{
    const float *a = o.a32 + (size_t)m * o.K;
    float amax = 0.0f;
    for (int k = 0; k < o.K; k++)
        amax = fmaxf(amax, fabsf(a[k]));
    float sa = fmaxf(amax / 448.0f, 1.0f / (448.0f * 512.0f));
    if (o.sg) { // fp8-g128: each group's chain from +0, scaled and added in order
        int groups = (o.K + 127) / 128;
        float acc = 0.0f;
        for (int g = 0; g < groups; g++) {
            float p = 0.0f;
            for (int k = g * 128; k < o.K && k < g * 128 + 128; k++) {
                uint8_t q = __nv_cvt_float_to_fp8(a[k] / sa, __NV_SATFINITE, __NV_E4M3);
                p = fmaf(e4m3(q), e4m3(o.wq[(size_t)n * o.K + k]), p);
            }
            acc = acc + p * o.sg[n * groups + g];
        }
        return acc * sa;
    }
    float acc = 0.0f;
    for (int k = 0; k < o.K; k++) {
        uint8_t q = __nv_cvt_float_to_fp8(a[k] / sa, __NV_SATFINITE, __NV_E4M3);
        acc = fmaf(e4m3(q), e4m3(o.wq[(size_t)n * o.K + k]), acc);
    }
    return acc * sa * o.sw[n];
}

// NVFP4 / MXFP4 x bf16: block-scaled E2M1 weight (exact), f32 accumulate.
__host__ __device__ static float dot_fp4(const Ops &o, int m, int n)
{
    int block = o.path == GC_NVFP4 ? 16 : 32, blocks = o.K / block;
    float acc = 0.0f;
    for (int k = 0; k < o.K; k++) {
        uint8_t sc = o.s8[n * blocks + k / block];
        float w = e2m1(o.wq[(size_t)n * o.K + k]) * (o.path == GC_NVFP4 ? e4m3(sc) : e8m0(sc));
        acc = fmaf(bf16(o.a16[(size_t)m * o.K + k]), w, acc);
    }
    return o.path == GC_NVFP4 ? acc * o.ts : acc;
}

// F32 and BF16 x BF16: the plain fmaf chain (bf16 widened exactly), ascending k.
__host__ __device__ static float dot_float(const Ops &o, int m, int n)
{
    float acc = 0.0f;
    for (int k = 0; k < o.K; k++) {
        size_t ia = (size_t)m * o.K + k, iw = (size_t)n * o.K + k;
        acc = o.path == GC_F32 ? fmaf(o.a32[ia], o.w32[iw], acc) : fmaf(bf16(o.a16[ia]), bf16(o.w16[iw]), acc);
    }
    return acc;
}

__host__ __device__ static float dot(const Ops &o, int m, int n)
{
    switch (o.path) {
    case GC_W4A16: return dot_w4a16(o, m, n);
    case GC_FP8: return dot_fp8(o, m, n);
    case GC_F32:
    case GC_BF16: return dot_float(o, m, n);
    default: return dot_fp4(o, m, n);
    }
}

__global__ void gemm_kernel(Ops o, float *out)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < o.M * o.N)
        out[i] = dot(o, i / o.N, i % o.N);
}

#define CK(call)                                                                   \
    do {                                                                           \
        cudaError_t e_ = (call);                                                   \
        if (e_ != cudaSuccess) {                                                   \
            fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #call,           \
                    cudaGetErrorString(e_));                                       \
            exit(1);                                                               \
        }                                                                          \
    } while (0)

template <class T> static T *up(const T *h, size_t n)
{
    if (!h)
        return NULL;
    T *d;
    CK(cudaMalloc(&d, n * sizeof(T) + 1));
    CK(cudaMemcpy(d, h, n * sizeof(T), cudaMemcpyHostToDevice));
    return d;
}

static void run_case(const gc_case &c, bool host, bool ext, float *out)
{
    size_t mk = (size_t)c.M * c.K, nk = (size_t)c.N * c.K;
    size_t ng = (size_t)c.N * ((c.K + 127) / 128);
    size_t ns = c.path == GC_W4A16 ? ng : c.path == GC_NVFP4 ? nk / 16 : nk / 32;
    std::vector<uint8_t> z(ng);
    std::vector<float> sg(ng);
    if (ext && c.path == GC_W4A16)
        gc_w4_zeros(&c, z.data());
    if (ext && c.path == GC_FP8)
        gc_fp8_group_scales(&c, sg.data());
    bool zp = ext && c.path == GC_W4A16, gs = ext && c.path == GC_FP8;
    Ops o = {c.path, c.M, c.N, c.K, c.a16, c.a32, c.wq, c.w32, c.w16, c.s16, c.s8, c.sw, c.ts,
             zp ? z.data() : NULL, gs ? sg.data() : NULL};
    if (host) {
        for (int i = 0; i < c.M * c.N; i++)
            out[i] = dot(o, i / c.N, i % c.N);
        return;
    }
    Ops d = o;
    d.a16 = up(c.a16, mk);
    d.a32 = up(c.a32, mk);
    d.wq = up(c.wq, nk);
    d.w32 = up(c.w32, nk);
    d.w16 = up(c.w16, nk);
    d.s16 = up(c.s16, ns);
    d.s8 = up(c.s8, ns);
    d.sw = up(c.sw, (size_t)c.N);
    d.z = up(o.z, ng);
    d.sg = up(o.sg, ng);
    float *dout;
    CK(cudaMalloc(&dout, (size_t)c.M * c.N * sizeof(float)));
    gemm_kernel<<<(c.M * c.N + 127) / 128, 128>>>(d, dout);
    CK(cudaGetLastError());
    CK(cudaMemcpy(out, dout, (size_t)c.M * c.N * sizeof(float), cudaMemcpyDeviceToHost));
    cudaFree((void *)d.a16), cudaFree((void *)d.a32), cudaFree((void *)d.wq);
    cudaFree((void *)d.s16), cudaFree((void *)d.s8), cudaFree((void *)d.sw), cudaFree(dout);
    cudaFree((void *)d.z), cudaFree((void *)d.sg), cudaFree((void *)d.w32), cudaFree((void *)d.w16);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: gemm_ref DIR [--ext] [--host [NCASES]]\n");
        return 2;
    }
    int a = 2;
    bool ext = argc > a && !strcmp(argv[a], "--ext");
    a += ext;
    bool host = argc > a && !strcmp(argv[a], "--host");
    int ncases = host && argc > a + 1 ? atoi(argv[a + 1]) : GC_CASES;
    for (int p = 0; p < GC_NPATHS; p++) {
        if (ext && p != GC_W4A16 && p != GC_FP8)
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/gemm_%s%s.f32", argv[1], gc_path_names[p],
                 !ext ? "" : p == GC_W4A16 ? "z" : "g128");
        FILE *f = fopen(path, "wb");
        if (!f) {
            perror(path);
            return 1;
        }
        for (int i = 0; i < ncases; i++) {
            gc_case c;
            if (gc_make((gc_path)p, (uint32_t)i, &c)) {
                fprintf(stderr, "out of memory\n");
                return 1;
            }
            std::vector<float> out((size_t)c.M * c.N);
            run_case(c, host, ext, out.data());
            fwrite(out.data(), sizeof(float), out.size(), f);
            gc_free(&c);
        }
        fclose(f);
        fprintf(stderr, "%s: %d cases\n", gc_path_names[p], ncases);
    }
    return 0;
}
