/* Byte-level BPE against Hugging Face: the SmolLM2 and Qwen3 ids of
 * golden/tokenizers.json (built here straight from tokenizer.json) and the
 * ids HF produced for llama.cpp's vocabulary test inputs (ggml-vocab/ *.inp
 * and .out) with the vocabularies of the GGUF files. Every case must match. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/common/json.h"
#include "runtime/tokenizer/pretok.h"
#include "tests/common/bpe_fixture.h"
#include "tests/common/testutil.h"

static void expect_ids(const bpe_fixture *v, const char *what, size_t idx, const char *s, size_t len,
                       const int32_t *want, size_t n_want, int *failures)
{
    int32_t *ids;
    size_t n;
    bf_encode(v, s, len, &ids, &n);
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

static void check_corpus(const char *rel, const char *pre, const char *normalizer, const char *key)
{
    bpe_fixture v;
    json_doc *gdoc;
    char *gtext;
    bf_load_json(&v, rel, pre, normalizer);
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
    bf_free(&v);
    json_free(gdoc);
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

/* The .inp/.out pair of ggml-vocab NAME against vocabulary v. */
static void check_inp_out(const bpe_fixture *v, const char *name)
{
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
        expect_ids(v, name, idx++, p, (size_t)(q - p), want, n_want, &failures);
        o = eol + 1;
        p = q + sizeof sep - 1;
    }
    assert_true(idx >= 40);
    free(in);
    free(out);
    assert_int_equal(failures, 0);
}

static void check_ggml_vocab(const char *name)
{
    bpe_fixture v;
    bf_load_gguf(&v, name);
    check_inp_out(&v, name);
    bf_free(&v);
}

/* llama.cpp ships no Qwen2 vocabulary GGUF, but Qwen3's tokenizer.json has
 * the same vocabulary and merges, so its qwen2 .inp/.out apply. */
static void test_vocab_qwen2(void **state)
{
    (void)state;
    bpe_fixture v;
    bf_load_json(&v, "models/tokenizers/qwen3-0.6b/tokenizer.json", "qwen2", "NFC");
    check_inp_out(&v, "qwen2");
    bf_free(&v);
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

/* Long texts take the per-call cache of encoded pieces: the ids of one call
 * on 200 kB of WikiText must equal those of encoding each pre-token on its
 * own (one piece per call never builds the cache). */
typedef struct {
    const qlm_bpe *bpe;
    int32_t *ids;
    size_t n, cap;
} piecewise;

static qlm_status encode_alone(void *ctx, const char *s, size_t len)
{
    piecewise *p = ctx;
    return qlm_bpe_encode(p->bpe, s, len, &p->ids, &p->n, &p->cap);
}

static void test_cache_consistency(void **state)
{
    (void)state;
    bpe_fixture v;
    bf_load_json(&v, "models/tokenizers/smollm2-135m-instruct/tokenizer.json", "smollm", NULL);
    size_t len;
    char *text = tu_read(tu_shared("data/wikitext-2/wiki.test.raw"), &len);
    len = len < 200000 ? len : 200000;
    while (len && ((unsigned char)text[len - 1] & 0xC0) == 0x80)
        len--; /* keep whole characters */
    int32_t *ids = NULL;
    size_t n = 0, cap = 0;
    assert_ok(qlm_bpe_encode(v.bpe, text, len, &ids, &n, &cap));
    piecewise p = {v.bpe, NULL, 0, 0};
    assert_ok(qlm_pretok_run(qlm_pretok_find("smollm"), text, len, encode_alone, &p));
    assert_true(n > 10000);
    assert_int_equal(p.n, n);
    assert_memory_equal(p.ids, ids, n * sizeof *ids);
    free(p.ids);
    free(ids);
    free(text);
    bf_free(&v);
}

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
        cmocka_unit_test(test_vocab_qwen2),
        cmocka_unit_test(test_cache_consistency),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
