/* See run_gen.h. */
#include "runtime/cli/run_gen.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

qlm_status run_env_open(run_env *e, const char *path, int64_t n_ctx, int threads, int kv_type)
{
    *e = (run_env){0};
    qlm_lm_info info = {.size = sizeof info};
    qlm_session_params sp = qlm_session_params_default();
    sp.n_ctx = n_ctx;
    sp.n_threads = threads;
    sp.kv_type = kv_type;
    qlm_status st = qlm_lm_open(path, &e->lm);
    if (st == QLM_OK)
        st = qlm_lm_get_info(e->lm, &info);
    if (st == QLM_OK)
        st = qlm_session_new(e->lm, &sp, &e->s);
    e->has_tok = info.n_tokens > 0;
    e->n_vocab = info.n_vocab;
    if (st == QLM_OK && !(e->logits = malloc(sizeof(float) * (size_t)info.n_vocab)))
        st = qlm_fail(QLM_E_NOMEM, "out of memory for logits");
    if (st != QLM_OK)
        run_env_close(e);
    return st;
}

void run_env_close(run_env *e)
{
    free(e->logits);
    qlm_session_free(e->s);
    qlm_lm_close(e->lm);
    *e = (run_env){0};
}

double run_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct {
    char *p;
    size_t len, cap;
} buf;

static qlm_status buf_add(buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->cap ? b->cap * 2 : 256) + n;
        char *p = realloc(b->p, cap);
        if (!p)
            return qlm_fail(QLM_E_NOMEM, "out of memory for generated text");
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
    return QLM_OK;
}

/* Text of one token: the streaming decoder's bytes, or " id" without a
 * tokenizer (*count: ids written so far). Valid until the next call. */
static const char *piece(qlm_detok *ds, int32_t id, int64_t *count, char *idbuf, size_t *len)
{
    if (!ds) {
        *len = (size_t)snprintf(idbuf, 24, "%s%d", (*count)++ ? " " : "", (int)id);
        return idbuf;
    }
    return qlm_detok_next(ds, id, len);
}

static qlm_status dump(const char *path, const float *lg, int64_t n, int64_t V)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return qlm_fail(QLM_E_IO, "cannot write %s", path);
    /* float32 little-endian, row-major [n, V]: every supported host is little-endian */
    size_t want = (size_t)(n * V);
    size_t got = fwrite(lg, sizeof(float), want, f);
    if (fclose(f) != 0 || got != want)
        return qlm_fail(QLM_E_IO, "cannot write %s", path);
    return QLM_OK;
}

static qlm_status eval_prompt(run_env *env, run_job *job)
{
    int64_t V = env->n_vocab;
    if (!job->dump_logits)
        return qlm_session_eval(env->s, job->ids, job->n_ids, env->logits, 0);
    float *all = malloc(sizeof(float) * (size_t)(job->n_ids * V));
    if (!all)
        return qlm_fail(QLM_E_NOMEM, "out of memory for %lld rows of logits", (long long)job->n_ids);
    qlm_status st = qlm_session_eval(env->s, job->ids, job->n_ids, all, 1);
    if (st == QLM_OK)
        st = dump(job->dump_logits, all, job->n_ids, V);
    if (st == QLM_OK)
        memcpy(env->logits, all + (job->n_ids - 1) * V, sizeof(float) * (size_t)V);
    free(all);
    return st;
}

/* Where the earliest stop string starts in text[from..len), or -1. */
static int64_t find_stop(const run_job *job, const char *text, size_t from, size_t len)
{
    int64_t best = -1;
    for (int i = 0; i < job->n_stops; i++) {
        const char *hit = memmem(text + from, len - from, job->stops[i], strlen(job->stops[i]));
        if (hit && (best < 0 || hit - text < best))
            best = hit - text;
    }
    return best;
}

/* Bytes at the end of text that could still become a stop string. */
static size_t holdback(const run_job *job, const char *text, size_t len)
{
    size_t keep = 0;
    for (int i = 0; i < job->n_stops; i++) {
        size_t sl = strlen(job->stops[i]);
        for (size_t k = sl - 1; k > keep; k--)
            if (k <= len && memcmp(text + len - k, job->stops[i], k) == 0) {
                keep = k;
                break;
            }
    }
    return keep;
}

static void emit(FILE *f, const char *s, size_t n)
{
    if (f && n) {
        fwrite(s, 1, n, f);
        fflush(f);
    }
}

