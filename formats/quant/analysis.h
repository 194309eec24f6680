/* Quantization error analysis (`qlm quant-error`): fake-quantize a matrix
 * (quantize, then dequantize to f32) under one scheme x granularity and
 * measure the error against the original.
 *
 * Scheme rules (all symmetric, scale s = absmax of the group / qmax, kept in f32):
 *   INT8      q = clamp(rne(x/s), -127, 127),        qmax 127
 *   INT4      q = clamp(rne(x/s), -8, 7),            qmax 7
 *   FP8 E4M3  fp8(x/s)*s, qmax 448   (1-4-3, bias 7, no inf, saturating)
 *   FP8 E5M2  fp8(x/s)*s, qmax 57344 (1-5-2, bias 15, saturating)
 *   Q8, Q4    qlm's own block-32 formats (formats/quant/quant.h, fp16 scale)
 * A group of all zeros has s = 0 and reproduces exactly. Granularity: one
 * scale per tensor, per row, or per group of G consecutive elements of a row
 * (the last group of a row may be shorter). Q8/Q4 are always block-32 and
 * need cols % 32 == 0.
 */
#ifndef QLM_ANALYSIS_H
#define QLM_ANALYSIS_H

#include <stddef.h>
#include <stdint.h>

#include "formats/common/err.h"
#include "formats/qlm/qlmfile.h"

typedef enum { QE_INT8, QE_FP8_E4M3, QE_FP8_E5M2, QE_INT4, QE_Q8, QE_Q4 } qe_kind;

#define QE_PER_TENSOR 0
#define QE_PER_ROW (-1)

typedef struct {
    qe_kind kind;
    int group; /* QE_PER_TENSOR, QE_PER_ROW or a group size > 0 (ignored for Q8/Q4) */
} qe_scheme;

/* Error sums; the reported metrics derive from them so tensors can be pooled. */
typedef struct {
    double sse;     /* sum (x - xq)^2 */
    double ssr;     /* sum x^2 */
    double max_abs; /* max |x - xq| */
    uint64_t n;
} qe_stats;

/* f32 -> nearest FP8 value (ties to even) -> f32, saturating to +-max; NaN
 * stays NaN. These are formats/gpu's CUDA-exact conversions (satfinite). */
float qe_fp8_e4m3(float x);
float qe_fp8_e5m2(float x);

/* "int8-row", "fp8e4m3-tensor", "int4-g128", "q4", ...: name into buf. */
const char *qe_scheme_name(qe_scheme s, char *buf, size_t cap);
/* Parse a name in the form qe_scheme_name writes; false if not one. */
int qe_scheme_parse(const char *name, qe_scheme *out);

/* The default scheme list `qlm quant-error` reports (count in *n). */
const qe_scheme *qe_default_schemes(size_t *n);

/* Fake-quantize x[rows][cols] into out (may alias x). QLM_E_SHAPE if Q8/Q4
 * and cols % 32 != 0; QLM_E_VALUE for NaN/Inf input. */
qlm_status qe_fake_quant(qe_scheme s, const float *x, float *out, uint64_t rows, uint64_t cols);

/* Accumulate the error of xq against x (n elements) into st. */
void qe_stats_add(qe_stats *st, const float *x, const float *xq, uint64_t n);

/* Metrics: RMSE, relative Frobenius error ||x-xq||/||x||, SNR in dB
 * (+inf when exact). */
double qe_rmse(const qe_stats *st);
double qe_rel_frob(const qe_stats *st);
double qe_snr_db(const qe_stats *st);

/* Relative Frobenius error of X.W^T when W (and X if quant_x) is fake-quantized
 * with scheme s (X per its rows: same scheme), X[M][K], W[N][K] standard
 * normal from `seed`. OpenMP-parallel. */
qlm_status qe_matmul_error(qe_scheme s, int quant_x, int64_t M, int64_t K, int64_t N, uint64_t seed,
                           double *rel_err);
/* The same on given X[M][K], W[N][K] (dot products in f32, sums in double). */
qlm_status qe_matmul_error_xw(qe_scheme s, int quant_x, const float *x, const float *w, int64_t M, int64_t K,
                              int64_t N, double *rel_err);

/* Rewrite the .qlm `src` to `out` with every 2-D weight fake-quantized by s
 * and stored as `store` (F32 or BF16; BF16 rounds the dequantized values once
 * more); other tensors and all metadata are copied. Q8/Q4 schemes leave a
 * tensor whose rows are not a multiple of 32 as it is (a note unless quiet).
 * The result runs through the normal forward pass (perplexity, kld). */
qlm_status qe_write_fake(const char *src, const char *out, qe_scheme s, qlm_dtype store, bool quiet);

#endif
