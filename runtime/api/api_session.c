/* libqlm: context handle — evaluation in chunks with a progress/cancel
 * callback, and KV-cache state save/restore. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/api/api_int.h"
#include "runtime/model/ctx_int.h"

qlm_session_params qlm_session_params_default(void)
{
    return (qlm_session_params){.size = sizeof(qlm_session_params)};
}

qlm_status qlm_session_new(const qlm_lm *lm, const qlm_session_params *p, qlm_session **out)
{
    if (!out)
        return qlm_fail(QLM_E_ARG, "qlm_session_new: NULL out");
    *out = NULL;
    qlm_status st = qlm_api_need_weights(lm, "qlm_session_new");
    if (st != QLM_OK)
        return st;
    /* 0.2's struct ended before `kv_type`: missing fields take their defaults. */
    qlm_session_params d = qlm_session_params_default();
    if (p && (st = qlm_api_check_size(p->size, offsetof(qlm_session_params, kv_type), sizeof *p,
                                      "qlm_session_params")) != QLM_OK)
        return st;
    if (p)
        memcpy(&d, p, p->size);
    p = &d;
    if (p->n_ctx < 0)
        return qlm_fail(QLM_E_ARG, "qlm_session_new: negative n_ctx %lld", (long long)p->n_ctx);
    if (p->kv_type != QLM_KV_F32 && p->kv_type != QLM_KV_Q8)
        return qlm_fail(QLM_E_ARG, "qlm_session_params: unknown kv_type %d", p->kv_type);
    qlm_session *s = calloc(1, sizeof *s);
    if (!s)
        return qlm_fail(QLM_E_NOMEM, "out of memory for the context");
    qlm_ctx_params cp = {.n_ctx = p->n_ctx,
                         .n_threads = p->n_threads,
                         .n_batch = p->n_batch,
                         .kv = p->kv_type == QLM_KV_Q8 ? QLM_CACHE_Q8 : QLM_CACHE_F32};
    st = qlm_ctx_new(lm->model, &cp, &s->ctx);
    if (st != QLM_OK) {
        free(s);
        return st;
    }
    s->lm = lm;
    s->progress = p->progress;
    s->progress_user = p->progress_user;
    *out = s;
    return QLM_OK;
}

void qlm_session_free(qlm_session *s)
{
    if (!s)
        return;
    qlm_ctx_free(s->ctx);
    free(s);
}

int64_t qlm_session_n_ctx(const qlm_session *s) { return s ? qlm_ctx_n_ctx(s->ctx) : -1; }
int64_t qlm_session_pos(const qlm_session *s) { return s ? qlm_ctx_pos(s->ctx) : -1; }
int qlm_session_n_threads(const qlm_session *s) { return s ? s->ctx->n_threads : -1; }
int64_t qlm_session_kv_bytes(const qlm_session *s) { return s ? (int64_t)qlm_ctx_kv_bytes(s->ctx) : -1; }

qlm_status qlm_session_truncate(qlm_session *s, int64_t pos)
{
    if (!s)
        return qlm_fail(QLM_E_ARG, "qlm_session_truncate: NULL context");
    return qlm_ctx_truncate(s->ctx, pos);
}

qlm_status qlm_session_eval(qlm_session *s, const int32_t *tokens, int64_t n, float *logits, int all_logits)
{
    if (!s || !tokens || n <= 0)
        return qlm_fail(QLM_E_ARG, "qlm_session_eval: %s", !s ? "NULL context" : !tokens ? "NULL tokens"
                                                                                       : "n must be > 0");
    qlm_ctx *c = s->ctx;
    if (n > c->n_ctx - c->pos)
        return qlm_fail(QLM_E_LIMIT, "context full: %lld tokens at position %lld exceed n_ctx %lld",
                        (long long)n, (long long)c->pos, (long long)c->n_ctx);
    if (!s->progress)
        return qlm_ctx_eval(c, tokens, n, logits, all_logits != 0);
    /* With a callback: one forward call per n_batch chunk (what qlm_ctx_eval
     * does inside anyway), asking the caller between chunks. */
    int64_t V = qlm_model_hparams(s->lm->model)->n_vocab;
    for (int64_t done = 0; done < n;) {
        if (s->progress(s->progress_user, done, n))
            return qlm_fail(QLM_E_INTERRUPTED, "evaluation cancelled by the progress callback after %lld of %lld tokens",
                            (long long)done, (long long)n);
        int64_t k = n - done < c->n_batch ? n - done : c->n_batch;
        bool last = done + k == n;
        float *lg = !logits ? NULL : all_logits ? logits + done * V : last ? logits : NULL;
        qlm_status st = qlm_ctx_eval(c, tokens + done, k, lg, all_logits != 0);
        if (st != QLM_OK)
            return st;
        done += k;
    }
    s->progress(s->progress_user, n, n);
    return QLM_OK;
}

