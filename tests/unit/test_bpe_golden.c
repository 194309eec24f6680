/* Byte-level BPE against Hugging Face: the SmolLM2 and Qwen3 ids of
 * golden/tokenizers.json (built here straight from tokenizer.json) and the
 * ids HF produced for llama.cpp's vocabulary test inputs (ggml-vocab/ *.inp
 * and .out) with the vocabularies of the GGUF files. Every case must match. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/common/json.h"
#include "formats/gguf/gguf.h"
#include "runtime/tokenizer/bpe.h"
#include "tests/common/testutil.h"

/* A vocabulary under test: the BPE and the added tokens that the caller
 * (tokcore's tokenizer.c in the product) splits out of the text first. */
typedef struct {
    qlm_bpe *bpe;
    const char **added;
    size_t *added_len;
    int32_t *added_id;
    size_t n_added;
} vocab;

static void vocab_free(vocab *v)
{
    qlm_bpe_free(v->bpe);
    free(v->added);
    free(v->added_len);
    free(v->added_id);
}

static void add_special(vocab *v, const char *s, size_t len, int32_t id)
{
    v->added = realloc(v->added, (v->n_added + 1) * sizeof *v->added);
    v->added_len = realloc(v->added_len, (v->n_added + 1) * sizeof *v->added_len);
    v->added_id = realloc(v->added_id, (v->n_added + 1) * sizeof *v->added_id);
    assert_non_null(v->added);
    assert_non_null(v->added_len);
    assert_non_null(v->added_id);
    v->added[v->n_added] = s;
    v->added_len[v->n_added] = len;
    v->added_id[v->n_added++] = id;
}

/* HF's default encode: added tokens are matched in the text (leftmost,
 * longest), the rest goes through the model. */
static void encode(const vocab *v, const char *s, size_t len, int32_t **ids, size_t *n, size_t *cap)
{
    size_t seg = 0, i = 0;
    while (i < len) {
        size_t best = 0, best_k = 0;
        for (size_t k = 0; k < v->n_added; k++)
            if (v->added_len[k] > best && v->added_len[k] <= len - i && !memcmp(s + i, v->added[k], v->added_len[k]))
                best = v->added_len[k], best_k = k;
        if (!best) {
            i++;
            continue;
        }
        assert_ok(qlm_bpe_encode(v->bpe, s + seg, i - seg, ids, n, cap));
        if (*n == *cap) {
            *cap = *cap ? 2 * *cap : 16;
            *ids = realloc(*ids, *cap * sizeof **ids);
            assert_non_null(*ids);
        }
        (*ids)[(*n)++] = v->added_id[best_k];
        i += best;
        seg = i;
    }
    assert_ok(qlm_bpe_encode(v->bpe, s + seg, len - seg, ids, n, cap));
}

static void expect_ids(const vocab *v, const char *what, size_t idx, const char *s, size_t len,
                       const int32_t *want, size_t n_want, int *failures)
{
    int32_t *ids = NULL;
    size_t n = 0, cap = 0;
    encode(v, s, len, &ids, &n, &cap);
    bool same = n == n_want && (n == 0 || !memcmp(ids, want, n * sizeof *ids));
    if (!same) {
        (*failures)++;
        fprintf(stderr, "%s case %zu: %.60s\n  got ", what, idx, s);
        for (size_t k = 0; k < n; k++)
            fprintf(stderr, " %d", ids[k]);
        fprintf(stderr, "\n want");
        for (size_t k = 0; k < n_want; k++)
            fprintf(stderr, " %d", want[k]);
        fprintf(stderr, "\n");
    }
    free(ids);
}

/* ---- tokenizer.json ----------------------------------------------------------- */

