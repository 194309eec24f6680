/* Random GEMM cases for the GPU GEMM contracts, regenerable from a seed on
 * both sides: tests/gpu/gemm_ref.cu (compiled as C by gcc there) and the CPU
 * tests build the very same operands, so only the GPU outputs are stored.
 * Plain C, no cmocka: the CUDA programs link it. */
#ifndef QLM_GPU_CASES_H
#define QLM_GPU_CASES_H

#include <stddef.h>
#include <stdint.h>

typedef enum { GC_W4A16, GC_FP8, GC_NVFP4, GC_MXFP4, GC_F32, GC_BF16, GC_NPATHS } gc_path;

typedef struct {
    gc_path path;
    int M, N, K;
    int style;       /* 0 plain [-1,1], 1 exponent spread, 2 raw bit patterns (subnormals, huge) */
    uint16_t *a16;   /* f16 (W4A16) or bf16 (NVFP4/MXFP4/BF16) activations [M][K] */
    float *a32;      /* f32 activations [M][K] (FP8, F32) */
    uint8_t *wq;     /* weight codes [N][K], one per byte (quantized paths) */
    float *w32;      /* F32 weights [N][K] */
    uint16_t *w16;   /* BF16 weights [N][K] */
    uint16_t *s16;   /* W4A16 f16 group scales [N][ceil(K/128)] */
    uint8_t *s8;     /* NVFP4 UE4M3 [N][K/16] or MXFP4 E8M0 [N][K/32] scales */
    float *sw;       /* FP8 per-channel scales [N] */
    float ts;        /* NVFP4 tensor scale */
} gc_case;

#define GC_CASES 1000 /* cases per path in tests/data/gpu */

extern const char *const gc_path_names[GC_NPATHS]; /* "w4a16", "fp8", "nvfp4", "mxfp4", "f32", "bf16" */

/* Operands of the contract variants that extend a case (tests/gpu/gemm_ref.cu
 * --ext), derived deterministically from it, [N][ceil(K/128)] each:
 * W4A16 zero points z[n][g] = (5n + 3g + 1) % 16 (the contract with zero points),
 * FP8 per-128 weight scales sg[n][g] = sw[n] * {1/4, 1/2, 1, 2, 4}[(n + g) % 5]
 * (the fp8-g128 contract). */
void gc_w4_zeros(const gc_case *c, uint8_t *z);
void gc_fp8_group_scales(const gc_case *c, float *sg);

/* Case i of a path (seeded by path and i). Returns 0, or -1 if out of memory. */
int gc_make(gc_path path, uint32_t i, gc_case *c);
void gc_free(gc_case *c);

#endif
