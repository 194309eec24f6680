/* GPTQ into Q4 blocks (gptq.h). Every parallel loop gives each output
 * element to exactly one thread with a fixed operation order, so results
 * are identical for any thread count. */
#include "formats/quant/gptq.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/common/half.h"
#include "formats/qlm/dtype.h"

#define MAX_DAMP_TRIES 8

static int n_threads(const qlm_gptq_opts *o) { return o->threads > 0 ? o->threads : omp_get_max_threads(); }

qlm_status qlm_cholesky(const double *a, double *l, int64_t n)
{
    double dmax = 0.0;
    for (int64_t i = 0; i < n; i++)
        dmax = fmax(dmax, a[i * n + i]);
    double tiny = 1e-12 * dmax;
    for (int64_t j = 0; j < n; j++) {
        double s = a[j * n + j];
        for (int64_t k = 0; k < j; k++)
            s -= l[j * n + k] * l[j * n + k];
        if (!(s > tiny))
            return qlm_fail(QLM_E_VALUE, "matrix is not positive definite (pivot %lld is %g)", (long long)j, s);
        double d = sqrt(s);
        l[j * n + j] = d;
        /* Rows below j read only columns < j of row j and of themselves. */
#pragma omp parallel for schedule(static) if (n - j > 64)
        for (int64_t i = j + 1; i < n; i++) {
            double t = a[i * n + j];
            for (int64_t k = 0; k < j; k++)
                t -= l[i * n + k] * l[j * n + k];
            l[i * n + j] = t / d;
        }
    }
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = i + 1; j < n; j++)
            l[i * n + j] = 0.0;
    return QLM_OK;
}

/* Lower-triangular inverse of lower L (n x n) into inv, one column each. */
static void tri_inverse(const double *l, double *inv, int64_t n, int threads)
{
    memset(inv, 0, (size_t)(n * n) * sizeof *inv);
#pragma omp parallel for num_threads(threads) schedule(dynamic, 8)
    for (int64_t j = 0; j < n; j++) {
        inv[j * n + j] = 1.0 / l[j * n + j];
        for (int64_t i = j + 1; i < n; i++) {
            double s = 0.0;
            for (int64_t k = j; k < i; k++)
                s += l[i * n + k] * inv[k * n + j];
            inv[i * n + j] = -s / l[i * n + i];
        }
    }
}

/* Lower triangle of Linv^T Linv (= H^-1) into out. */
static void gram_lower(const double *linv, double *out, int64_t n, int threads)
{
#pragma omp parallel for num_threads(threads) schedule(dynamic, 8)
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j <= i; j++) {
            double s = 0.0;
            for (int64_t k = i; k < n; k++)
                s += linv[k * n + i] * linv[k * n + j];
            out[i * n + j] = s;
        }
}

/* Processing order: identity, or by decreasing H[i][i] (ties: lower index). */
typedef struct {
    double d;
    int64_t i;
} diag_entry;

static int by_diag_desc(const void *pa, const void *pb)
{
    const diag_entry *a = pa, *b = pb;
    if (a->d != b->d)
        return a->d > b->d ? -1 : 1;
    return a->i < b->i ? -1 : a->i > b->i;
}

static qlm_status make_order(const double *h, int64_t n, bool act_order, int64_t *perm, int64_t *pinv)
{
    for (int64_t i = 0; i < n; i++)
        perm[i] = i;
    if (act_order) {
        diag_entry *e = malloc((size_t)n * sizeof *e);
        if (!e)
            return qlm_fail(QLM_E_NOMEM, "gptq: out of memory");
        for (int64_t i = 0; i < n; i++)
            e[i] = (diag_entry){h[i * n + i], i};
        qsort(e, (size_t)n, sizeof *e, by_diag_desc);
        for (int64_t i = 0; i < n; i++)
            perm[i] = e[i].i;
        free(e);
    }
    for (int64_t i = 0; i < n; i++)
        pinv[perm[i]] = i;
    return QLM_OK;
}

/* U (upper Cholesky factor of (P H P^T + damping)^-1, row-major) into u,
 * using a as scratch; dead inputs (H[i][i] == 0) count as 1. */
