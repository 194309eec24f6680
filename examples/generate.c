/* Greedy or sampled text generation with libqlm: only <qlm.h> is used.
 * usage: generate MODEL.qlm "prompt" [n_tokens] [temperature] */
#include <qlm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what, qlm_status st)
{
    fprintf(stderr, "generate: %s: %s (%s)\n", what, qlm_last_error(), qlm_strerror(st));
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL.qlm PROMPT [N_TOKENS] [TEMP]\n", argv[0]);
        return 2;
    }
    int n_gen = argc > 3 ? atoi(argv[3]) : 64;
    qlm_lm *lm;
    qlm_status st = qlm_lm_open(argv[1], &lm);
    if (st != QLM_OK)
        return fail("open", st);
    qlm_lm_info info = {.size = sizeof info};
    qlm_lm_get_info(lm, &info);

    int32_t *ids;
    size_t n;
    if ((st = qlm_tokenize(lm, argv[2], strlen(argv[2]), -1, 0, &ids, &n)) != QLM_OK)
        return fail("tokenize", st);
    qlm_session_params sp = qlm_session_params_default();
    sp.n_ctx = (int64_t)n + n_gen;
    qlm_sampling_params pp = qlm_sampling_params_default();
    pp.temp = argc > 4 ? atof(argv[4]) : 0.0;
    qlm_session *s;
    qlm_token_sampler *smp;
    qlm_detok *d;
    if ((st = qlm_session_new(lm, &sp, &s)) != QLM_OK || (st = qlm_token_sampler_new(lm, &pp, &smp)) != QLM_OK ||
        (st = qlm_detok_new(lm, &d)) != QLM_OK)
        return fail("setup", st);

    float *logits = malloc((size_t)info.n_vocab * sizeof *logits);
    int32_t *hist = malloc((n + (size_t)n_gen) * sizeof *hist);
    memcpy(hist, ids, n * sizeof *ids);
    fputs(argv[2], stdout);
    /* Feed the prompt, then one sampled token at a time. */
    const int32_t *feed = ids;
    size_t n_feed = n;
    for (int i = 0; i < n_gen; i++) {
        if ((st = qlm_session_eval(s, feed, (int64_t)n_feed, logits, 0)) != QLM_OK)
            return fail("eval", st);
        int32_t tok = qlm_token_sampler_sample(smp, logits, hist, n);
        if (tok < 0 || qlm_is_eog(lm, tok))
            break;
        hist[n++] = tok;
        fputs(qlm_detok_next(d, tok, NULL), stdout);
        fflush(stdout);
        feed = &hist[n - 1];
        n_feed = 1;
    }
    puts(qlm_detok_end(d, NULL));
    free(hist);
    free(logits);
    qlm_free(ids);
    qlm_detok_free(d);
    qlm_token_sampler_free(smp);
    qlm_session_free(s);
    qlm_lm_close(lm);
    return 0;
}