static void load_tokenizer_json(const char *rel, const char *pre, const char *normalizer, vocab *v,
                                json_doc **doc, char **text)
{
    size_t len;
    *text = tu_read(tu_shared(rel), &len);
    assert_ok(json_parse(*text, len, doc));
    const json_value *root = json_root(*doc), *model = json_get(root, "model");
    const json_value *jv = json_get(model, "vocab"), *jm = json_get(model, "merges");
    const json_value *ja = json_get(root, "added_tokens");
    assert_non_null(jv);
    assert_non_null(jm);
    assert_non_null(ja);
    size_t n_vocab = 0;
    for (size_t i = 0; i < jv->n; i++)
        n_vocab = (size_t)jv->u.members[i].value.i + 1 > n_vocab ? (size_t)jv->u.members[i].value.i + 1 : n_vocab;
    for (size_t i = 0; i < ja->n; i++) {
        int64_t id = json_get_i64(json_at(ja, i), "id", -1);
        assert_true(id >= 0);
        n_vocab = (size_t)id + 1 > n_vocab ? (size_t)id + 1 : n_vocab;
    }
    const char **tok = calloc(n_vocab, sizeof *tok);
    size_t *tok_len = calloc(n_vocab, sizeof *tok_len);
    assert_non_null(tok);
    assert_non_null(tok_len);
    for (size_t i = 0; i < jv->n; i++) {
        const json_member *m = &jv->u.members[i];
        tok[m->value.i] = m->key;
        tok_len[m->value.i] = m->key_len;
    }
    memset(v, 0, sizeof *v);
    for (size_t i = 0; i < ja->n; i++) {
        const json_value *a = json_at(ja, i);
        int64_t id = json_get_i64(a, "id", -1);
        size_t n;
        const char *s = json_as_str(json_get(a, "content"), &n);
        assert_non_null(s);
        tok[id] = s;
        tok_len[id] = n;
        add_special(v, s, n, (int32_t)id);
    }
    /* merges: "a b" strings, or [a, b] pairs joined here with one space */
    const char **mer = calloc(jm->n, sizeof *mer);
    size_t *mer_len = calloc(jm->n, sizeof *mer_len);
    char **owned = calloc(jm->n, sizeof *owned);
    assert_true(mer && mer_len && owned);
    for (size_t i = 0; i < jm->n; i++) {
        const json_value *m = json_at(jm, i);
        if (m->type == JSON_STRING) {
            mer[i] = json_as_str(m, &mer_len[i]);
            continue;
        }
        size_t la, lb;
        const char *a = json_as_str(json_at(m, 0), &la), *b = json_as_str(json_at(m, 1), &lb);
        assert_true(a && b);
        owned[i] = malloc(la + lb + 1);
        assert_non_null(owned[i]);
        memcpy(owned[i], a, la);
        owned[i][la] = ' ';
        memcpy(owned[i] + la + 1, b, lb);
        mer[i] = owned[i];
        mer_len[i] = la + lb + 1;
    }
    assert_ok(qlm_bpe_new(tok, tok_len, n_vocab, mer, mer_len, jm->n, pre, &v->bpe));
    assert_ok(qlm_bpe_set_normalizer(v->bpe, normalizer));
    for (size_t i = 0; i < jm->n; i++)
        free(owned[i]);
    free(owned);
    free(mer);
    free(mer_len);
    free(tok);
    free(tok_len);
}

static void check_corpus(const char *rel, const char *pre, const char *normalizer, const char *key)
{
    vocab v;
    json_doc *tdoc, *gdoc;
    char *ttext, *gtext;
    load_tokenizer_json(rel, pre, normalizer, &v, &tdoc, &ttext);
    size_t glen;
    gtext = tu_read(tu_shared("golden/tokenizers.json"), &glen);
    assert_ok(json_parse(gtext, glen, &gdoc));
    const json_value *cases = json_get(json_root(gdoc), "corpus_public");
    assert_non_null(cases);
    assert_true(cases->n >= 170);
    int failures = 0;
    for (size_t i = 0; i < cases->n; i++) {
        const json_value *c = json_at(cases, i), *want = json_get(c, key);
        size_t len;
        const char *s = json_as_str(json_get(c, "text"), &len);
        assert_non_null(s);
        assert_non_null(want);
        int32_t *w = malloc((want->n + 1) * sizeof *w);
        assert_non_null(w);
        for (size_t k = 0; k < want->n; k++)
            w[k] = (int32_t)json_at(want, k)->i;
        expect_ids(&v, key, i, s, len, w, want->n, &failures);
        free(w);
    }
    vocab_free(&v);
    json_free(tdoc);
    json_free(gdoc);
    free(ttext);
    free(gtext);
    assert_int_equal(failures, 0);
}

static void test_smollm2_corpus(void **state)
{
    (void)state;
    check_corpus("models/tokenizers/smollm2-135m-instruct/tokenizer.json", "smollm", NULL, "smollm2");
}

static void test_qwen3_corpus(void **state)
{
    (void)state;
    check_corpus("models/tokenizers/qwen3-0.6b/tokenizer.json", "qwen2", "NFC", "qwen3");
}

/* ---- vocabulary GGUFs ---------------------------------------------------------- */

