/* Chunked scoring shared by perplexity and kld (ppl_chunk.h). */
#include "runtime/cli/ppl_chunk.h"

#include <stdlib.h>

#include "formats/common/mapfile.h"
#include "simd/ref/qmath.h"

#define MAX_TEXT_BYTES ((size_t)1 << 30)

qlm_status ppl_tokenize_file(const char *path, const qlm_tokenizer *tok, int32_t **ids, size_t *n)
{
    char *text;
    size_t len;
    qlm_status st = qlm_read_file(path, MAX_TEXT_BYTES, &text, &len);
    if (st != QLM_OK)
        return st;
    qlm_tok_encode_opts eo = {qlm_tok_add_bos(tok), false};
    st = qlm_tok_encode(tok, text, len, &eo, ids, n);
    free(text);
    return st;
}

/* First half unscored (no logits), second half with logits. */
qlm_status ppl_eval_chunk(run_env *env, const int32_t *tok, int64_t ctx, int32_t bos, float *lg)
{
    int64_t first = ctx / 2;
    int32_t head = bos >= 0 ? bos : tok[0];
    qlm_status st = qlm_ctx_truncate(env->c, 0);
    if (st == QLM_OK)
        st = qlm_ctx_eval(env->c, &head, 1, NULL, false);
    if (st == QLM_OK && first > 1)
        st = qlm_ctx_eval(env->c, tok + 1, first - 1, NULL, false);
    if (st == QLM_OK)
        st = qlm_ctx_eval(env->c, tok + first, ctx - first, lg, true);
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
