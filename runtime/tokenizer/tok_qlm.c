/* The tokenizer in a .qlm file: every tokenizer.* key of formats/qlm/keys.h.
 * qlm_tok_write_meta() writes exactly what qlm_tok_load_qlm() reads back, so
 * a tokenizer survives conversion unchanged whatever its source was.
 */
#include <stdlib.h>
#include <string.h>

#include "formats/qlm/keys.h"
#include "runtime/tokenizer/tok_internal.h"

typedef struct {
    const qlm_file *f;
    const char **tokens;
    size_t *lens;
    float *scores;
    uint8_t *types;
    const char **merges;
    size_t *merge_lens;
    int32_t eog[TOK_MAX_EOG];
    char pre[64], norm[16];
    tok_build b;
} qm_ctx;

static void qm_free(qm_ctx *c)
{
    free(c->tokens);
    free(c->lens);
    free(c->scores);
    free(c->types);
    free(c->merges);
    free(c->merge_lens);
}

static qlm_status qm_strings(qm_ctx *c, const char *key, bool required, const char ***strs, size_t **lens,
                             size_t *n)
{
    uint64_t count = 0;
    *n = 0;
    if (!required && !qlm_meta_has(c->f, key))
        return QLM_OK;
    qlm_status st = qlm_meta_str_array_len(c->f, key, &count);
    if (st)
        return st;
    if (count > 4 * (uint64_t)TOK_MAX_VOCAB)
        return qlm_fail(QLM_E_LIMIT, "metadata '%s': %llu strings", key, (unsigned long long)count);
    *strs = malloc((count ? count : 1) * sizeof **strs);
    *lens = malloc((count ? count : 1) * sizeof **lens);
    if (!*strs || !*lens)
        return qlm_fail(QLM_E_NOMEM, "out of memory for '%s'", key);
    for (uint64_t i = 0; i < count; i++)
        if ((st = qlm_meta_str_at(c->f, key, i, &(*strs)[i], &(*lens)[i])))
            return st;
    *n = (size_t)count;
    return QLM_OK;
}

/* Numeric array of exactly `want` elements (or any count <= want when
 * want_exact is false) of type `elem`; *data may be unaligned. */
static qlm_status qm_array(qm_ctx *c, const char *key, qlm_meta_type elem, uint64_t want, bool exact,
                           const uint8_t **data, uint64_t *count)
{
    qlm_meta_type e;
    const void *d;
    qlm_status st = qlm_meta_array(c->f, key, &e, count, &d);
    if (st)
        return st;
    if (e != elem || (exact ? *count != want : *count > want))
        return qlm_fail(QLM_E_VALUE, "metadata '%s': %llu elements of type %d (want %llu of type %d)", key,
                        (unsigned long long)*count, (int)e, (unsigned long long)want, (int)elem);
    *data = d;
    return QLM_OK;
}

static qlm_status qm_per_token(qm_ctx *c)
{
    size_t n = c->b.n_vocab;
    const uint8_t *d;
    uint64_t count;
    c->types = malloc(n);
    if (!c->types)
        return qlm_fail(QLM_E_NOMEM, "out of memory for %zu token types", n);
    qlm_status st = qm_array(c, QLM_K_TOK_TYPES, QLM_MT_I32, n, true, &d, &count);
    if (st)
        return st;
    for (size_t i = 0; i < n; i++) {
        int32_t v;
        memcpy(&v, d + 4 * i, 4);
        if (v < TT_NORMAL || v > TT_BYTE)
            return qlm_fail(QLM_E_VALUE, "metadata '%s'[%zu] = %d (want 1..6)", QLM_K_TOK_TYPES, i, (int)v);
        c->types[i] = (uint8_t)v;
    }
    if (c->b.kind == TOK_BPE)
        return QLM_OK;
    if ((st = qm_array(c, QLM_K_TOK_SCORES, QLM_MT_F32, n, true, &d, &count)))
        return st;
    if (!(c->scores = malloc(n * sizeof *c->scores)))
        return qlm_fail(QLM_E_NOMEM, "out of memory for %zu scores", n);
    memcpy(c->scores, d, n * sizeof *c->scores);
    return QLM_OK;
}