/* ---- state: a magic naming the cache type ("QLMSTATE" f32, "QLMSTAQ8"
 * q8), then int64 n_layers, kv_dim, pos, then for each layer the first pos
 * rows of each array of the cache (qlm_kv_parts: f32 K then V; q8 K codes,
 * K scales, V codes, V scales), host order. */

enum { STATE_HEADER = 8 + 3 * 8 };

static const char *state_magic(qlm_kv_type kv) { return kv == QLM_CACHE_Q8 ? "QLMSTAQ8" : "QLMSTATE"; }

static int64_t kv_dim(const qlm_ctx *c)
{
    const qlm_hparams *hp = qlm_model_hparams(c->m);
    return hp->n_kv_heads * hp->head_dim;
}

static size_t state_bytes(const qlm_ctx *c, int64_t pos)
{
    qlm_kv_part parts[4];
    int n = qlm_kv_parts(c, parts);
    size_t row = 0;
    for (int i = 0; i < n; i++)
        row += parts[i].row;
    /* pos <= n_ctx, whose cache was allocated, so the product fits. */
    return STATE_HEADER + (size_t)qlm_model_hparams(c->m)->n_layers * (size_t)pos * row;
}

qlm_status qlm_session_state_size(const qlm_session *s, size_t *size)
{
    if (!s || !size)
        return qlm_fail(QLM_E_ARG, "qlm_session_state_size: NULL argument");
    *size = state_bytes(s->ctx, s->ctx->pos);
    return QLM_OK;
}

/* Copy the first pos rows of every layer of every cache array to (save) or
 * from (load) the state body p. */
static void copy_rows(const qlm_ctx *c, char *p, int64_t pos, bool save)
{
    qlm_kv_part parts[4];
    int n = qlm_kv_parts(c, parts);
    for (int64_t l = 0; l < qlm_model_hparams(c->m)->n_layers; l++)
        for (int i = 0; i < n; i++) {
            char *at = (char *)parts[i].p + (size_t)l * (size_t)c->n_ctx * parts[i].row;
            size_t len = (size_t)pos * parts[i].row;
            if (save)
                memcpy(p, at, len);
            else
                memcpy(at, p, len);
            p += len;
        }
}

qlm_status qlm_session_state_save(const qlm_session *s, void *buf, size_t cap, size_t *written)
{
    if (!s || !buf)
        return qlm_fail(QLM_E_ARG, "qlm_session_state_save: NULL argument");
    const qlm_ctx *c = s->ctx;
    size_t need = state_bytes(c, c->pos);
    if (cap < need)
        return qlm_fail(QLM_E_SIZE, "state buffer holds %zu bytes, the state needs %zu", cap, need);
    int64_t hdr[3] = {qlm_model_hparams(c->m)->n_layers, kv_dim(c), c->pos};
    char *p = buf;
    memcpy(p, state_magic(c->kv), 8);
    memcpy(p + 8, hdr, sizeof hdr);
    copy_rows(c, p + STATE_HEADER, c->pos, true);
    if (written)
        *written = need;
    return QLM_OK;
}