static void load_gguf(const char *name, gguf_file **g, vocab *v)
{
    char rel[256];
    snprintf(rel, sizeof rel, "models/ggml-vocab/ggml-vocab-%s.gguf", name);
    assert_ok(gguf_open(tu_shared(rel), g));
    gguf_vtype et;
    uint64_t n_tok, n_mer;
    assert_ok(gguf_get_arr_info(*g, "tokenizer.ggml.tokens", &et, &n_tok));
    assert_ok(gguf_get_arr_info(*g, "tokenizer.ggml.merges", &et, &n_mer));
    const char **tok = malloc(n_tok * sizeof *tok), **mer = malloc(n_mer * sizeof *mer);
    size_t *tok_len = malloc(n_tok * sizeof *tok_len), *mer_len = malloc(n_mer * sizeof *mer_len);
    assert_true(tok && mer && tok_len && mer_len);
    memset(v, 0, sizeof *v);
    for (uint64_t i = 0; i < n_tok; i++) {
        assert_ok(gguf_get_arr_str(*g, "tokenizer.ggml.tokens", i, &tok[i], &tok_len[i]));
        int64_t type;
        assert_ok(gguf_get_arr_i64(*g, "tokenizer.ggml.token_type", i, &type));
        if (type == 3 || type == 4) /* control, user-defined: HF added tokens */
            add_special(v, tok[i], tok_len[i], (int32_t)i);
    }
    for (uint64_t i = 0; i < n_mer; i++)
        assert_ok(gguf_get_arr_str(*g, "tokenizer.ggml.merges", i, &mer[i], &mer_len[i]));
    char pre[64];
    snprintf(pre, sizeof pre, "%s", name);
    if (gguf_has(*g, "tokenizer.ggml.pre")) {
        const char *s;
        size_t n;
        assert_ok(gguf_get_str(*g, "tokenizer.ggml.pre", &s, &n));
        snprintf(pre, sizeof pre, "%.*s", (int)n, s);
    }
    assert_ok(qlm_bpe_new(tok, tok_len, n_tok, mer, mer_len, n_mer, pre, &v->bpe));
    free(tok);
    free(tok_len);
    free(mer);
    free(mer_len);
}

static void check_ggml_vocab(const char *name)
{
    gguf_file *g;
    vocab v;
    load_gguf(name, &g, &v);
    char rel[256];
    size_t in_len, out_len;
    snprintf(rel, sizeof rel, "models/ggml-vocab/ggml-vocab-%s.gguf.inp", name);
    char *in = tu_read(tu_shared(rel), &in_len);
    snprintf(rel, sizeof rel, "models/ggml-vocab/ggml-vocab-%s.gguf.out", name);
    char *out = tu_read(tu_shared(rel), &out_len);
    static const char sep[] = "\n__ggml_vocab_test__\n";
    const char *p = in, *end = in + in_len, *o = out;
    int failures = 0;
    size_t idx = 0;
    int32_t want[1024];
    while (p < end) {
        const char *q = memmem(p, (size_t)(end - p), sep, sizeof sep - 1);
        assert_non_null(q); /* every input ends with a separator */
        const char *eol = memchr(o, '\n', (size_t)(out + out_len - o));
        assert_non_null(eol);
        size_t n_want = 0;
        for (char *e; o < eol; o = e) {
            long id = strtol(o, &e, 10);
            if (e == o)
                break;
            assert_true(n_want < sizeof want / sizeof *want);
            want[n_want++] = (int32_t)id;
        }
        expect_ids(&v, name, idx++, p, (size_t)(q - p), want, n_want, &failures);
        o = eol + 1;
        p = q + sizeof sep - 1;
    }
    assert_true(idx >= 40);
    free(in);
    free(out);
    vocab_free(&v);
    gguf_close(g);
    assert_int_equal(failures, 0);
}

#define GGML_VOCAB_TEST(fn, name)                                                                  \
    static void fn(void **state)                                                                   \
    {                                                                                              \
        (void)state;                                                                               \
        check_ggml_vocab(name);                                                                    \
    }
GGML_VOCAB_TEST(test_vocab_gpt2, "gpt-2")
GGML_VOCAB_TEST(test_vocab_mpt, "mpt")
GGML_VOCAB_TEST(test_vocab_starcoder, "starcoder")
GGML_VOCAB_TEST(test_vocab_refact, "refact")
GGML_VOCAB_TEST(test_vocab_falcon, "falcon")
GGML_VOCAB_TEST(test_vocab_deepseek_coder, "deepseek-coder")
GGML_VOCAB_TEST(test_vocab_deepseek_llm, "deepseek-llm")

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_smollm2_corpus),
        cmocka_unit_test(test_qwen3_corpus),
        cmocka_unit_test(test_vocab_gpt2),
        cmocka_unit_test(test_vocab_mpt),
        cmocka_unit_test(test_vocab_starcoder),
        cmocka_unit_test(test_vocab_refact),
        cmocka_unit_test(test_vocab_falcon),
        cmocka_unit_test(test_vocab_deepseek_coder),
        cmocka_unit_test(test_vocab_deepseek_llm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
