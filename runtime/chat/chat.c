/* Chat session: the conversation, its rendering and tokenisation, and
 * saving/loading it. Generation and KV reuse are in chat_turn.c. */
#include <stdlib.h>
#include <string.h>

#include "formats/common/json.h"
#include "formats/common/utf8.h"
#include "runtime/chat/chat_int.h"

#define TRY(x) do { qlm_status s_ = (x); if (s_ != QLM_OK) return s_; } while (0)

qlm_status chat_vec_push(id_vec *v, const int32_t *ids, size_t n)
{
    if (v->n + n > v->cap) {
        size_t cap = v->cap ? v->cap : 256;
        while (cap < v->n + n)
            cap *= 2;
        int32_t *p = realloc(v->v, cap * sizeof *p);
        if (!p)
            return qlm_fail(QLM_E_NOMEM, "out of memory");
        v->v = p;
        v->cap = cap;
    }
    if (n)
        memcpy(v->v + v->n, ids, n * sizeof *ids);
    v->n += n;
    return QLM_OK;
}

static qlm_status encode(const qlm_chat *c, const char *s, size_t n, bool special, id_vec *out)
{
    int32_t *ids = NULL;
    size_t k = 0;
    TRY(qlm_tokenize(c->lm, s, n, 0, special, &ids, &k));
    qlm_status st = chat_vec_push(out, ids, k);
    qlm_free(ids);
    return st;
}

/* Does the text contain anything the tokenizer would read as a special token? */
static qlm_status has_special_text(const qlm_chat *c, const char *s, size_t n, bool *out)
{
    id_vec a = {0}, b = {0};
    qlm_status st = encode(c, s, n, true, &a);
    if (st == QLM_OK)
        st = encode(c, s, n, false, &b);
    *out = st == QLM_OK && (a.n != b.n || memcmp(a.v, b.v, a.n * sizeof *a.v) != 0);
    free(a.v);
    free(b.v);
    return st;
}

qlm_status chat_add_msg(qlm_chat *c, const char *role, const char *content, size_t len)
{
    if (!utf8_valid(content, len))
        return qlm_fail(QLM_E_UTF8, "message is not valid UTF-8");
    if (memchr(content, 0, len))
        return qlm_fail(QLM_E_VALUE, "message contains a NUL byte");
    if (c->n_msgs == c->cap_msgs) {
        size_t cap = c->cap_msgs ? c->cap_msgs * 2 : 16;
        chat_msg *m = realloc(c->msgs, cap * sizeof *m);
        if (!m)
            return qlm_fail(QLM_E_NOMEM, "out of memory");
        c->msgs = m;
        c->cap_msgs = cap;
    }
    chat_msg *m = &c->msgs[c->n_msgs];
    m->role = strdup(role);
    m->content = strndup(content, len);
    m->protect = false;
    if (!m->role || !m->content) {
        free(m->role);
        free(m->content);
        return qlm_fail(QLM_E_NOMEM, "out of memory");
    }
    c->n_msgs++;
    if (strcmp(role, "assistant") != 0) {
        qlm_status st = has_special_text(c, content, len, &m->protect);
        if (st != QLM_OK) {
            chat_pop_msg(c);
            return st;
        }
    }
    return QLM_OK;
}

void chat_pop_msg(qlm_chat *c)
{
    if (!c->n_msgs)
        return;
    c->n_msgs--;
    free(c->msgs[c->n_msgs].role);
    free(c->msgs[c->n_msgs].content);
}

static void remove_msgs(qlm_chat *c, size_t at, size_t count)
{
    for (size_t i = at; i < at + count; i++) {
        free(c->msgs[i].role);
        free(c->msgs[i].content);
    }
    memmove(c->msgs + at, c->msgs + at + count, (c->n_msgs - at - count) * sizeof *c->msgs);
    c->n_msgs -= count;
}

