/* qlm kld: how far a quantized model's next-token distributions are from its
 * base model's on a text, llama.cpp's --kl-divergence statistics: per scored
 * token KL(P_base || P_quant); mean, median, 99th percentile and max; how often
 * both pick the same top-1 token; both perplexities and their difference.
 * Chunking is exactly `qlm perplexity`'s (ppl_chunk.h), so PPL(Q) and
 * PPL(base) equal what `qlm perplexity` prints for each model. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/cli/cli.h"
#include "runtime/cli/ppl_chunk.h"
#include "simd/ref/qmath.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: qlm kld -m QUANT.qlm --base BASE.qlm -f TEXT [--ctx N] [--chunks N] [--threads T] [--json]\n"
               "               [--kv f32|q8]\n"
               "\n"
               "KL divergence of QUANT's next-token distribution from BASE's, per scored token, with\n"
               "the chunking of `qlm perplexity` (--ctx default 512). Prints mean / median / p99 /\n"
               "max KL, top-1 agreement, PPL of both models and their difference. --kv sets QUANT's KV\n"
               "cache storage (BASE's stays f32): `-m M --base M --kv q8` measures the Q8 cache alone.\n");
}

/* KL(P || Q) = sum_i p_i (log p_i - log q_i) from logits p, q. */
static double kl_of(const float *p, const float *q, int64_t V)
{
    float mp, mq;
    double zp, zq, kl = 0;
    ppl_log_norm(p, V, &mp, &zp);
    ppl_log_norm(q, V, &mq, &zq);
    for (int64_t i = 0; i < V; i++) {
        double lp = (double)(p[i] - mp) - zp, lq = (double)(q[i] - mq) - zq;
        kl += exp(lp) * (lp - lq);
    }
    return kl;
}