static qlm_status inverse_factor(const double *h, const int64_t *perm, int64_t n, double damp, double *a,
                                 double *u, int threads)
{
    double mean = 0.0;
    for (int64_t i = 0; i < n; i++)
        mean += h[i * n + i] == 0.0 ? 1.0 : h[i * n + i];
    mean /= (double)n;
    for (int64_t i = 0; i < n; i++) {
        for (int64_t j = 0; j < n; j++)
            a[i * n + j] = h[perm[i] * n + perm[j]];
        if (a[i * n + i] == 0.0)
            a[i * n + i] = 1.0;
        a[i * n + i] += damp * mean;
    }
    qlm_status st = qlm_cholesky(a, a, n);
    if (st)
        return st;
    tri_inverse(a, u, n, threads);
    gram_lower(u, a, n, threads);
    if ((st = qlm_cholesky(a, a, n)))
        return st;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++)
            u[i * n + j] = a[j * n + i];
    return QLM_OK;
}

/* Try the damping, growing it tenfold while H is not positive definite. */
static qlm_status factor_with_damping(const double *h, const int64_t *perm, int64_t n, const qlm_gptq_opts *o,
                                      double *a, double *u, double *damp_used)
{
    double damp = o->damp;
    for (int t = 0;; t++) {
        qlm_status st = inverse_factor(h, perm, n, damp, a, u, n_threads(o));
        if (st == QLM_OK) {
            if (damp_used)
                *damp_used = damp;
            return QLM_OK;
        }
        if (t + 1 == MAX_DAMP_TRIES)
            return qlm_fail_context(st, "gptq: Hessian with damping %g", damp);
        double next = damp > 0 ? damp * 10 : 1e-6;
        if (!o->quiet)
            fprintf(stderr, "note: gptq: Hessian not positive definite with damping %g; retrying with %g\n", damp,
                    next);
        damp = next;
    }
}

/* The scale of a block from the current weights of its 32 columns. */
static uint16_t block_scale(const double *w, const int64_t *pinv, int64_t b, qlm_q4_method m)
{
    float x[QLM_BLOCK];
    for (int k = 0; k < QLM_BLOCK; k++)
        x[k] = (float)w[pinv[b * QLM_BLOCK + k]];
    return qlm_q4_scale(x, m);
}

/* One row: w in processing order (double, overwritten) -> its blocks.
 * Returns false when a scale is beyond fp16. */
static bool quantize_row(double *w, const double *u, const int64_t *perm, const int64_t *pinv, int64_t n,
                         qlm_q4_method m, int8_t *codes, uint16_t *scales, bool *have, qlm_block_q4 *out)
{
    memset(have, 0, (size_t)(n / QLM_BLOCK) * sizeof *have);
    for (int64_t i = 0; i < n; i++) {
        int64_t col = perm[i], b = col / QLM_BLOCK;
        if (!have[b]) {
            scales[b] = block_scale(w, pinv, b, m);
            if ((scales[b] & 0x7FFFu) >= 0x7C00u)
                return false;
            have[b] = true;
        }
        float d = qlm_f16_to_f32(scales[b]);
        int q = d != 0.0f ? qlm_q4_code((float)w[i], d) : 0;
        codes[col] = (int8_t)q;
        double err = (w[i] - (double)(d * (float)q)) / u[i * n + i];
        const double *ur = u + i * n;
        for (int64_t j = i + 1; j < n; j++)
            w[j] -= err * ur[j];
    }
    for (int64_t b = 0; b < n / QLM_BLOCK; b++)
        qlm_q4_pack(codes + b * QLM_BLOCK, scales[b], &out[b]);
    return true;
}

static qlm_status check_input(const float *w, int64_t rows, int64_t cols, const double *h)
{
    if (rows < 1 || cols < QLM_BLOCK || cols % QLM_BLOCK || rows > (INT64_C(1) << 32) ||
        cols > (INT64_C(1) << 16))
        return qlm_fail(QLM_E_SHAPE, "gptq: %lld x %lld weight: columns must be a positive multiple of %d (<= 65536)",
                        (long long)rows, (long long)cols, QLM_BLOCK);
    for (int64_t i = 0; i < rows * cols; i++)
        if (!isfinite(w[i]))
            return qlm_fail(QLM_E_VALUE, "gptq: weight element %lld is not finite", (long long)i);
    for (int64_t i = 0; i < cols * cols; i++)
        if (!isfinite(h[i]))
            return qlm_fail(QLM_E_VALUE, "gptq: Hessian element %lld is not finite", (long long)i);
    for (int64_t i = 0; i < cols; i++)
        if (h[i * cols + i] < 0)
            return qlm_fail(QLM_E_VALUE, "gptq: Hessian diagonal %lld is negative", (long long)i);
    return QLM_OK;
}

