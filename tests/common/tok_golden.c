#include "tests/common/tok_golden.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/common/testutil.h"

#define TG_SHOW 5 /* mismatches printed per check group */

json_doc *tg_load_json(const char *rel)
{
    size_t len;
    char *buf = tu_read(tu_shared(rel), &len);
    json_doc *d = NULL;
    assert_ok(json_parse(buf, len, &d));
    free(buf);
    return d;
}

qlm_tokenizer *tg_load_tok(const char *rel)
{
    qlm_tokenizer *t = NULL;
    assert_ok(qlm_tok_load_path(tu_shared(rel), &t));
    return t;
}

static void show_text(const char *text, size_t len)
{
    fputc('"', stderr);
    for (size_t i = 0; i < len && i < 60; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '\n')
            fputs("\\n", stderr);
        else if (c < 0x20)
            fprintf(stderr, "\\x%02x", c);
        else
            fputc(c, stderr);
    }
    fputs(len > 60 ? "\"..." : "\"", stderr);
}

int tg_check_encode(const qlm_tokenizer *t, const char *label, const char *text, size_t len,
                    bool parse_special, bool add_bos, const json_value *want)
{
    qlm_tok_encode_opts o = {add_bos, parse_special};
    int32_t *ids;
    size_t n;
    assert_ok(qlm_tok_encode(t, text, len, &o, &ids, &n));
    assert_non_null(want);
    bool same = want->type == JSON_ARRAY && want->n == n;
    size_t first_diff = 0;
    for (size_t i = 0; same && i < n; i++) {
        int64_t w;
        if (!json_as_i64(json_at(want, i), &w) || w != ids[i]) {
            same = false;
            first_diff = i;
        }
    }
    if (!same) {
        fprintf(stderr, "MISMATCH %s ", label);
        show_text(text, len);
        fprintf(stderr, ": got %zu ids, want %zu; first difference at %zu\n  got ", n, want->n, first_diff);
        for (size_t i = 0; i < n && i < 24; i++)
            fprintf(stderr, " %d", ids[i]);
        fprintf(stderr, "\n  want");
        for (size_t i = 0; i < want->n && i < 24; i++)
            fprintf(stderr, " %lld", (long long)json_at(want, i)->i);
        fputc('\n', stderr);
    }
    free(ids);
    return !same;
}

int tg_check_decode(const qlm_tokenizer *t, const char *label, const int32_t *ids, size_t n,
                    const char *want, size_t want_len)
{
    char *got;
    size_t len;
    assert_ok(qlm_tok_decode(t, ids, n, &got, &len));
    int bad = len != want_len || memcmp(got, want, len) != 0;
    if (bad) {
        fprintf(stderr, "DECODE MISMATCH %s: got ", label);
        show_text(got, len);
        fprintf(stderr, " want ");
        show_text(want, want_len);
        fputc('\n', stderr);
    }
    /* The streaming decoder, one id at a time, must produce the same bytes. */
    size_t cap = 3 * (qlm_tok_max_piece(t) + 4);
    char *buf = malloc(cap), *acc = malloc(3 * len + cap + 1);
    assert_non_null(buf);
    assert_non_null(acc);
    size_t k = 0;
    qlm_detok_stream s;
    qlm_detok_init(&s);
    for (size_t i = 0; i < n; i++) {
        size_t w = qlm_detok_push(t, &s, ids[i], buf, cap);
        memcpy(acc + k, buf, w);
        k += w;
    }
    k += qlm_detok_flush(&s, acc + k, cap);
    if (k != len || memcmp(acc, got, len) != 0) {
        fprintf(stderr, "STREAM MISMATCH %s: stream ", label);
        show_text(acc, k);
        fprintf(stderr, " decode ");
        show_text(got, len);
        fputc('\n', stderr);
        bad = 1;
    }
    free(buf);
    free(acc);
    free(got);
    return bad;
}