static int64_t argmax(const float *lg, int64_t V)
{
    int64_t b = 0;
    for (int64_t i = 1; i < V; i++)
        if (lg[i] > lg[b])
            b = i;
    return b;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Percentile p in [0,1] of sorted v[0..n): linear interpolation at p*(n-1). */
static double percentile(const double *v, int64_t n, double p)
{
    double r = p * (double)(n - 1);
    int64_t lo = (int64_t)r;
    if (lo >= n - 1)
        return v[n - 1];
    return v[lo] + (r - (double)lo) * (v[lo + 1] - v[lo]);
}

typedef struct {
    run_env q, b;
} kld_env;


static void report(const ppl_opts *o, double *kl, int64_t n, int64_t same, double nll_q, double nll_b,
                   int64_t chunks, double secs)
{
    double mean = 0;
    for (int64_t i = 0; i < n; i++)
        mean += kl[i];
    mean /= (double)n;
    qsort(kl, (size_t)n, sizeof *kl, cmp_double);
    double med = percentile(kl, n, 0.5), p99 = percentile(kl, n, 0.99);
    double ppl_q = exp(nll_q / (double)n), ppl_b = exp(nll_b / (double)n), top1 = (double)same / (double)n;
    if (o->json) {
        printf("{\"ctx\":%lld,\"chunks\":%lld,\"scored\":%lld,\"kld_mean\":%.9g,\"kld_median\":%.9g,"
               "\"kld_p99\":%.9g,\"kld_max\":%.9g,\"top1_agree\":%.6f,\"ppl\":%.6f,\"ppl_base\":%.6f,"
               "\"delta_ppl\":%.6f,\"seconds\":%.3f}\n",
               (long long)o->ctx, (long long)chunks, (long long)n, mean, med, p99, kl[n - 1], top1, ppl_q, ppl_b,
               ppl_q - ppl_b, secs);
        return;
    }
    printf("scored tokens:   %lld (%lld chunks of %lld)\n", (long long)n, (long long)chunks, (long long)o->ctx);
    printf("PPL(Q):          %.4f\nPPL(base):       %.4f\ndelta PPL:       %.4f\n", ppl_q, ppl_b, ppl_q - ppl_b);
    printf("KLD mean:        %.6f\nKLD median:      %.6f\nKLD p99:         %.6f\nKLD max:         %.6f\n", mean,
           med, p99, kl[n - 1]);
    printf("same top-1:      %.3f %%\n", 100.0 * top1);
}

static int kld_main(const ppl_opts *o)
{
    kld_env env = {0};
    int32_t *ids = NULL;
    size_t n_ids = 0;
    float *lq = NULL, *lb = NULL;
    double *kl = NULL;
    qlm_status st = run_env_open(&env.q, o->model, o->ctx, (int)o->threads, o->kv);
    if (st == QLM_OK)
        st = run_env_open(&env.b, o->base, o->ctx, (int)o->threads, QLM_KV_F32);
    if (st != QLM_OK)
        goto out;
    int64_t V = env.q.n_vocab;
    if (env.b.n_vocab != V) {
        st = qlm_fail(QLM_E_SHAPE, "%s has %lld vocabulary entries, %s has %lld", o->model, (long long)V, o->base,
                      (long long)env.b.n_vocab);
        goto out;
    }
    if ((st = ppl_check_memory(o->ctx, V, 2)) != QLM_OK)
        goto out;
    /* the quantized model's tokenizer; the base's is assumed the same (same vocab size checked) */
    if ((st = ppl_tokenize_file(o->file, env.q.lm, &ids, &n_ids)) != QLM_OK)
        goto out;
    if ((int64_t)n_ids < 2 * o->ctx) {
        st = qlm_fail(QLM_E_ARG, "%s has %zu tokens; at least 2 x ctx = %lld are needed", o->file, n_ids,
                      (long long)(2 * o->ctx));
        goto out;
    }
    int64_t n_chunks = (int64_t)n_ids / o->ctx, ns = ppl_scored(o->ctx);
    if (o->chunks > 0 && o->chunks < n_chunks)
        n_chunks = o->chunks;
    size_t nl = (size_t)((o->ctx - o->ctx / 2) * V);
    lq = malloc(sizeof(float) * nl);
    lb = malloc(sizeof(float) * nl);
    kl = malloc(sizeof(double) * (size_t)(n_chunks * ns));
    if (!lq || !lb || !kl) {
        st = qlm_fail(QLM_E_NOMEM, "out of memory for logits");
        goto out;
    }
    int32_t bos = ppl_bos(env.q.lm);
    int64_t n = 0, same = 0;
    double nll_q = 0, nll_b = 0, t0 = run_now();
    for (int64_t c = 0; c < n_chunks; c++) {
        const int32_t *tok = ids + c * o->ctx;
        if ((st = ppl_eval_chunk(&env.q, tok, o->ctx, bos, lq)) != QLM_OK ||
            (st = ppl_eval_chunk(&env.b, tok, o->ctx, bos, lb)) != QLM_OK)
            goto out;
        for (int64_t j = 0; j < ns; j++, n++) {
            const float *q = lq + j * V, *b = lb + j * V;
            int32_t next = tok[o->ctx / 2 + j + 1];
            kl[n] = kl_of(b, q, V);
            same += argmax(q, V) == argmax(b, V);
            nll_q += ppl_nll_of(q, V, next);
            nll_b += ppl_nll_of(b, V, next);
        }
        if (c == 0 || (c + 1) % 100 == 0 || c + 1 == n_chunks)
            fprintf(stderr, "kld: chunk %lld/%lld, %.1f s\n", (long long)(c + 1), (long long)n_chunks,
                    run_now() - t0);
    }
    report(o, kl, n, same, nll_q, nll_b, n_chunks, run_now() - t0);
out:
    free(lq);
    free(lb);
    free(kl);
    free(ids);
    run_env_close(&env.q);
    run_env_close(&env.b);
    return st == QLM_OK ? 0 : cli_error(st);
}

int cmd_kld(int argc, char **argv)
{
    ppl_opts o = {0};
    int r = ppl_parse_args("kld", true, usage, argc, argv, &o);
    if (r)
        return r < 0 ? 0 : r;
    return kld_main(&o);
}
