/* libqlm: sampler handle over runtime/model/sampler.h. */
#include <stdlib.h>

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
                                 .seed = d.seed};
}

qlm_status qlm_token_sampler_new(const qlm_lm *lm, const qlm_sampling_params *p, qlm_token_sampler **out)
{
    if (!out)
        return qlm_fail(QLM_E_ARG, "qlm_token_sampler_new: NULL out");
    *out = NULL;
    if (!lm || !p)
        return qlm_fail(QLM_E_ARG, "qlm_token_sampler_new: NULL %s", lm ? "params" : "model");
    qlm_status st = qlm_api_check_size(p->size, sizeof *p, sizeof *p, "qlm_sampling_params");
    if (st != QLM_OK)
        return st;
    qlm_sampler_params sp = {.mode = QLM_SAMPLER_DEFAULT,
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
    s->n_vocab = qlm_model_hparams(lm->model)->n_vocab;
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
