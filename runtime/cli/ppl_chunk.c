/* Chunked scoring shared by perplexity and kld (ppl_chunk.h). */
#include "runtime/cli/ppl_chunk.h"

#include <stdlib.h>

#include "formats/common/mapfile.h"
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

double ppl_nll_of(const float *lg, int64_t V, int32_t tok)
{
    float mx = lg[0];
    for (int64_t i = 1; i < V; i++)
        mx = lg[i] > mx ? lg[i] : mx;
    double sum = 0;
    for (int64_t i = 0; i < V; i++)
        sum += qlm_expf(lg[i] - mx);
    return -((double)(lg[tok] - mx) - qlm_log_d(sum));
}
