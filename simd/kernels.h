/* The kernel layer: every numeric inner loop of the forward pass, behind one
 * table chosen at run time (scalar reference or an ISA-specific set).
 *
 * THE DETERMINISM CONTRACT. For the same inputs every kernel set returns
 * bit-identical results. The scalar reference (simd/ref/) *is* the
 * specification; an ISA kernel may only reorder operations whose result is
 * exact (integer sums, max, independent lanes). All code is compiled with
 * -ffp-contract=off; fused multiply-adds appear only where written as fmaf().
 *
 *  sum16(v[0..n))     16 lane accumulators a[l] = 0; for i in 0..n-1 (in order)
 *                     a[i%16] = a[i%16] + v[i]; then the fixed tree
 *                     for w in 8,4,2,1: a[l] = a[l] + a[l+w] (l < w); result a[0].
 *  dot16(x, y, n)     as sum16 but a[i%16] = fmaf(x[i], y[i], a[i%16]).
 *  Activation Q8      per block of 32: amax = max|x|; d = amax / 127.0f;
 *                     id = amax != 0 ? 127.0f / amax : 0; q = clamp(rne(x*id), -127, 127)
 *                     (x*id is NaN only as 0 * inf, for amax < 127/FLT_MAX: q = 0).
 *  Quantized dot      W row (Q8 or Q4 blocks) . X row (activation Q8 blocks):
 *                     acc = 0.0f; for each block j in order:
 *                       isum = sum of w_q * x_q over the 32 elements (exact int32)
 *                       s    = fp16_to_f32(w.d) * x.d          (one f32 rounding)
 *                       acc  = fmaf((float)isum, s, acc)
 *                     (Q4 codes are nibble-8, in -8..7.)
 *  Float-weight dot   W row converted exactly to f32, then dot16(w, x, K).
 *  expf               qlm_expf(), simd/ref/qmath.h: a fixed polynomial, not libm.
 *  rmsnorm            ss = dot16(x, x, n); r = 1.0f / sqrtf(ss / (float)n + eps);
 *                     out[i] = (x[i] * r) * w[i].
 *  softmax            m = max x; e[i] = qlm_expf(x[i] - m); s = sum16(e); x[i] = e[i] / s.
 *  silu_mul           g[i] = (g[i] / (1.0f + qlm_expf(-g[i]))) * u[i].
 *  rope (rotate-half) for i < d/2: a = x[i], b = x[i+d/2];
 *                     x[i] = a*c[i] - b*s[i]; x[i+d/2] = b*c[i] + a*s[i]   (no fma).
 *  axpy               y[i] = fmaf(a, x[i], y[i])  (attention's P.V, in key order).
 *  dot_rows           out[j] = dot16(q, k + j*ld, n) * scale, j in [0, m)   (Q.K over m keys).
 *  axpy_rows          for j = 0..m-1 in order: axpy(y, a[j], v + j*ld, n)   (P.V over m keys);
 *                     the same results as the loops of dot/axpy calls, with y kept in registers.
 *
 * Threading is the caller's: matmuls take a row range [r0, r1) so any static
 * partition over output rows gives identical results.
 */
#ifndef QLM_KERNELS_H
#define QLM_KERNELS_H

#include <stdint.h>

#include "formats/quant/quant.h"

typedef struct {
    float d;       /* f32 scale (activations keep full precision) */
    int8_t q[32];
} qlm_block_q8a;   /* 36 bytes */

typedef struct qlm_kernels {
    const char *name; /* "scalar", "avx2", "avx512", "neon" */

    /* x[k] -> k/32 activation blocks (k % 32 == 0). */
    void (*quant_act)(const float *x, qlm_block_q8a *out, int64_t k);

    /* Y[t*ldy + r] = dot(W row r, X row t) for r in [r0, r1), t in [0, nt).
     * Quantized: W rows have nb = K/32 blocks, X rows nb activation blocks.
     * Float: W rows and X rows have K elements. */
    void (*mm_q8)(const qlm_block_q8 *w, const qlm_block_q8a *x, int64_t nb, int64_t nt,
                  int64_t r0, int64_t r1, float *y, int64_t ldy);
    void (*mm_q4)(const qlm_block_q4 *w, const qlm_block_q8a *x, int64_t nb, int64_t nt,
                  int64_t r0, int64_t r1, float *y, int64_t ldy);
    void (*mm_f32)(const float *w, const float *x, int64_t k, int64_t nt,
                   int64_t r0, int64_t r1, float *y, int64_t ldy);
    void (*mm_f16)(const uint16_t *w, const float *x, int64_t k, int64_t nt,
                   int64_t r0, int64_t r1, float *y, int64_t ldy);
    void (*mm_bf16)(const uint16_t *w, const float *x, int64_t k, int64_t nt,
                    int64_t r0, int64_t r1, float *y, int64_t ldy);

    float (*dot)(const float *x, const float *y, int64_t n);   /* dot16 */
    float (*sum)(const float *x, int64_t n);                   /* sum16 */
    void (*axpy)(float *y, float a, const float *x, int64_t n);
    void (*dot_rows)(float *out, const float *q, const float *k, int64_t m, int64_t ld, int64_t n,
                     float scale);
    void (*axpy_rows)(float *y, const float *a, const float *v, int64_t m, int64_t ld, int64_t n);
    void (*rmsnorm)(float *out, const float *x, const float *w, int64_t n, float eps);
    void (*softmax)(float *x, int64_t n);
    void (*silu_mul)(float *g, const float *u, int64_t n);
    void (*rope)(float *x, const float *cos, const float *sin, int64_t head_dim);

    /* Optional (NULL in sets that read the file's blocks in place): a private,
     * row-interleaved copy of a Q8/Q4 matrix (dtype QLM_DT_Q8 or QLM_DT_Q4,
     * `rows` rows of nb blocks), made once when a model is loaded.
     * pack_size: bytes of the copy, 0 if this set keeps the file layout for
     * such a matrix. pack: writes it to `out` (64-byte aligned, pack_size
     * bytes). mm_packed: exactly the results of mm_q8/mm_q4 on the original,
     * for any row range. */
    size_t (*pack_size)(uint32_t dtype, int64_t rows, int64_t nb);
    void (*pack)(uint32_t dtype, const void *w, int64_t rows, int64_t nb, void *out);
    void (*mm_packed)(uint32_t dtype, const void *wp, const qlm_block_q8a *x, int64_t nb, int64_t nt,
                      int64_t r0, int64_t r1, float *y, int64_t ldy);
} qlm_kernels;

/* The scalar reference set (always available). */
const qlm_kernels *qlm_kernels_ref(void);

/* The set in use: chosen once from CPUID/hwcaps, or forced by QLM_ISA
 * (scalar|avx2|avx512|neon). Returns NULL and sets an error if QLM_ISA names
 * an ISA this CPU or build lacks. Thread-safe after the first call. */
const qlm_kernels *qlm_kernels_get(void);

/* Force a set by name (tests, `qlm sysinfo`); QLM_E_UNSUPPORTED if unavailable. */
qlm_status qlm_kernels_select(const char *name);

#endif