bool chat_drop_oldest(qlm_chat *c)
{
    size_t users = 0;
    for (size_t i = 0; i < c->n_msgs; i++)
        users += strcmp(c->msgs[i].role, "user") == 0;
    if (users < 2)
        return false; /* the exchange being answered stays */
    size_t end = 1;
    while (end < c->n_msgs && strcmp(c->msgs[end].role, "user") != 0)
        end++;
    remove_msgs(c, 0, end);
    return true;
}

/* ---- rendering ---------------------------------------------------------------- */

qlm_status qlm_chat_render(const qlm_chat *c, bool gen_prompt, char **out, size_t *len)
{
    size_t n = c->n_msgs + (c->system ? 1 : 0), k = 0;
    qlm_message *m = calloc(n ? n : 1, sizeof *m);
    if (!m)
        return qlm_fail(QLM_E_NOMEM, "out of memory");
    if (c->system)
        m[k++] = (qlm_message){"system", c->system};
    for (size_t i = 0; i < c->n_msgs; i++)
        m[k++] = (qlm_message){c->msgs[i].role, c->msgs[i].content};
    int flags = (gen_prompt ? QLM_CHAT_ADD_GENERATION_PROMPT : 0) |
                (c->enable_thinking == 1 ? QLM_CHAT_THINKING_ON : c->enable_thinking == 0 ? QLM_CHAT_THINKING_OFF : 0);
    qlm_status st = qlm_chat_apply(c->lm, c->tpl, m, n, flags, out, len);
    free(m);
    return st;
}

/* Encode the rendering; protected messages found verbatim in it are encoded
 * as plain text, everything else with special tokens parsed. */
qlm_status qlm_chat_encode(const qlm_chat *c, bool gen_prompt, int32_t **ids, size_t *n)
{
    char *text;
    size_t len;
    TRY(qlm_chat_render(c, gen_prompt, &text, &len));
    id_vec out = {0};
    qlm_status st = QLM_OK;
    size_t done = 0;
    for (size_t i = 0; i < c->n_msgs + 1 && st == QLM_OK; i++) {
        const char *content = i == 0 ? c->system : c->msgs[i - 1].content;
        bool protect = i == 0 ? c->protect_system : c->msgs[i - 1].protect;
        if (!protect || !content || !*content)
            continue;
        const char *hit = strstr(text + done, content);
        if (!hit)
            continue; /* the template rewrote it: nothing to protect verbatim */
        size_t at = (size_t)(hit - text), clen = strlen(content);
        st = encode(c, text + done, at - done, true, &out);
        if (st == QLM_OK)
            st = encode(c, hit, clen, false, &out);
        done = at + clen;
    }
    if (st == QLM_OK)
        st = encode(c, text + done, len - done, true, &out);
    free(text);
    if (st != QLM_OK) {
        free(out.v);
        return st;
    }
    *ids = out.v;
    *n = out.n;
    return QLM_OK;
}

/* ---- session ---------------------------------------------------------------------- */