qlm_status run_generate(run_env *env, run_job *job)
{
    int64_t n_ctx = qlm_session_n_ctx(env->s);
    job->text = NULL;
    job->len = 0;
    job->n_gen = 0;
    job->reason = "length";
    qlm_status st = qlm_session_truncate(env->s, 0);
    if (st != QLM_OK)
        return st;
    if (job->n_ids < 1)
        return qlm_fail(QLM_E_ARG, "empty prompt (the vocabulary has no BOS token to start from)");
    if (job->n_ids > n_ctx)
        return qlm_fail(QLM_E_LIMIT, "prompt is %lld tokens, longer than the context (%lld)", (long long)job->n_ids,
                        (long long)n_ctx);
    if (job->n_predict > n_ctx - job->n_ids)
        return qlm_fail(QLM_E_LIMIT, "-n %lld goes beyond the context: prompt %lld + %lld > %lld tokens",
                        (long long)job->n_predict, (long long)job->n_ids, (long long)job->n_predict, (long long)n_ctx);
    qlm_token_sampler *smp = NULL;
    qlm_detok *ds = NULL;
    if ((st = qlm_token_sampler_new(env->lm, &job->sp, &smp)) != QLM_OK)
        return st;
    if (env->has_tok && (st = qlm_detok_new(env->lm, &ds)) != QLM_OK) {
        qlm_token_sampler_free(smp);
        return st;
    }
    int32_t *hist = malloc(sizeof *hist * (size_t)(n_ctx + 1));
    buf out = {0};
    if (!hist || buf_add(&out, "", 0) != QLM_OK) {
        st = qlm_fail(QLM_E_NOMEM, "out of memory for the token history");
        goto done;
    }
    memcpy(hist, job->ids, sizeof *hist * (size_t)job->n_ids);

    /* the prompt, echoed through the same decoder (BOS itself is not printed) */
    qlm_lm_info info = {.size = sizeof info};
    qlm_lm_get_info(env->lm, &info);
    char idbuf[24];
    int64_t n_id_text = 0;
    size_t n;
    const char *pc;
    for (int64_t i = 0; i < job->n_ids; i++) {
        if (i == 0 && env->has_tok && job->ids[0] == info.bos)
            continue;
        pc = piece(ds, job->ids[i], &n_id_text, idbuf, &n);
        emit(job->stream, pc, n);
    }
    double t0 = run_now();
    if ((st = eval_prompt(env, job)) != QLM_OK)
        goto done;
    job->s_prompt = run_now() - t0;
    t0 = run_now();
    int64_t n_hist = job->n_ids;
    size_t emitted = 0;
    int64_t limit = job->n_predict < 0 ? n_ctx - job->n_ids : job->n_predict;
    while (job->n_gen < limit) {
        int32_t next = qlm_token_sampler_sample(smp, env->logits, hist, (size_t)n_hist);
        if (next < 0) {
            st = QLM_E_ARG; /* the message is the sampler's */
            goto done;
        }
        if (env->has_tok && qlm_is_eog(env->lm, next)) {
            job->reason = "eog";
            break;
        }
        hist[n_hist++] = next;
        job->n_gen++;
        pc = piece(ds, next, &n_id_text, idbuf, &n);
        if ((st = buf_add(&out, pc, n)) != QLM_OK)
            goto done;
        /* a stop string may straddle pieces: held-back bytes are searched again */
        int64_t at = job->n_stops ? find_stop(job, out.p, emitted, out.len) : -1;
        if (at >= 0) {
            emit(job->stream, out.p + emitted, (size_t)at - emitted);
            out.len = (size_t)at;
            out.p[at] = 0;
            emitted = out.len;
            job->reason = "stop";
            break;
        }
        size_t safe = out.len - holdback(job, out.p, out.len);
        emit(job->stream, out.p + emitted, safe - emitted);
        emitted = safe;
        if (job->n_gen == limit)
            break;
        if (n_hist >= n_ctx) {
            job->reason = "context";
            break;
        }
        if ((st = qlm_session_eval(env->s, &next, 1, env->logits, 0)) != QLM_OK)
            goto done;
    }
    if (job->n_gen == limit && job->n_predict < 0)
        job->reason = "context";
    if (strcmp(job->reason, "stop") != 0) {
        n = 0;
        pc = ds ? qlm_detok_end(ds, &n) : "";
        if ((st = buf_add(&out, pc, n)) != QLM_OK)
            goto done;
        emit(job->stream, out.p + emitted, out.len - emitted);
    }
    job->s_gen = run_now() - t0;
done:
    if (st == QLM_OK) {
        job->text = out.p;
        job->len = out.len;
    } else {
        free(out.p);
    }
    free(hist);
    qlm_detok_free(ds);
    qlm_token_sampler_free(smp);
    return st;
}