static int32_t *ids_of(const json_value *arr, size_t *n)
{
    *n = arr ? arr->n : 0;
    int32_t *ids = malloc((*n ? *n : 1) * sizeof *ids);
    assert_non_null(ids);
    for (size_t i = 0; i < *n; i++)
        ids[i] = (int32_t)json_at(arr, i)->i;
    return ids;
}

int tg_corpus(const qlm_tokenizer *t, const char *key, bool parse_special)
{
    json_doc *d = tg_load_json("golden/tokenizers.json");
    const json_value *cases = json_get(json_root(d), "corpus_public");
    assert_non_null(cases);
    char dkey[64];
    snprintf(dkey, sizeof dkey, "%s_decoded", key);
    int bad = 0;
    for (size_t i = 0; i < cases->n; i++) {
        const json_value *c = json_at(cases, i);
        size_t len, dlen, n;
        const char *text = json_as_str(json_get(c, "text"), &len);
        const char *dec = json_as_str(json_get(c, dkey), &dlen);
        const json_value *want = json_get(c, key);
        assert_non_null(text);
        assert_non_null(dec);
        char label[96];
        snprintf(label, sizeof label, "%s corpus[%zu]", key, i);
        int b = tg_check_encode(t, label, text, len, parse_special, false, want);
        int32_t *ids = ids_of(want, &n);
        b |= tg_check_decode(t, label, ids, n, dec, dlen);
        free(ids);
        bad += b;
        if (b && bad > TG_SHOW)
            fprintf(stderr, "(further mismatches not shown)\n");
    }
    json_free(d);
    return bad;
}

/* Next whitespace-separated integer from *p, or false at the end of line. */
static bool next_id(const char **p, const char *end, int64_t *v)
{
    while (*p < end && **p == ' ')
        (*p)++;
    if (*p >= end || **p == '\n')
        return false;
    char *e;
    *v = strtoll(*p, &e, 10);
    assert_true(e != *p);
    *p = e;
    return true;
}

int tg_ggml_vocab(const qlm_tokenizer *t, const char *name)
{
    char rel[256];
    size_t in_len, out_len;
    snprintf(rel, sizeof rel, "models/ggml-vocab/ggml-vocab-%s.gguf.inp", name);
    char *in = tu_read(tu_shared(rel), &in_len);
    snprintf(rel, sizeof rel, "models/ggml-vocab/ggml-vocab-%s.gguf.out", name);
    char *out = tu_read(tu_shared(rel), &out_len);
    static const char sep[] = "\n__ggml_vocab_test__\n";
    const char *p = in, *end = in + in_len, *q = out, *qend = out + out_len;
    int bad = 0, cases = 0;
    while (p < end) {
        const char *s = strstr(p, sep);
        assert_non_null(s); /* every input, the last one too, ends with the separator */
        assert_true(q < qend);
        const char *eol = memchr(q, '\n', (size_t)(qend - q));
        assert_non_null(eol);
        /* expected ids as a JSON-like array, built by hand */
        size_t n = 0, cap = 16;
        json_value want = {.type = JSON_ARRAY};
        json_value *items = malloc(cap * sizeof *items);
        int64_t v;
        while (next_id(&q, eol, &v)) {
            if (n == cap)
                items = realloc(items, (cap *= 2) * sizeof *items);
            items[n++] = (json_value){.type = JSON_NUMBER, .is_int = true, .i = v, .u.num = (double)v};
        }
        want.n = n;
        want.u.items = items;
        char label[96];
        snprintf(label, sizeof label, "ggml-vocab-%s[%d]", name, cases);
        bad += tg_check_encode(t, label, p, (size_t)(s - p), false, false, &want);
        free(items);
        q = eol + 1;
        p = s + strlen(sep);
        cases++;
    }
    assert_true(cases > 0);
    assert_true(q == qend); /* as many outputs as inputs */
    free(in);
    free(out);
    return bad;
}
