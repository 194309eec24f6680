/* libqlm: sampler handle over runtime/model/sampler.h. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "formats/qlm/keys.h"
#include "runtime/api/api_int.h"
#include "runtime/model/sampler.h"

struct qlm_token_sampler {
    qlm_sampler *s;
    int64_t n_vocab;
};

qlm_sampling_params qlm_sampling_params_default(void)
{
    qlm_sampler_params d;
    qlm_sampler_defaults(&d);
    return (qlm_sampling_params){.size = sizeof(qlm_sampling_params),
                                 .temp = d.temp,
                                 .top_k = d.top_k,
                                 .top_p = d.top_p,
                                 .min_p = d.min_p,
                                 .repeat_penalty = d.repeat_penalty,
                                 .repeat_last_n = d.repeat_last_n,
                                 .seed = d.seed,
                                 .method = QLM_SAMPLING_HF};
}

qlm_status qlm_sampling_params_model(const qlm_lm *lm, qlm_sampling_params *out)
{
    if (!out)
        return qlm_fail(QLM_E_ARG, "qlm_sampling_params_model: NULL out");
    *out = qlm_sampling_params_default();
    qlm_status st = qlm_api_need_weights(lm, "qlm_sampling_params_model");
    if (st != QLM_OK)
        return st;
    const qlm_file *f = qlm_model_file(lm->model);
    out->temp = qlm_meta_f64_or(f, QLM_K_GEN_TEMP, out->temp);
    out->top_p = qlm_meta_f64_or(f, QLM_K_GEN_TOP_P, out->top_p);
    out->top_k = qlm_meta_i64_or(f, QLM_K_GEN_TOP_K, out->top_k);
    out->repeat_penalty = qlm_meta_f64_or(f, QLM_K_GEN_REP_PEN, out->repeat_penalty);
    return QLM_OK;
}

qlm_status qlm_token_sampler_new(const qlm_lm *lm, const qlm_sampling_params *p, qlm_token_sampler **out)
{
    if (!out)
        return qlm_fail(QLM_E_ARG, "qlm_token_sampler_new: NULL out");
    *out = NULL;
    if (!lm || !p)
        return qlm_fail(QLM_E_ARG, "qlm_token_sampler_new: NULL %s", lm ? "params" : "model");
    /* 0.1's struct ended before `method`: missing fields take their defaults. */
    qlm_status st = qlm_api_check_size(p->size, offsetof(qlm_sampling_params, method), sizeof *p,
                                       "qlm_sampling_params");
    if (st != QLM_OK)
        return st;
    qlm_sampling_params v = qlm_sampling_params_default();
    memcpy(&v, p, p->size);
    if (v.method != QLM_SAMPLING_HF && v.method != QLM_SAMPLING_LLAMA2C)
        return qlm_fail(QLM_E_ARG, "qlm_sampling_params: unknown method %d", v.method);
    p = &v;
    qlm_sampler_params sp = {.mode = p->method == QLM_SAMPLING_LLAMA2C ? QLM_SAMPLER_LLAMA2C : QLM_SAMPLER_DEFAULT,
                             .temp = p->temp,
                             .top_k = p->top_k,
                             .top_p = p->top_p,
                             .min_p = p->min_p,
                             .repeat_penalty = p->repeat_penalty,
                             .repeat_last_n = p->repeat_last_n,
                             .seed = p->seed};
    qlm_token_sampler *s = calloc(1, sizeof *s);
    if (!s)
        return qlm_fail(QLM_E_NOMEM, "out of memory for the sampler");
    /* Logits come from the model; a vocab_only handle has the tokenizer's size. */
    s->n_vocab = lm->model ? qlm_model_hparams(lm->model)->n_vocab : lm->tok ? (int64_t)qlm_tok_n_vocab(lm->tok) : 0;
    st = qlm_sampler_new(&sp, s->n_vocab, &s->s);
    if (st != QLM_OK) {
        free(s);
        return st;
    }
    *out = s;
    return QLM_OK;
}

void qlm_token_sampler_free(qlm_token_sampler *s)
{
    if (!s)
        return;
    qlm_sampler_free(s->s);
    free(s);
}

int32_t qlm_token_sampler_sample(qlm_token_sampler *s, float *logits, const int32_t *hist, size_t n_hist)
{
    if (!s || !logits || (!hist && n_hist))
        return qlm_fail(QLM_E_ARG, "qlm_token_sampler_sample: NULL argument"), -1;
    return qlm_sampler_sample(s->s, logits, hist, (int64_t)n_hist);
}
