/* See sampler.h. */
#include "runtime/model/sampler.h"

#include <math.h>
#include <stdlib.h>

#include "simd/ref/qmath.h"

typedef struct {
    float logit;
    float p;
    int32_t id;
} cand;

struct qlm_sampler {
    qlm_sampler_params p;
    int64_t n_vocab;
    uint64_t state;
    cand *c;           /* n_vocab candidates */
    uint8_t *seen;     /* n_vocab flags for the repetition window */
};

void qlm_sampler_defaults(qlm_sampler_params *p)
{
    *p = (qlm_sampler_params){QLM_SAMPLER_DEFAULT, 0.8, 40, 0.95, 0.05, 1.0, 64, 0};
}

qlm_status qlm_sampler_new(const qlm_sampler_params *p, int64_t n_vocab, qlm_sampler **out)
{
    *out = NULL;
    if (!(p->temp >= 0 && p->temp <= 1e6))
        return qlm_fail(QLM_E_ARG, "temperature %g must be in [0, 1e6]", p->temp);
    if (p->top_k < 0)
        return qlm_fail(QLM_E_ARG, "top-k %lld must be >= 0", (long long)p->top_k);
    if (!(p->top_p > 0 && p->top_p <= 1))
        return qlm_fail(QLM_E_ARG, "top-p %g must be in (0, 1]", p->top_p);
    if (!(p->min_p >= 0 && p->min_p <= 1))
        return qlm_fail(QLM_E_ARG, "min-p %g must be in [0, 1]", p->min_p);
    if (!(p->repeat_penalty > 0 && p->repeat_penalty <= 1e6))
        return qlm_fail(QLM_E_ARG, "repeat penalty %g must be in (0, 1e6]", p->repeat_penalty);
    if (p->repeat_last_n < -1)
        return qlm_fail(QLM_E_ARG, "repeat-last-n %lld must be >= -1", (long long)p->repeat_last_n);
    if (n_vocab < 1 || n_vocab > INT32_MAX)
        return qlm_fail(QLM_E_ARG, "sampler: bad vocabulary size %lld", (long long)n_vocab);
    qlm_sampler *s = calloc(1, sizeof *s);
    if (s) {
        s->c = malloc((size_t)n_vocab * sizeof *s->c);
        s->seen = calloc((size_t)n_vocab, 1);
    }
    if (!s || !s->c || !s->seen) {
        qlm_sampler_free(s);
        return qlm_fail(QLM_E_NOMEM, "out of memory for the sampler");
    }
    s->p = *p;
    s->n_vocab = n_vocab;
    s->state = p->seed;
    *out = s;
    return QLM_OK;
}

void qlm_sampler_free(qlm_sampler *s)
{
    if (!s)
        return;
    free(s->c);
    free(s->seen);
    free(s);
}