qlm_status qlm_chat_new(const qlm_lm *lm, const qlm_chat_params *p, qlm_chat **out)
{
    *out = NULL;
    qlm_chat *c = calloc(1, sizeof *c);
    if (!c)
        return qlm_fail(QLM_E_NOMEM, "out of memory");
    c->lm = lm;
    c->enable_thinking = p->enable_thinking;
    c->n_predict = p->n_predict;
    c->dump = p->dump_ids;
    c->sampling = p->sampling;
    qlm_lm_info info = {.size = sizeof info};
    qlm_session_params sp = qlm_session_params_default();
    sp.n_ctx = p->n_ctx;
    sp.n_threads = p->n_threads;
    sp.kv_type = p->kv_type;
    qlm_status st = qlm_chat_check(p->template_text);
    if (st == QLM_OK && !(c->tpl = strdup(p->template_text)))
        st = qlm_fail(QLM_E_NOMEM, "out of memory");
    if (st == QLM_OK)
        st = qlm_lm_get_info(lm, &info);
    if (st == QLM_OK)
        st = qlm_session_new(lm, &sp, &c->ctx);
    if (st == QLM_OK)
        st = qlm_token_sampler_new(lm, &c->sampling, &c->sampler);
    if (st == QLM_OK)
        st = qlm_detok_new(lm, &c->detok);
    c->n_vocab = info.n_vocab;
    if (st == QLM_OK && !(c->logits = malloc((size_t)info.n_vocab * sizeof *c->logits)))
        st = qlm_fail(QLM_E_NOMEM, "out of memory");
    if (st == QLM_OK && p->system && *p->system)
        st = qlm_chat_set_system(c, p->system);
    if (st != QLM_OK) {
        qlm_chat_free(c);
        return st;
    }
    c->stats.n_ctx = qlm_session_n_ctx(c->ctx);
    *out = c;
    return QLM_OK;
}

void qlm_chat_free(qlm_chat *c)
{
    if (!c)
        return;
    while (c->n_msgs)
        chat_pop_msg(c);
    free(c->msgs);
    free(c->system);
    free(c->cache.v);
    free(c->logits);
    qlm_detok_free(c->detok);
    qlm_token_sampler_free(c->sampler);
    qlm_session_free(c->ctx);
    free(c->tpl);
    free(c);
}

qlm_status qlm_chat_set_system(qlm_chat *c, const char *text)
{
    char *s = NULL;
    if (text && *text) {
        if (!utf8_valid(text, strlen(text)))
            return qlm_fail(QLM_E_UTF8, "system prompt is not valid UTF-8");
        if (!(s = strdup(text)))
            return qlm_fail(QLM_E_NOMEM, "out of memory");
    }
    bool protect = false;
    qlm_status st = s ? has_special_text(c, s, strlen(s), &protect) : QLM_OK;
    if (st != QLM_OK) {
        free(s);
        return st;
    }
    free(c->system);
    c->system = s;
    c->protect_system = protect;
    return QLM_OK;
}

void qlm_chat_reset(qlm_chat *c)
{
    while (c->n_msgs)
        chat_pop_msg(c);
}

/* Rewind the cache to what the current conversation renders to. */
static qlm_status rewind_cache(qlm_chat *c)
{
    int32_t *ids;
    size_t n;
    TRY(qlm_chat_encode(c, false, &ids, &n));
    qlm_status st = chat_sync(c, ids, n, false, NULL);
    free(ids);
    return st;
}

qlm_status qlm_chat_undo(qlm_chat *c)
{
    size_t k = c->n_msgs;
    while (k > 0 && strcmp(c->msgs[k - 1].role, "user") != 0)
        k--;
    if (k == 0)
        return qlm_fail(QLM_E_ARG, "nothing to undo");
    while (c->n_msgs >= k)
        chat_pop_msg(c);
    return rewind_cache(c);
}

qlm_chat_stats qlm_chat_get_stats(const qlm_chat *c)
{
    qlm_chat_stats s = c->stats;
    s.n_past = qlm_session_pos(c->ctx);
    s.n_messages = c->n_msgs;
    return s;
}

qlm_sampling_params qlm_chat_get_sampling(const qlm_chat *c) { return c->sampling; }

qlm_status qlm_chat_set_sampling(qlm_chat *c, const qlm_sampling_params *p)
{
    qlm_token_sampler *s;
    TRY(qlm_token_sampler_new(c->lm, p, &s));
    qlm_token_sampler_free(c->sampler);
    c->sampler = s;
    c->sampling = *p;
    return QLM_OK;
}

void qlm_chat_set_thinking(qlm_chat *c, int enable_thinking) { c->enable_thinking = enable_thinking; }
void qlm_chat_set_n_predict(qlm_chat *c, int64_t n_predict) { c->n_predict = n_predict; }

