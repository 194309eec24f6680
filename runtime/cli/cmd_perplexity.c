/* qlm perplexity: llama.cpp's perplexity method, so numbers compare.
 *
 * Chunking and scoring: runtime/cli/ppl_chunk.h. PPL = exp(mean NLL); the
 * +/- is llama.cpp's: sqrt of the NLL variance / (count - 1), times PPL. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/cli/cli.h"
#include "runtime/cli/ppl_chunk.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: qlm perplexity -m MODEL.qlm -f TEXT [--ctx N] [--chunks N] [--threads T] [--json]\n"
               "                      [--kv f32|q8]\n"
               "\n"
               "Perplexity of TEXT as llama.cpp's llama-perplexity computes it: chunks of --ctx tokens\n"
               "(default 512), each starting with BOS, scored on their second half. Prints the running\n"
               "value per chunk ([1]75.2332,[2]64.3911,...) and 'Final estimate: PPL = X +/- Y';\n"
               "progress on stderr. --json prints one JSON object instead. --kv q8 stores the KV cache\n"
               "as int8 blocks with f32 scales (default f32; README \"Q8 KV cache\").\n");
}

typedef struct {
    double nll, nll2;
    int64_t count;
} ppl_acc;

/* One chunk (ppl_chunk.h), its scored positions added to acc. */
static qlm_status score_chunk(run_env *env, const int32_t *tok, int64_t ctx, int32_t bos, float *lg, ppl_acc *acc)
{
    int64_t V = env->n_vocab, first = ctx / 2;
    qlm_status st = ppl_eval_chunk(env, tok, ctx, bos, lg);
    if (st != QLM_OK)
        return st;
    for (int64_t j = 0; j < ctx - 1 - first; j++) {
        double v = ppl_nll_of(lg + j * V, V, tok[first + j + 1]);
        acc->nll += v;
        acc->nll2 += v * v;
        acc->count++;
    }
    return QLM_OK;
}

static int ppl_main(const ppl_opts *o)
{
    run_env env;
    int32_t *ids = NULL;
    size_t n_ids = 0;
    float *lg = NULL;
    double *chunk_ppl = NULL;
    qlm_status st = run_env_open(&env, o->model, o->ctx, (int)o->threads, o->kv);
    if (st != QLM_OK)
        return cli_error(st);
    if ((st = ppl_check_memory(o->ctx, env.n_vocab, 1)) != QLM_OK)
        goto out;
    double t0 = run_now();
    if ((st = ppl_tokenize_file(o->file, env.lm, &ids, &n_ids)) != QLM_OK)
        goto out;
    fprintf(stderr, "perplexity: %zu tokens in %.2f s\n", n_ids, run_now() - t0);
    int64_t n_chunks = (int64_t)n_ids / o->ctx;
    if ((int64_t)n_ids < 2 * o->ctx) {
        st = qlm_fail(QLM_E_ARG, "%s has %zu tokens; at least 2 x ctx = %lld are needed", o->file, n_ids,
                      (long long)(2 * o->ctx));
        goto out;
    }
    if (o->chunks > 0 && o->chunks < n_chunks)
        n_chunks = o->chunks;
    lg = malloc(sizeof(float) * (size_t)((o->ctx - o->ctx / 2) * env.n_vocab));
    chunk_ppl = malloc(sizeof(double) * (size_t)n_chunks);
    if (!lg || !chunk_ppl) {
        st = qlm_fail(QLM_E_NOMEM, "out of memory for logits");
        goto out;
    }
    int32_t bos = ppl_bos(env.lm);
    int64_t kv_bytes = qlm_session_kv_bytes(env.s);
    fprintf(stderr, "perplexity: %lld chunks of %lld tokens; KV cache %s, %lld bytes\n", (long long)n_chunks,
            (long long)o->ctx, o->kv == QLM_KV_Q8 ? "q8" : "f32", (long long)kv_bytes);
    ppl_acc acc = {0, 0, 0};
    t0 = run_now();
    for (int64_t i = 0; i < n_chunks; i++) {
        if ((st = score_chunk(&env, ids + i * o->ctx, o->ctx, bos, lg, &acc)) != QLM_OK)
            goto out;
        chunk_ppl[i] = exp(acc.nll / (double)acc.count);
        if (!o->json) {
            printf("[%lld]%.4f,", (long long)(i + 1), chunk_ppl[i]);
            fflush(stdout);
        }
        if (i == 0 || (i + 1) % 100 == 0 || i + 1 == n_chunks) {
            double el = run_now() - t0;
            fprintf(stderr, "perplexity: chunk %lld/%lld, %.1f s, ETA %.1f s\n", (long long)(i + 1),
                    (long long)n_chunks, el, el / (double)(i + 1) * (double)(n_chunks - i - 1));
        }
    }
    double nll = acc.nll / (double)acc.count, nll2 = acc.nll2 / (double)acc.count - nll * nll;
    double ppl = exp(nll), err = nll2 > 0 ? sqrt(nll2 / (double)(acc.count - 1)) * ppl : NAN;
    if (o->json) {
        printf("{\"ppl\":%.6f,\"ppl_err\":%.6f,\"ctx\":%lld,\"chunks\":%lld,\"tokens\":%zu,\"scored\":%lld,"
               "\"kv\":\"%s\",\"kv_bytes\":%lld,\"seconds\":%.3f,\"chunk_ppl\":[",
               ppl, err, (long long)o->ctx, (long long)n_chunks, n_ids, (long long)acc.count,
               o->kv == QLM_KV_Q8 ? "q8" : "f32", (long long)kv_bytes, run_now() - t0);
        for (int64_t i = 0; i < n_chunks; i++)
            printf("%s%.4f", i ? "," : "", chunk_ppl[i]);
        printf("]}\n");
    } else {
        printf("\nFinal estimate: PPL = %.4f +/- %.5f\n", ppl, err);
    }
out:
    free(lg);
    free(chunk_ppl);
    free(ids);
    run_env_close(&env);
    return st == QLM_OK ? 0 : cli_error(st);
}

int cmd_perplexity(int argc, char **argv)
{
    ppl_opts o = {0};
    int r = ppl_parse_args("perplexity", false, usage, argc, argv, &o);
    if (r)
        return r < 0 ? 0 : r;
    return ppl_main(&o);
}