/* splitmix64 -> uniform in [0, 1) with 53 random bits. */
static double next_uniform(qlm_sampler *s)
{
    uint64_t z = (s->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}

static void apply_penalty(qlm_sampler *s, float *logits, const int32_t *hist, int64_t n_hist)
{
    if (s->p.repeat_penalty == 1.0 || s->p.repeat_last_n == 0 || n_hist <= 0)
        return;
    int64_t from = s->p.repeat_last_n < 0 || s->p.repeat_last_n >= n_hist ? 0 : n_hist - s->p.repeat_last_n;
    float pen = (float)s->p.repeat_penalty;
    for (int64_t i = from; i < n_hist; i++) {
        int32_t t = hist[i];
        if (t < 0 || t >= s->n_vocab || s->seen[t])
            continue;
        s->seen[t] = 1;
        logits[t] = logits[t] > 0 ? logits[t] / pen : logits[t] * pen;
    }
    for (int64_t i = from; i < n_hist; i++)
        if (hist[i] >= 0 && hist[i] < s->n_vocab)
            s->seen[hist[i]] = 0;
}

static int32_t argmax(const float *x, int64_t n)
{
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return (int32_t)best;
}

/* Higher logit first, then lower id: a total order, so ties are deterministic. */
static int by_logit(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->logit != y->logit)
        return x->logit > y->logit ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

static int32_t sample_default(qlm_sampler *s, const float *logits)
{
    const qlm_sampler_params *p = &s->p;
    int64_t n = s->n_vocab;
    float inv_t = (float)(1.0 / p->temp);
    for (int64_t i = 0; i < n; i++)
        s->c[i] = (cand){logits[i] * inv_t, 0.0f, (int32_t)i};
    qsort(s->c, (size_t)n, sizeof *s->c, by_logit);
    if (p->top_k > 0 && p->top_k < n)
        n = p->top_k;
    /* softmax over the survivors, summed in double in sorted order */
    double sum = 0;
    for (int64_t i = 0; i < n; i++)
        sum += (s->c[i].p = qlm_expf(s->c[i].logit - s->c[0].logit));
    if (p->top_p < 1.0) {
        double cum = 0;
        for (int64_t i = 0; i < n; i++) {
            cum += s->c[i].p / sum;
            if (cum >= p->top_p) {
                n = i + 1;
                break;
            }
        }
    }
    if (p->min_p > 0) {
        float floor_p = (float)(p->min_p * s->c[0].p); /* c[0].p == 1: the maximum */
        int64_t keep = 1;
        while (keep < n && s->c[keep].p >= floor_p)
            keep++;
        n = keep;
    }
    double total = 0;
    for (int64_t i = 0; i < n; i++)
        total += s->c[i].p;
    double r = next_uniform(s) * total, cdf = 0;
    for (int64_t i = 0; i < n; i++) {
        cdf += s->c[i].p;
        if (r < cdf)
            return s->c[i].id;
    }
    return s->c[n - 1].id;
}

/* ---- llama2.c run.c ---- */

static uint32_t xorshift_u32(uint64_t *st)
{
    *st ^= *st >> 12;
    *st ^= *st << 25;
    *st ^= *st >> 27;
    return (uint32_t)((*st * 0x2545F4914F6CDD1Dull) >> 32);
}

static float xorshift_f32(uint64_t *st) { return (float)(xorshift_u32(st) >> 8) / 16777216.0f; }

static int by_prob(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->p != y->p)
        return x->p > y->p ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id); /* glibc's stable qsort keeps index order */
}

static int32_t sample_llama2c(qlm_sampler *s, float *x)
{
    int64_t n = s->n_vocab;
    float t = (float)s->p.temp;
    for (int64_t i = 0; i < n; i++)
        x[i] /= t;
    float mx = x[argmax(x, n)], sum = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        x[i] = qlm_expf(x[i] - mx);
        sum += x[i];
    }
    for (int64_t i = 0; i < n; i++)
        x[i] /= sum;
    float coin = xorshift_f32(&s->state), topp = (float)s->p.top_p;
    if (topp <= 0 || topp >= 1) {
        float cdf = 0.0f;
        for (int64_t i = 0; i < n; i++) {
            cdf += x[i];
            if (coin < cdf)
                return (int32_t)i;
        }
        return (int32_t)(n - 1);
    }
    /* nucleus: drop tokens that cannot be in it, sort, cut where mass > topp */
    float cutoff = (1.0f - topp) / (float)(n - 1);
    int64_t n0 = 0;
    for (int64_t i = 0; i < n; i++)
        if (x[i] >= cutoff)
            s->c[n0++] = (cand){0.0f, x[i], (int32_t)i};
    qsort(s->c, (size_t)n0, sizeof *s->c, by_prob);
    float cum = 0.0f;
    int64_t last = n0 - 1;
    for (int64_t i = 0; i < n0; i++) {
        cum += s->c[i].p;
        if (cum > topp) {
            last = i;
            break;
        }
    }
    float r = coin * cum, cdf = 0.0f;
    for (int64_t i = 0; i <= last; i++) {
        cdf += s->c[i].p;
        if (r < cdf)
            return s->c[i].id;
    }
    return s->c[last].id;
}

int32_t qlm_sampler_sample(qlm_sampler *s, float *logits, const int32_t *hist, int64_t n_hist)
{
    if (s->p.mode == QLM_SAMPLER_LLAMA2C)
        return s->p.temp == 0 ? argmax(logits, s->n_vocab) : sample_llama2c(s, logits);
    apply_penalty(s, logits, hist, n_hist);
    if (s->p.temp == 0)
        return argmax(logits, s->n_vocab);
    return sample_default(s, logits);
}
