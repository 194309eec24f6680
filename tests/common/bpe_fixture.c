#include "tests/common/bpe_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/common/json.h"
#include "formats/common/utf8.h"
#include "formats/gguf/gguf.h"
#include "tests/common/testutil.h"

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    assert_non_null(p);
    return p;
}

static void add_token(bpe_fixture *f, int32_t id)
{
    f->added = realloc(f->added, (f->n_added + 1) * sizeof *f->added);
    assert_non_null(f->added);
    f->added[f->n_added++] = id;
}

void bf_load_json(bpe_fixture *f, const char *rel, const char *pre, const char *normalizer)
{
    memset(f, 0, sizeof *f);
    size_t len;
    json_doc *doc;
    f->text = tu_read(tu_shared(rel), &len);
    assert_ok(json_parse(f->text, len, &doc));
    f->doc = doc;
    const json_value *root = json_root(doc), *model = json_get(root, "model");
    const json_value *jv = json_get(model, "vocab"), *jm = json_get(model, "merges");
    const json_value *ja = json_get(root, "added_tokens");
    assert_true(jv && jm && ja && jv->type == JSON_OBJECT);
    for (size_t i = 0; i < jv->n; i++) {
        int64_t id = jv->u.members[i].value.i;
        assert_true(jv->u.members[i].value.is_int && id >= 0 && id < INT32_MAX);
        f->n_vocab = (size_t)id + 1 > f->n_vocab ? (size_t)id + 1 : f->n_vocab;
    }
    for (size_t i = 0; i < ja->n; i++) {
        int64_t id = json_get_i64(json_at(ja, i), "id", -1);
        assert_true(id >= 0 && id < INT32_MAX);
        f->n_vocab = (size_t)id + 1 > f->n_vocab ? (size_t)id + 1 : f->n_vocab;
    }
    f->tok = xcalloc(f->n_vocab, sizeof *f->tok);
    f->tok_len = xcalloc(f->n_vocab, sizeof *f->tok_len);
    for (size_t i = 0; i < jv->n; i++) {
        const json_member *m = &jv->u.members[i];
        f->tok[m->value.i] = m->key;
        f->tok_len[m->value.i] = m->key_len;
    }
    for (size_t i = 0; i < ja->n; i++) {
        const json_value *a = json_at(ja, i);
        int32_t id = (int32_t)json_get_i64(a, "id", -1);
        assert_non_null(f->tok[id] = json_as_str(json_get(a, "content"), &f->tok_len[id]));
        add_token(f, id);
    }
    /* merges: "a b" strings, or [a, b] pairs joined here with one space */
    const char **mer = xcalloc(jm->n, sizeof *mer);
    size_t *mer_len = xcalloc(jm->n, sizeof *mer_len);
    char **joined = xcalloc(jm->n, sizeof *joined);
    for (size_t i = 0; i < jm->n; i++) {
        const json_value *m = json_at(jm, i);
        if (m->type == JSON_STRING) {
            mer[i] = json_as_str(m, &mer_len[i]);
            continue;
        }
        size_t la, lb;
        const char *a = json_as_str(json_at(m, 0), &la), *b = json_as_str(json_at(m, 1), &lb);
        assert_true(a && b);
        joined[i] = xcalloc(la + lb + 1, 1);
        memcpy(joined[i], a, la);
        joined[i][la] = ' ';
        memcpy(joined[i] + la + 1, b, lb);
        mer[i] = joined[i];
        mer_len[i] = la + lb + 1;
    }
    assert_ok(qlm_bpe_new(f->tok, f->tok_len, f->n_vocab, mer, mer_len, jm->n, pre, &f->bpe));
    assert_ok(qlm_bpe_set_normalizer(f->bpe, normalizer));
    for (size_t i = 0; i < jm->n; i++)
        free(joined[i]);
    free(joined);
    free(mer);
    free(mer_len);
}

