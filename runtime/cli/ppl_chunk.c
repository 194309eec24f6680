/* Chunked scoring shared by perplexity and kld (ppl_chunk.h). */
#include "runtime/cli/ppl_chunk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/common/mapfile.h"
#include "formats/common/mem.h"
#include "runtime/cli/cli.h"
#include "simd/ref/qmath.h"

#define MAX_TEXT_BYTES ((size_t)1 << 30)

qlm_status ppl_tokenize_file(const char *path, const qlm_lm *lm, int32_t **ids, size_t *n)
{
    char *text;
    size_t len;
    qlm_status st = qlm_read_file(path, MAX_TEXT_BYTES, &text, &len);
    if (st != QLM_OK)
        return st;
    st = qlm_tokenize(lm, text, len, -1, 0, ids, n);
    free(text);
    return st;
}

qlm_status ppl_check_memory(int64_t ctx, int64_t n_vocab, int copies)
{
    char what[96];
    snprintf(what, sizeof what, "the logits of %lld-token chunks (--ctx)", (long long)ctx);
    /* ctx <= 2^20 and n_vocab is a validated model size: no overflow */
    return qlm_mem_check((uint64_t)copies * (uint64_t)(ctx - ctx / 2) * (uint64_t)n_vocab * sizeof(float), what);
}

int32_t ppl_bos(const qlm_lm *lm)
{
    qlm_lm_info info = {.size = sizeof info};
    return qlm_lm_get_info(lm, &info) == QLM_OK && info.add_bos ? info.bos : -1;
}

/* First half unscored (no logits), second half with logits. */
qlm_status ppl_eval_chunk(run_env *env, const int32_t *tok, int64_t ctx, int32_t bos, float *lg)
{
    int64_t first = ctx / 2;
    int32_t head = bos >= 0 ? bos : tok[0];
    qlm_status st = qlm_session_truncate(env->s, 0);
    if (st == QLM_OK)
        st = qlm_session_eval(env->s, &head, 1, NULL, 0);
    if (st == QLM_OK && first > 1)
        st = qlm_session_eval(env->s, tok + 1, first - 1, NULL, 0);
    if (st == QLM_OK)
        st = qlm_session_eval(env->s, tok + first, ctx - first, lg, 1);
    return st;
}

void ppl_log_norm(const float *lg, int64_t V, float *mx, double *logz)
{
    float m = lg[0];
    for (int64_t i = 1; i < V; i++)
        m = lg[i] > m ? lg[i] : m;
    double sum = 0;
    for (int64_t i = 0; i < V; i++)
        sum += qlm_expf(lg[i] - m);
    *mx = m;
    *logz = qlm_log_d(sum);
}

double ppl_nll_of(const float *lg, int64_t V, int32_t tok)
{
    float mx;
    double logz;
    ppl_log_norm(lg, V, &mx, &logz);
    return -((double)(lg[tok] - mx) - logz);
}

int ppl_parse_args(const char *cmd, bool with_base, void (*usage)(FILE *), int argc, char **argv, ppl_opts *o)
{
    o->ctx = 512;
    o->chunks = -1;
    const char *names = with_base ? " -m --model --base -f --file -c --ctx --chunks -t --threads --kv "
                                  : " -m --model -f --file -c --ctx --chunks -t --threads --kv ";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) {
            usage(stdout);
            return -1;
        }
        if (strcmp(a, "--json") == 0) {
            o->json = true;
            continue;
        }
        const char *v;
        int rc = cli_option_value(cmd, names, argc, argv, &i, &v);
        if (rc)
            return rc;
        if (strcmp(a, "-m") == 0 || strcmp(a, "--model") == 0)
            o->model = v;
        else if (strcmp(a, "--base") == 0)
            o->base = v;
        else if (strcmp(a, "-f") == 0 || strcmp(a, "--file") == 0)
            o->file = v;
        else if (strcmp(a, "-c") == 0 || strcmp(a, "--ctx") == 0) {
            if (!cli_parse_i64(v, 4, 1 << 20, &o->ctx))
                return cli_usage_error(cmd, "--ctx: '%s' is not an integer in [4, %d]", v, 1 << 20);
        } else if (strcmp(a, "--chunks") == 0) {
            if (!cli_parse_i64(v, 1, INT32_MAX, &o->chunks))
                return cli_usage_error(cmd, "--chunks: '%s' is not a positive integer", v);
        } else if (strcmp(a, "--kv") == 0) {
            if ((rc = cli_parse_kv(cmd, v, &o->kv)) != 0)
                return rc;
        } else if (!cli_parse_i64(v, 1, 256, &o->threads)) { /* -t / --threads */
            return cli_usage_error(cmd, "--threads: '%s' is not an integer in [1, 256]", v);
        }
    }
    if (with_base && (!o->model || !o->base || !o->file))
        return cli_usage_error(cmd, "-m QUANT, --base BASE and -f TEXT are required");
    if (!o->model || !o->file)
        return cli_usage_error(cmd, "-m MODEL and -f TEXT are required");
    return 0;
}
