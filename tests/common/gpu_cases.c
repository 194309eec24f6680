#include "tests/common/gpu_cases.h"

#include <stdlib.h>
#include <string.h>

const char *const gc_path_names[GC_NPATHS] = {"w4a16", "fp8", "nvfp4", "mxfp4", "f32", "bf16"};

/* splitmix64 (Steele, Lea, Flood 2014): tiny, and identical on every compiler. */
static uint64_t next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint32_t below(uint64_t *s, uint32_t n) { return (uint32_t)(next(s) % n); }

static float f32_of(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* A finite f32 of the style: plain values in [-1,1], an exponent spread over
 * 2^-30..2^30, or any finite bit pattern below `maxexp` (biased). */
static uint32_t f32_bits(uint64_t *s, int style, uint32_t maxexp)
{
    uint32_t sign = (uint32_t)(next(s) & 1) << 31, man = (uint32_t)next(s) & 0x7FFFFFu;
    if (style == 0)
        return sign | ((127 - 1 - below(s, 8)) << 23) | man;
    if (style == 1)
        return sign | ((97 + below(s, 61)) << 23) | man;
    return sign | (below(s, maxexp + 1) << 23) | man;
}

/* Narrow float with e exponent bits and m mantissa bits (f16: 5,10; bf16: 8,7),
 * never Inf/NaN, drawn like f32_bits: style 2 covers subnormals and the top binade. */
static uint16_t narrow_bits(uint64_t *s, int style, int e, int m)
{
    uint32_t bias = (1u << (e - 1)) - 1, top = (1u << e) - 2;
    uint16_t sign = (uint16_t)((next(s) & 1) << (e + m));
    uint32_t man = (uint32_t)next(s) & ((1u << m) - 1), ex;
    if (style == 0)
        ex = bias - 1 - below(s, 6);
    else if (style == 1)
        ex = bias - 12 + below(s, 20);
    else
        ex = below(s, top + 1);
    return (uint16_t)(sign | (ex << m) | man);
}

static void *alloc(size_t n, size_t size, int *bad)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        *bad = 1;
    return p;
}

/* The F32 and BF16 paths: plain float operands, both drawn like activations
 * (style 2 products may overflow to Inf and Inf - Inf to NaN: the GPU's NaN
 * is part of the contract). */
static void float_operands(gc_case *c, uint64_t *s)
{
    size_t mk = (size_t)c->M * c->K, nk = (size_t)c->N * c->K;
    for (size_t j = 0; j < mk; j++) {
        if (c->path == GC_F32)
            c->a32[j] = f32_of(f32_bits(s, c->style, 254));
        else
            c->a16[j] = narrow_bits(s, c->style, 8, 7);
    }
    for (size_t j = 0; j < nk; j++) {
        if (c->path == GC_F32)
            c->w32[j] = f32_of(f32_bits(s, c->style, 254));
        else
            c->w16[j] = narrow_bits(s, c->style, 8, 7);
    }
}

int gc_make(gc_path path, uint32_t i, gc_case *c)
{
    uint64_t s = ((uint64_t)path << 32 | i) * 0x2545F4914F6CDD1Dull + 0x5EEDull;
    memset(c, 0, sizeof *c);
    c->path = path;
    c->style = (int)below(&s, 3);
    c->M = 1 + (int)below(&s, 8);
    c->N = 1 + (int)below(&s, 48);
    int big = below(&s, 16) == 0; /* one case in 16 has K in 4096..8192 */
    int unit = path == GC_NVFP4 ? 16 : path == GC_MXFP4 ? 32 : 1;
    int kmax = big ? 8192 : 512, kmin = big ? 4096 : 1;
    c->K = (kmin + (int)below(&s, (uint32_t)(kmax - kmin + 1))) / unit * unit;
    if (c->K == 0)
        c->K = unit;
    size_t mk = (size_t)c->M * c->K, nk = (size_t)c->N * c->K;
    int bad = 0;
    if (path == GC_F32 || path == GC_BF16) {
        size_t size = path == GC_F32 ? 4 : 2;
        void *a = alloc(mk, size, &bad), *w = alloc(nk, size, &bad);
        if (path == GC_F32)
            c->a32 = a, c->w32 = w;
        else
            c->a16 = a, c->w16 = w;
        if (bad) {
            gc_free(c);
            return -1;
        }
        float_operands(c, &s);
        return 0;
    }
    c->wq = alloc(nk, 1, &bad);
    if (path == GC_FP8) {
        c->a32 = alloc(mk, 4, &bad);
        c->sw = alloc((size_t)c->N, 4, &bad);
    } else {
        c->a16 = alloc(mk, 2, &bad);
    }
    size_t ns = path == GC_W4A16 ? (size_t)c->N * ((c->K + 127) / 128)
              : path == GC_FP8 ? 0 : nk / (size_t)unit;
    if (path == GC_W4A16)
        c->s16 = alloc(ns, 2, &bad);
    else if (path != GC_FP8)
        c->s8 = alloc(ns, 1, &bad);
    if (bad) {
        gc_free(c);
        return -1;
    }
    for (size_t j = 0; j < mk; j++) {
        if (path == GC_FP8)
            c->a32[j] = f32_of(f32_bits(&s, c->style, 254));
        else if (path == GC_W4A16)
            c->a16[j] = narrow_bits(&s, c->style, 5, 10);
        else
            c->a16[j] = narrow_bits(&s, c->style, 8, 7);
    }
    for (size_t j = 0; j < nk; j++) {
        uint8_t b = (uint8_t)next(&s);
        if (path == GC_FP8)
            c->wq[j] = (b & 0x7F) == 0x7F ? (uint8_t)(b ^ 1) : b; /* no NaN codes */
        else
            c->wq[j] = b & 0xF;
    }
    for (size_t j = 0; j < ns; j++) {
        if (path == GC_W4A16)
            c->s16[j] = narrow_bits(&s, c->style, 5, 10);
        else if (path == GC_NVFP4)
            c->s8[j] = (uint8_t)(c->style == 2 ? below(&s, 0x7F) : 0x30 + below(&s, 0x20));
        else
            c->s8[j] = (uint8_t)(c->style == 2 ? below(&s, 255) : 117 + below(&s, 20));
    }
    for (int n = 0; n < c->N && path == GC_FP8; n++)
        c->sw[n] = f32_of(f32_bits(&s, c->style == 2 ? 1 : 0, 254));
    c->ts = f32_of(f32_bits(&s, c->style == 2 ? 1 : 0, 254));
    return 0;
}

void gc_free(gc_case *c)
{
    free(c->a16);
    free(c->a32);
    free(c->wq);
    free(c->w32);
    free(c->w16);
    free(c->s16);
    free(c->s8);
    free(c->sw);
    memset(c, 0, sizeof *c);
}

void gc_w4_zeros(const gc_case *c, uint8_t *z)
{
    int groups = (c->K + 127) / 128;
    for (int n = 0; n < c->N; n++)
        for (int g = 0; g < groups; g++)
            z[n * groups + g] = (uint8_t)((5 * n + 3 * g + 1) % 16);
}

void gc_fp8_group_scales(const gc_case *c, float *sg)
{
    static const float mul[5] = {0.25f, 0.5f, 1.0f, 2.0f, 4.0f};
    int groups = (c->K + 127) / 128;
    for (int n = 0; n < c->N; n++)
        for (int g = 0; g < groups; g++)
            sg[n * groups + g] = c->sw[n] * mul[(n + g) % 5];
}