void bf_load_gguf(bpe_fixture *f, const char *name)
{
    memset(f, 0, sizeof *f);
    char rel[256];
    snprintf(rel, sizeof rel, "models/ggml-vocab/ggml-vocab-%s.gguf", name);
    gguf_file *g;
    assert_ok(gguf_open(tu_shared(rel), &g));
    f->gguf = g;
    gguf_vtype et;
    uint64_t n_tok, n_mer;
    assert_ok(gguf_get_arr_info(g, "tokenizer.ggml.tokens", &et, &n_tok));
    assert_ok(gguf_get_arr_info(g, "tokenizer.ggml.merges", &et, &n_mer));
    f->n_vocab = n_tok;
    f->tok = xcalloc(n_tok, sizeof *f->tok);
    f->tok_len = xcalloc(n_tok, sizeof *f->tok_len);
    const char **mer = xcalloc(n_mer, sizeof *mer);
    size_t *mer_len = xcalloc(n_mer, sizeof *mer_len);
    for (uint64_t i = 0; i < n_tok; i++) {
        assert_ok(gguf_get_arr_str(g, "tokenizer.ggml.tokens", i, &f->tok[i], &f->tok_len[i]));
        int64_t type;
        assert_ok(gguf_get_arr_i64(g, "tokenizer.ggml.token_type", i, &type));
        if (type == 3 || type == 4) /* control, user-defined: HF's added tokens */
            add_token(f, (int32_t)i);
    }
    for (uint64_t i = 0; i < n_mer; i++)
        assert_ok(gguf_get_arr_str(g, "tokenizer.ggml.merges", i, &mer[i], &mer_len[i]));
    char pre[64];
    snprintf(pre, sizeof pre, "%s", name);
    if (gguf_has(g, "tokenizer.ggml.pre")) {
        const char *s;
        size_t n;
        assert_ok(gguf_get_str(g, "tokenizer.ggml.pre", &s, &n));
        snprintf(pre, sizeof pre, "%.*s", (int)n, s);
    }
    assert_ok(qlm_bpe_new(f->tok, f->tok_len, n_tok, mer, mer_len, n_mer, pre, &f->bpe));
    free(mer);
    free(mer_len);
}

void bf_free(bpe_fixture *f)
{
    qlm_bpe_free(f->bpe);
    free(f->tok);
    free(f->tok_len);
    free(f->added);
    json_free(f->doc);
    gguf_close(f->gguf);
    free(f->text);
    memset(f, 0, sizeof *f);
}

void bf_encode(const bpe_fixture *f, const char *s, size_t len, int32_t **ids, size_t *n)
{
    size_t cap = 0, seg = 0, i = 0;
    *ids = NULL;
    *n = 0;
    while (i < len) {
        size_t best = 0;
        int32_t best_id = -1;
        for (size_t k = 0; k < f->n_added; k++) {
            size_t tl = f->tok_len[f->added[k]];
            if (tl > best && tl <= len - i && !memcmp(s + i, f->tok[f->added[k]], tl))
                best = tl, best_id = f->added[k];
        }
        if (!best) {
            i++;
            continue;
        }
        assert_ok(qlm_bpe_encode(f->bpe, s + seg, i - seg, ids, n, &cap));
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            assert_non_null(*ids = realloc(*ids, cap * sizeof **ids));
        }
        (*ids)[(*n)++] = best_id;
        i += best;
        seg = i;
    }
    assert_ok(qlm_bpe_encode(f->bpe, s + seg, len - seg, ids, n, &cap));
}

char *bf_decode(const bpe_fixture *f, const int32_t *ids, size_t n, size_t *len)
{
    size_t total = 1;
    for (size_t i = 0; i < n; i++) {
        assert_true(ids[i] >= 0 && (size_t)ids[i] < f->n_vocab);
        total += f->tok_len[ids[i]];
    }
    char *out = xcalloc(total, 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        const char *s = f->tok[ids[i]];
        size_t tl = f->tok_len[ids[i]], adv;
        for (size_t k = 0; k < tl; k += adv) {
            int b = qlm_bpe_cp_to_byte(utf8_decode(s + k, tl - k, &adv));
            assert_true(b >= 0);
            *o++ = (char)b;
        }
    }
    *len = (size_t)(o - out);
    return out;
}
