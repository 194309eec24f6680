/* One chat turn: fit the conversation into the context, reuse the cached
 * prefix, evaluate the rest, then sample and stream the reply. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/chat/chat_int.h"

#define TRY(x) do { qlm_status s_ = (x); if (s_ != QLM_OK) return s_; } while (0)

/* Prompt tokens per forward call: small enough that Ctrl-C is noticed soon. */
#define CHAT_CHUNK 64

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static qlm_status eval_ids(qlm_chat *c, const int32_t *ids, size_t n, bool logits)
{
    if (c->dump) {
        fprintf(c->dump, "E %lld", (long long)c->cache.n);
        for (size_t i = 0; i < n; i++)
            fprintf(c->dump, " %d", ids[i]);
        fputc('\n', c->dump);
        fflush(c->dump);
    }
    TRY(qlm_session_eval(c->ctx, ids, (int64_t)n, logits ? c->logits : NULL, 0));
    return chat_vec_push(&c->cache, ids, n);
}

qlm_status chat_sync(qlm_chat *c, const int32_t *ids, size_t n, bool eval, volatile sig_atomic_t *interrupt)
{
    size_t common = 0;
    while (common < n && common < c->cache.n && c->cache.v[common] == ids[common])
        common++;
    if (eval && common == n && n > 0)
        common--; /* the last token is evaluated again for its logits */
    if (common < c->cache.n) {
        TRY(qlm_session_truncate(c->ctx, (int64_t)common));
        c->cache.n = common;
        if (c->dump) {
            fprintf(c->dump, "T %zu\n", common);
            fflush(c->dump);
        }
    }
    if (!eval)
        return QLM_OK;
    c->stats.reused_tokens = (int64_t)common;
    c->stats.prompt_tokens = (int64_t)(n - common);
    for (size_t at = common; at < n; at += CHAT_CHUNK) {
        if (interrupt && *interrupt)
            return qlm_fail(QLM_E_INTERRUPTED, "interrupted");
        size_t k = n - at < CHAT_CHUNK ? n - at : CHAT_CHUNK;
        TRY(eval_ids(c, ids + at, k, at + k == n));
    }
    return QLM_OK;
}

/* Encode the conversation with the generation prompt, dropping the oldest
 * exchanges until it fits with room for a reply. */
static qlm_status fit_prompt(qlm_chat *c, int32_t **ids, size_t *n)
{
    int64_t n_ctx = qlm_session_n_ctx(c->ctx);
    int64_t reserve = n_ctx / 4;
    if (c->n_predict > 0 && c->n_predict < reserve)
        reserve = c->n_predict;
    if (reserve < 1)
        reserve = 1;
    for (;;) {
        TRY(qlm_chat_encode(c, true, ids, n));
        if ((int64_t)*n + reserve <= n_ctx)
            return QLM_OK;
        if (!chat_drop_oldest(c)) {
            if ((int64_t)*n < n_ctx)
                return QLM_OK; /* the current exchange alone: use what room is left */
            free(*ids);
            *ids = NULL;
            return qlm_fail(QLM_E_LIMIT, "the message needs %zu tokens but the context holds %lld", *n,
                            (long long)n_ctx);
        }
        c->stats.dropped++;
        free(*ids);
        *ids = NULL;
    }
}

static bool is_text(const qlm_lm *lm, int32_t id, const char *s)
{
    size_t n;
    const char *p = qlm_token_text(lm, id, &n);
    return p && n == strlen(s) && memcmp(p, s, n) == 0;
}

/* Sample, stream and evaluate reply tokens until end of turn or a stop. */
static qlm_status generate(qlm_chat *c, const qlm_chat_stream *s, double t0, id_vec *reply)
{
    bool think = false;
    double t_first = 0;
    int64_t n_ctx = qlm_session_n_ctx(c->ctx);
    qlm_status st = QLM_OK;
    size_t k;
    const char *text;
    qlm_detok_end(c->detok, &k); /* a fresh stream: nothing left from an earlier reply */
    for (;;) {
        int32_t id = qlm_token_sampler_sample(c->sampler, c->logits, c->cache.v, c->cache.n);
        if (id < 0)
            return QLM_E_ARG; /* the sampler's message */
        if (reply->n == 0) {
            t_first = now_s();
            c->stats.ttft_s = t_first - t0;
        }
        if (qlm_is_eog(c->lm, id))
            break;
        TRY(chat_vec_push(reply, &id, 1));
        if (is_text(c->lm, id, "<think>"))
            think = true;
        text = qlm_detok_next(c->detok, id, &k);
        if (k && s && s->on_text)
            s->on_text(s->user, text, k, think);
        if (is_text(c->lm, id, "</think>"))
            think = false;
        if ((c->n_predict > 0 && (int64_t)reply->n >= c->n_predict) || (int64_t)c->cache.n + 1 >= n_ctx) {
            c->stats.truncated = true;
            break;
        }
        if (s && s->interrupt && *s->interrupt) {
            c->stats.interrupted = true;
            break;
        }
        if ((st = eval_ids(c, &id, 1, true)) != QLM_OK)
            break;
    }
    text = qlm_detok_end(c->detok, &k);
    if (k && s && s->on_text)
        s->on_text(s->user, text, k, think);
    c->stats.reply_tokens = (int64_t)reply->n;
    double dt = now_s() - t_first;
    c->stats.gen_tok_s = reply->n > 1 && dt > 0 ? (double)(reply->n - 1) / dt : 0;
    return st;
}

qlm_status qlm_chat_turn(qlm_chat *c, const char *user_text, const qlm_chat_stream *s)
{
    double t0 = now_s();
    c->stats.prompt_tokens = c->stats.reused_tokens = c->stats.reply_tokens = 0;
    c->stats.ttft_s = c->stats.gen_tok_s = 0;
    c->stats.dropped = 0;
    c->stats.interrupted = c->stats.truncated = false;
    TRY(chat_add_msg(c, "user", user_text, strlen(user_text)));
    int32_t *ids = NULL;
    size_t n = 0;
    qlm_status st = fit_prompt(c, &ids, &n);
    if (st == QLM_OK)
        st = chat_sync(c, ids, n, true, s ? s->interrupt : NULL);
    free(ids);
    if (st != QLM_OK) {
        chat_pop_msg(c);
        return st;
    }
    if (c->dump) {
        fputs("P\n", c->dump); /* the prompt of this turn is in the cache */
        fflush(c->dump);
    }
    id_vec reply = {0};
    st = generate(c, s, t0, &reply);
    char *text = NULL;
    size_t len = 0;
    if (st == QLM_OK)
        st = qlm_detokenize(c->lm, reply.v, reply.n, &text, &len);
    /* invalid UTF-8 from a cut-off character is replaced, as the stream showed it */
    if (st == QLM_OK)
        st = chat_add_msg(c, "assistant", text, strlen(text));
    qlm_free(text);
    free(reply.v);
    if (st != QLM_OK)
        chat_pop_msg(c);
    return st;
}