static qlm_status qm_name(qm_ctx *c, const char *key, char *buf, size_t cap, const char **out)
{
    const char *s;
    size_t len;
    *out = NULL;
    if (!qlm_meta_has(c->f, key))
        return QLM_OK;
    qlm_status st = qlm_meta_str(c->f, key, &s, &len);
    if (st)
        return st;
    if (len >= cap)
        return qlm_fail(QLM_E_VALUE, "metadata '%s' is %zu bytes long", key, len);
    memcpy(buf, s, len);
    buf[len] = 0;
    *out = buf;
    return QLM_OK;
}

static qlm_status qm_kind(qm_ctx *c)
{
    const char *model;
    char buf[8];
    qlm_status st = qm_name(c, QLM_K_TOK_MODEL, buf, sizeof buf, &model);
    if (st)
        return st;
    if (!model)
        return qlm_fail(QLM_E_MISSING, "metadata '%s' is missing: the file has no tokenizer", QLM_K_TOK_MODEL);
    if (strcmp(model, "bpe") != 0 && strcmp(model, "spm") != 0)
        return qlm_fail(QLM_E_UNSUPPORTED, "metadata '%s' = \"%s\" (want bpe or spm)", QLM_K_TOK_MODEL, model);
    tok_build_init(&c->b, strcmp(model, "bpe") == 0 ? TOK_BPE : TOK_SPM);
    c->b.origin = "qlm tokenizer";
    return QLM_OK;
}

static int32_t qm_id(qm_ctx *c, const char *key)
{
    int64_t v = qlm_meta_i64_or(c->f, key, -1);
    return v >= 0 && v < (int64_t)c->b.n_vocab ? (int32_t)v : -1;
}

static qlm_status qm_read(qm_ctx *c)
{
    tok_build *b = &c->b;
    qlm_status st = qm_kind(c);
    if (!st)
        st = qm_strings(c, QLM_K_TOK_TOKENS, true, &c->tokens, &c->lens, &b->n_vocab);
    if (!st)
        st = qm_per_token(c);
    if (!st && b->kind == TOK_BPE)
        st = qm_strings(c, QLM_K_TOK_MERGES, true, &c->merges, &c->merge_lens, &b->n_merges);
    if (!st)
        st = qm_name(c, QLM_K_TOK_PRE, c->pre, sizeof c->pre, &b->pre);
    if (!st)
        st = qm_name(c, QLM_K_TOK_NORMALIZER, c->norm, sizeof c->norm, &b->normalizer);
    if (st)
        return st;
    b->tokens = c->tokens;
    b->token_lens = c->lens;
    b->scores = c->scores;
    b->types = c->types;
    b->merges = c->merges;
    b->merge_lens = c->merge_lens;
    b->bos = qm_id(c, QLM_K_TOK_BOS);
    b->eos = qm_id(c, QLM_K_TOK_EOS);
    b->unk = qm_id(c, QLM_K_TOK_UNK);
    b->pad = qm_id(c, QLM_K_TOK_PAD);
    b->add_bos = qlm_meta_bool_or(c->f, QLM_K_TOK_ADD_BOS, false);
    b->add_eos = qlm_meta_bool_or(c->f, QLM_K_TOK_ADD_EOS, false);
    b->add_space_prefix = qlm_meta_bool_or(c->f, QLM_K_TOK_ADD_PREFIX, false);
    b->byte_fallback = qlm_meta_bool_or(c->f, QLM_K_TOK_BYTE_FALLBACK, false);
    b->ignore_merges = qlm_meta_bool_or(c->f, QLM_K_TOK_IGNORE_MERGES, false);
    if (qlm_meta_has(c->f, QLM_K_TOK_EOG)) {
        const uint8_t *d;
        uint64_t count;
        if ((st = qm_array(c, QLM_K_TOK_EOG, QLM_MT_I64, TOK_MAX_EOG, false, &d, &count)))
            return st;
        for (uint64_t i = 0; i < count; i++) {
            int64_t v;
            memcpy(&v, d + 8 * i, 8);
            if (v < 0 || v >= (int64_t)b->n_vocab)
                return qlm_fail(QLM_E_VALUE, "metadata '%s'[%llu] = %lld outside the vocabulary", QLM_K_TOK_EOG,
                                (unsigned long long)i, (long long)v);
            c->eog[i] = (int32_t)v;
        }
        b->eog = c->eog;
        b->n_eog = (size_t)count;
    }
    if (qlm_meta_has(c->f, QLM_K_CHAT_TEMPLATE))
        st = qlm_meta_str(c->f, QLM_K_CHAT_TEMPLATE, &b->chat_template, &b->chat_template_len);
    return st;
}

