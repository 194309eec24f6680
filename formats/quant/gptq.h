/* GPTQ (Frantar et al. 2022, "GPTQ: Accurate Post-Training Quantization for
 * Generative Pre-trained Transformers") into ordinary Q4 blocks.
 *
 * For a linear layer y = W x with calibration inputs X (one column per token),
 * GPTQ chooses the codes of W row by row so that ||(W - Wq) X||^2 is small:
 * with H = X X^T it quantizes the columns of W one at a time and spreads the
 * rounding error of column i over the columns not yet quantized, weighted by
 * the upper Cholesky factor U of H^-1 (H^-1 = U^T U):
 *     err = (w_i - q_i) / U[i][i];   w_j -= err * U[i][j]  for j after i.
 * Rows are independent, so the result does not depend on the thread count.
 *
 * Q4 specifics: each block of 32 columns of a row has one fp16 scale, chosen
 * (by the rule of qlm_q4_method) from the block's current, already
 * error-compensated weights when GPTQ reaches the first column of that block
 * in its processing order; codes are clamp(rne(w/d), -8, 7). With act-order
 * the columns are processed by decreasing H[i][i] but every block keeps its
 * columns, so the blocks are stored in the standard order and no permutation
 * needs to be recorded.
 *
 * Numerics: H, the factorizations and the running weights are double;
 * H is dampened by damp * mean(diag H) on the diagonal; a zero diagonal entry
 * (an input that is always 0) gets 1 and its weights are quantized as 0.
 */
#ifndef QLM_GPTQ_H
#define QLM_GPTQ_H

#include <stdbool.h>
#include <stdint.h>

#include "formats/common/err.h"
#include "formats/quant/quant.h"

typedef struct {
    double damp;           /* relative damping (GPTQ's percdamp); 0.01 is usual */
    bool act_order;        /* process columns by decreasing H[i][i] */
    qlm_q4_method scale;   /* block scale rule */
    int threads;           /* 0: OpenMP default */
    bool quiet;            /* no note on stderr when damping must grow */
} qlm_gptq_opts;

/* Lower Cholesky factor of the symmetric n x n matrix a (row-major; only the
 * lower triangle is read) into l (upper triangle zeroed; l may alias a).
 * QLM_E_VALUE when a pivot is not above 1e-12 times the largest diagonal
 * entry (not positive definite to working precision). */
qlm_status qlm_cholesky(const double *a, double *l, int64_t n);

/* Quantize w[rows][cols] (cols % 32 == 0) against the Hessian h[cols][cols]
 * (X X^T up to a positive factor; not modified) into rows*cols/32 blocks.
 * When H + damping is not positive definite the damping is multiplied by 10
 * (with a note unless quiet), at most 8 times; *damp_used (may be NULL)
 * receives the damping that worked. QLM_E_SHAPE, QLM_E_VALUE (non-finite
 * input, a scale beyond fp16, or H not positive definite even then),
 * QLM_E_NOMEM. */
qlm_status qlm_gptq_q4(const float *w, int64_t rows, int64_t cols, const double *h, const qlm_gptq_opts *o,
                       qlm_block_q4 *out, double *damp_used);

/* The objective GPTQ lowers: sum over rows of e^T H e, e = w_row - dequant(q_row). */
double qlm_gptq_objective(const float *w, const qlm_block_q4 *q, int64_t rows, int64_t cols, const double *h);

#endif