qlm_status qlm_session_state_load(qlm_session *s, const void *buf, size_t len)
{
    if (!s || !buf)
        return qlm_fail(QLM_E_ARG, "qlm_session_state_load: NULL argument");
    qlm_ctx *c = s->ctx;
    const char *p = buf;
    qlm_kv_type other = c->kv == QLM_CACHE_Q8 ? QLM_CACHE_F32 : QLM_CACHE_Q8;
    if (len >= STATE_HEADER && memcmp(p, state_magic(other), 8) == 0)
        return qlm_fail(QLM_E_DTYPE, "state holds a %s KV cache, this context's is %s",
                        other == QLM_CACHE_Q8 ? "q8" : "f32", other == QLM_CACHE_Q8 ? "f32" : "q8");
    if (len < STATE_HEADER || memcmp(p, state_magic(c->kv), 8) != 0)
        return qlm_fail(QLM_E_MAGIC, "not a qlm context state (%zu bytes)", len);
    int64_t hdr[3];
    memcpy(hdr, p + 8, sizeof hdr);
    int64_t L = qlm_model_hparams(c->m)->n_layers, kvd = kv_dim(c);
    if (hdr[0] != L || hdr[1] != kvd)
        return qlm_fail(QLM_E_SHAPE, "state is for %lld layers x %lld KV dims, this model has %lld x %lld",
                        (long long)hdr[0], (long long)hdr[1], (long long)L, (long long)kvd);
    if (hdr[2] < 0 || hdr[2] > c->n_ctx)
        return qlm_fail(QLM_E_LIMIT, "state holds %lld positions, the context only %lld", (long long)hdr[2],
                        (long long)c->n_ctx);
    if (len != state_bytes(c, hdr[2]))
        return qlm_fail(QLM_E_SIZE, "state is %zu bytes, %lld positions need %zu", len, (long long)hdr[2],
                        state_bytes(c, hdr[2]));
    copy_rows(c, (char *)p + STATE_HEADER, hdr[2], false);
    c->pos = hdr[2];
    return QLM_OK;
}

qlm_status qlm_session_state_save_file(const qlm_session *s, const char *path)
{
    if (!s || !path)
        return qlm_fail(QLM_E_ARG, "qlm_session_state_save_file: NULL argument");
    size_t n;
    qlm_session_state_size(s, &n);
    void *buf = malloc(n);
    if (!buf)
        return qlm_fail(QLM_E_NOMEM, "out of memory for %zu bytes of state", n);
    qlm_status st = qlm_session_state_save(s, buf, n, &n);
    FILE *f = st == QLM_OK ? fopen(path, "wb") : NULL;
    if (st == QLM_OK && !f)
        st = qlm_fail(QLM_E_IO, "%s: cannot create", path);
    if (f && (fwrite(buf, 1, n, f) != n) + (fclose(f) != 0))
        st = qlm_fail(QLM_E_IO, "%s: write failed", path);
    free(buf);
    return st;
}

qlm_status qlm_session_state_load_file(qlm_session *s, const char *path)
{
    if (!s || !path)
        return qlm_fail(QLM_E_ARG, "qlm_session_state_load_file: NULL argument");
    FILE *f = fopen(path, "rb");
    if (!f)
        return qlm_fail(QLM_E_IO, "%s: cannot open", path);
    /* Largest valid state for this context bounds the read (never sized from the file). */
    size_t cap = state_bytes(s->ctx, s->ctx->n_ctx);
    char *buf = malloc(cap + 1);
    qlm_status st = QLM_OK;
    if (!buf)
        st = qlm_fail(QLM_E_NOMEM, "out of memory for %zu bytes of state", cap);
    size_t n = buf ? fread(buf, 1, cap + 1, f) : 0;
    if (st == QLM_OK && ferror(f))
        st = qlm_fail(QLM_E_IO, "%s: read failed", path);
    fclose(f);
    if (st == QLM_OK && n > cap)
        st = qlm_fail(QLM_E_SIZE, "%s: larger than any state of this context (%zu bytes)", path, cap);
    if (st == QLM_OK && (st = qlm_session_state_load(s, buf, n)) != QLM_OK)
        qlm_fail_context(st, "%s", path);
    free(buf);
    return st;
}