qlm_status qlm_tok_load_qlm(const qlm_file *f, qlm_tokenizer **out)
{
    qm_ctx c;
    memset(&c, 0, sizeof c);
    c.f = f;
    *out = NULL;
    qlm_status st = qm_read(&c);
    if (!st)
        st = tok_build_finish(&c.b, out);
    qm_free(&c);
    return st;
}

/* ---- writer ---- */

static qlm_status write_vocab(const qlm_tokenizer *t, qlm_writer *w)
{
    size_t n = t->n_vocab;
    const char **strs = malloc(n * sizeof *strs);
    size_t *lens = malloc(n * sizeof *lens);
    int32_t *types = malloc(n * sizeof *types);
    qlm_status st;
    if (!strs || !lens || !types) {
        st = qlm_fail(QLM_E_NOMEM, "out of memory writing %zu tokens", n);
    } else {
        for (size_t i = 0; i < n; i++) {
            strs[i] = tok_text_ptr(t, (int32_t)i);
            lens[i] = t->text_len[i];
            types[i] = t->types[i];
        }
        st = qlm_writer_set_str_array(w, QLM_K_TOK_TOKENS, n, strs, lens);
        if (!st)
            st = qlm_writer_set_array(w, QLM_K_TOK_TYPES, QLM_MT_I32, n, types);
        if (!st && t->scores)
            st = qlm_writer_set_array(w, QLM_K_TOK_SCORES, QLM_MT_F32, n, t->scores);
        if (!st && t->kind == TOK_BPE)
            st = qlm_writer_set_str_array(w, QLM_K_TOK_MERGES, t->n_merges, (const char *const *)t->merges,
                                          t->merge_lens);
    }
    free(strs);
    free(lens);
    free(types);
    return st;
}

static qlm_status set_name(qlm_writer *w, const char *key, const char *s)
{
    return s ? qlm_writer_set_str(w, key, s, strlen(s)) : QLM_OK;
}

qlm_status qlm_tok_write_meta(const qlm_tokenizer *t, qlm_writer *w)
{
    int64_t eog[TOK_MAX_EOG];
    for (size_t i = 0; i < t->n_eog; i++)
        eog[i] = t->eog[i];
    qlm_status st;
    if ((st = set_name(w, QLM_K_TOK_MODEL, t->kind == TOK_BPE ? "bpe" : "spm")) ||
        (st = set_name(w, QLM_K_TOK_PRE, t->pre)) || (st = set_name(w, QLM_K_TOK_NORMALIZER, t->normalizer)) ||
        (st = write_vocab(t, w)) || (st = qlm_writer_set_i64(w, QLM_K_TOK_BOS, t->bos)) ||
        (st = qlm_writer_set_i64(w, QLM_K_TOK_EOS, t->eos)) || (st = qlm_writer_set_i64(w, QLM_K_TOK_UNK, t->unk)) ||
        (st = qlm_writer_set_i64(w, QLM_K_TOK_PAD, t->pad)) ||
        (st = qlm_writer_set_array(w, QLM_K_TOK_EOG, QLM_MT_I64, t->n_eog, eog)) ||
        (st = qlm_writer_set_bool(w, QLM_K_TOK_ADD_BOS, t->add_bos)) ||
        (st = qlm_writer_set_bool(w, QLM_K_TOK_ADD_EOS, t->add_eos)) ||
        (st = qlm_writer_set_bool(w, QLM_K_TOK_ADD_PREFIX, t->add_space_prefix)) ||
        (st = qlm_writer_set_bool(w, QLM_K_TOK_BYTE_FALLBACK, t->byte_fallback)) ||
        (st = qlm_writer_set_bool(w, QLM_K_TOK_IGNORE_MERGES, t->ignore_merges)))
        return st;
    return t->chat_template ? qlm_writer_set_str(w, QLM_K_CHAT_TEMPLATE, t->chat_template, t->chat_template_len)
                            : QLM_OK;
}