/* ---- persistence ------------------------------------------------------------------- */

qlm_status qlm_chat_save(const qlm_chat *c, const char *path)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return qlm_fail(QLM_E_ARG, "path too long: %s", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return qlm_fail(QLM_E_IO, "cannot write %s", tmp);
    fputs("{\"system\": ", f);
    if (c->system)
        json_write_string(f, c->system, strlen(c->system));
    else
        fputs("null", f);
    fputs(",\n \"messages\": [", f);
    for (size_t i = 0; i < c->n_msgs; i++) {
        fputs(i ? ",\n  {\"role\": " : "\n  {\"role\": ", f);
        json_write_string(f, c->msgs[i].role, strlen(c->msgs[i].role));
        fputs(", \"content\": ", f);
        json_write_string(f, c->msgs[i].content, strlen(c->msgs[i].content));
        fputs("}", f);
    }
    fputs("]}\n", f);
    bool ok = !ferror(f);
    ok &= fclose(f) == 0;
    if (!ok || rename(tmp, path) != 0) {
        remove(tmp);
        return qlm_fail(QLM_E_IO, "cannot write %s", path);
    }
    return QLM_OK;
}

static qlm_status load_doc(qlm_chat *c, const json_value *r, const char *path)
{
    const json_value *msgs = json_get(r, "messages"), *sys = json_get(r, "system");
    if (!msgs || msgs->type != JSON_ARRAY)
        return qlm_fail(QLM_E_JSON, "%s: no \"messages\" array", path);
    if (sys && sys->type != JSON_NULL && sys->type != JSON_STRING)
        return qlm_fail(QLM_E_JSON, "%s: \"system\" must be a string or null", path);
    qlm_chat_reset(c);
    TRY(qlm_chat_set_system(c, sys && sys->type == JSON_STRING ? sys->u.str : NULL));
    for (size_t i = 0; i < msgs->n; i++) {
        const json_value *m = json_at(msgs, i);
        size_t len;
        const char *role = json_get_str(m, "role"), *content = json_as_str(json_get(m, "content"), &len);
        if (!role || !content)
            return qlm_fail(QLM_E_JSON, "%s: message %zu needs string \"role\" and \"content\"", path, i);
        if (strcmp(role, "user") && strcmp(role, "assistant") && strcmp(role, "system"))
            return qlm_fail(QLM_E_VALUE, "%s: message %zu has unknown role '%s'", path, i, role);
        TRY(chat_add_msg(c, role, content, len));
    }
    return QLM_OK;
}

qlm_status qlm_chat_load(qlm_chat *c, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return qlm_fail(QLM_E_IO, "cannot open %s", path);
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 65536;
            char *b = cap <= (256u << 20) ? realloc(buf, cap) : NULL;
            if (!b) {
                free(buf);
                fclose(f);
                return qlm_fail(QLM_E_LIMIT, "%s: larger than 256 MiB", path);
            }
            buf = b;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        if (!got)
            break;
        n += got;
    }
    bool err = ferror(f);
    fclose(f);
    json_doc *doc = NULL;
    qlm_status st = err ? qlm_fail(QLM_E_IO, "cannot read %s", path) : json_parse(buf, n, &doc);
    free(buf);
    if (st == QLM_OK)
        st = load_doc(c, json_root(doc), path);
    json_free(doc);
    if (st != QLM_OK) {
        qlm_chat_reset(c);
        return st;
    }
    int32_t *ids;
    size_t k;
    TRY(qlm_chat_encode(c, false, &ids, &k));
    int64_t n_ctx = qlm_session_n_ctx(c->ctx);
    st = k <= (size_t)n_ctx ? chat_sync(c, ids, k, true, NULL)
                            : qlm_fail(QLM_E_LIMIT, "%s: conversation is %zu tokens, context holds %lld", path, k,
                                       (long long)n_ctx);
    free(ids);
    return st;
}
