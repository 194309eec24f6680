/* qe_matmul_error(): error of X.W^T under fake quantization (analysis.h). */
#include <math.h>
#include <stdlib.h>

#include "formats/quant/analysis.h"

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Standard normal samples (Box-Muller on 53-bit uniforms). */
static void fill_normal(float *x, uint64_t n, uint64_t *seed)
{
    for (uint64_t i = 0; i < n; i += 2) {
        double u1 = ((double)(splitmix64(seed) >> 11) + 1.0) / 9007199254740993.0;
        double u2 = (double)(splitmix64(seed) >> 11) / 9007199254740992.0;
        double r = sqrt(-2.0 * log(u1));
        x[i] = (float)(r * cos(6.283185307179586 * u2));
        if (i + 1 < n)
            x[i + 1] = (float)(r * sin(6.283185307179586 * u2));
    }
}

/* Dot product with 8 independent f32 partial sums: the compiler can keep them
 * in one vector register without reassociating anything. */
static float dot8(const float *a, const float *b, int64_t k)
{
    float acc[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= k; i += 8)
        for (int l = 0; l < 8; l++)
            acc[l] += a[i + l] * b[i + l];
    float s = 0.0f;
    for (; i < k; i++)
        s += a[i] * b[i];
    for (int l = 0; l < 8; l++)
        s += acc[l];
    return s;
}

qlm_status qe_matmul_error_xw(qe_scheme s, int quant_x, const float *x, const float *w, int64_t M, int64_t K,
                              int64_t N, double *rel_err)
{
    uint64_t nx = (uint64_t)M * (uint64_t)K, nw = (uint64_t)N * (uint64_t)K;
    float *xq = quant_x ? malloc(nx * sizeof *xq) : NULL, *wq = malloc(nw * sizeof *wq);
    const float *xa = quant_x ? xq : x;
    qlm_status st = QLM_OK;
    if ((quant_x && !xq) || !wq) {
        st = qlm_fail(QLM_E_NOMEM, "quant-error: out of memory for a %lldx%lldx%lld matmul",
                      (long long)M, (long long)K, (long long)N);
        goto done;
    }
    if ((st = qe_fake_quant(s, w, wq, (uint64_t)N, (uint64_t)K)) != QLM_OK)
        goto done;
    if (quant_x && (st = qe_fake_quant(s, x, xq, (uint64_t)M, (uint64_t)K)) != QLM_OK)
        goto done;
    double sse = 0.0, ssr = 0.0;
#pragma omp parallel for schedule(dynamic, 1) reduction(+ : sse, ssr)
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double y = dot8(x + i * K, w + j * K, K);
            double yq = dot8(xa + i * K, wq + j * K, K);
            sse += (y - yq) * (y - yq);
            ssr += y * y;
        }
    *rel_err = ssr > 0 ? sqrt(sse / ssr) : 0.0;
done:
    free(xq);
    free(wq);
    return st;
}

qlm_status qe_matmul_error(qe_scheme s, int quant_x, int64_t M, int64_t K, int64_t N, uint64_t seed,
                           double *rel_err)
{
    if (M <= 0 || K <= 0 || N <= 0 || M > 65536 || K > 65536 || N > 65536)
        return qlm_fail(QLM_E_ARG, "quant-error: matmul shape %lldx%lldx%lld out of range 1..65536",
                        (long long)M, (long long)K, (long long)N);
    uint64_t nx = (uint64_t)M * (uint64_t)K, nw = (uint64_t)N * (uint64_t)K;
    float *x = malloc(nx * sizeof *x), *w = malloc(nw * sizeof *w);
    qlm_status st;
    if (!x || !w) {
        st = qlm_fail(QLM_E_NOMEM, "quant-error: out of memory for a %lldx%lldx%lld matmul",
                      (long long)M, (long long)K, (long long)N);
    } else {
        fill_normal(x, nx, &seed);
        fill_normal(w, nw, &seed);
        st = qe_matmul_error_xw(s, quant_x, x, w, M, K, N, rel_err);
    }
    free(x);
    free(w);
    return st;
}