/* Quantize every row with the factor u; false if some scale overflowed. */
static qlm_status quantize_rows(const float *w, int64_t rows, int64_t n, const double *h, const double *u,
                                const int64_t *perm, const int64_t *pinv, const qlm_gptq_opts *o,
                                qlm_block_q4 *out)
{
    int bad = 0, nomem = 0;
#pragma omp parallel num_threads(n_threads(o))
    {
        double *wr = malloc((size_t)n * sizeof *wr);
        int8_t *codes = malloc((size_t)n);
        uint16_t *scales = malloc((size_t)(n / QLM_BLOCK) * sizeof *scales);
        bool *have = malloc((size_t)(n / QLM_BLOCK) * sizeof *have);
        if (!wr || !codes || !scales || !have) {
#pragma omp atomic write
            nomem = 1;
        }
#pragma omp for schedule(dynamic, 4)
        for (int64_t r = 0; r < rows; r++) {
            if (!wr || !codes || !scales || !have)
                continue;
            for (int64_t i = 0; i < n; i++) /* dead inputs: weight 0 */
                wr[i] = h[perm[i] * n + perm[i]] == 0.0 ? 0.0 : (double)w[r * n + perm[i]];
            if (!quantize_row(wr, u, perm, pinv, n, o->scale, codes, scales, have, out + r * (n / QLM_BLOCK))) {
#pragma omp atomic write
                bad = 1;
            }
        }
        free(wr);
        free(codes);
        free(scales);
        free(have);
    }
    if (nomem)
        return qlm_fail(QLM_E_NOMEM, "gptq: out of memory for row buffers");
    if (bad)
        return qlm_fail(QLM_E_VALUE, "gptq: a block scale is beyond the fp16 range");
    return QLM_OK;
}

qlm_status qlm_gptq_q4(const float *w, int64_t rows, int64_t cols, const double *h, const qlm_gptq_opts *o,
                       qlm_block_q4 *out, double *damp_used)
{
    qlm_status st = check_input(w, rows, cols, h);
    if (st)
        return st;
    if (!(o->damp >= 0) || !isfinite(o->damp))
        return qlm_fail(QLM_E_ARG, "gptq: damping %g is not a finite non-negative number", o->damp);
    size_t nn = (size_t)(cols * cols);
    double *a = malloc(nn * sizeof *a), *u = malloc(nn * sizeof *u);
    int64_t *perm = malloc((size_t)cols * sizeof *perm), *pinv = malloc((size_t)cols * sizeof *pinv);
    if (!a || !u || !perm || !pinv)
        st = qlm_fail(QLM_E_NOMEM, "gptq: out of memory for a %lld x %lld Hessian", (long long)cols,
                      (long long)cols);
    if (!st)
        st = make_order(h, cols, o->act_order, perm, pinv);
    if (!st)
        st = factor_with_damping(h, perm, cols, o, a, u, damp_used);
    free(a);
    if (!st)
        st = quantize_rows(w, rows, cols, h, u, perm, pinv, o, out);
    free(u);
    free(perm);
    free(pinv);
    return st;
}

double qlm_gptq_objective(const float *w, const qlm_block_q4 *q, int64_t rows, int64_t cols, const double *h)
{
    double total = 0.0;
    float *dq = malloc((size_t)cols * sizeof *dq);
    double *e = malloc((size_t)cols * sizeof *e);
    if (!dq || !e) {
        free(dq);
        free(e);
        return NAN;
    }
    for (int64_t r = 0; r < rows; r++) {
        qlm_dequantize_q4(q + r * (cols / QLM_BLOCK), dq, (size_t)cols);
        for (int64_t i = 0; i < cols; i++)
            e[i] = (double)w[r * cols + i] - (double)dq[i];
        for (int64_t i = 0; i < cols; i++) {
            double s = 0.0;
            for (int64_t j = 0; j < cols; j++)
                s += h[i * cols + j] * e[j];
            total += e[i] * s;
        }
    }
    free(dq);
    free(e);
    return total;
}
