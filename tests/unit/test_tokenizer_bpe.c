/* Byte-level BPE through the public tokenizer against Hugging Face:
 * golden/tokenizers.json (SmolLM2 tokenizer.json, Qwen3 folder; added tokens
 * parsed, as HF does by default; no BOS), its special_parsing cases, and
 * llama.cpp's ggml-vocab tests of the byte-level vocabularies. The merge
 * engine and pre-tokenizers are bpe.c / pretok.c; this suite checks the whole
 * path: import, added-token splitting, encode, decode, streaming. */
#include <stdlib.h>
#include <string.h>

#include "tests/common/testutil.h"
#include "tests/common/tok_golden.h"

static const char *const k_smollm2 = "models/tokenizers/smollm2-135m-instruct/tokenizer.json";
static const char *const k_qwen3 = "models/tokenizers/qwen3-0.6b";

static void test_smollm2_corpus(void **state)
{
    (void)state;
    qlm_tokenizer *t = tg_load_tok(k_smollm2);
    assert_int_equal(qlm_tok_n_vocab(t), 49152);
    assert_int_equal(tg_corpus(t, "smollm2", true), 0);
    qlm_tok_free(t);
}

static void test_qwen3_corpus(void **state)
{
    (void)state;
    qlm_tokenizer *t = tg_load_tok(k_qwen3);
    assert_int_equal(qlm_tok_n_vocab(t), 151669);
    assert_int_equal(tg_corpus(t, "qwen3", true), 0);
    qlm_tok_free(t);
}

static void test_special_parsing(void **state)
{
    (void)state;
    qlm_tokenizer *s = tg_load_tok(k_smollm2), *q = tg_load_tok(k_qwen3);
    json_doc *d = tg_load_json("golden/tokenizers.json");
    const json_value *cases = json_get(json_root(d), "special_parsing");
    assert_non_null(cases);
    int bad = 0;
    for (size_t i = 0; i < cases->n; i++) {
        const json_value *c = json_at(cases, i);
        size_t len;
        const char *text = json_as_str(json_get(c, "text"), &len);
        bad += tg_check_encode(s, "smollm2 special", text, len, true, false, json_get(c, "smollm2"));
        bad += tg_check_encode(q, "qwen3 special", text, len, true, false, json_get(c, "qwen3"));
    }
    json_free(d);
    qlm_tok_free(s);
    qlm_tok_free(q);
    assert_int_equal(bad, 0);
}

static void test_ggml_vocab_bpe(void **state)
{
    (void)state;
    static const char *const names[] = {"gpt-2", "mpt", "starcoder", "refact", /* gpt-neox: no .inp/.out */
                                        "falcon", "deepseek-coder", "deepseek-llm"};
    int bad = 0;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char rel[128];
        snprintf(rel, sizeof rel, "models/ggml-vocab/ggml-vocab-%s.gguf", names[i]);
        qlm_tokenizer *t = tg_load_tok(rel);
        int b = tg_ggml_vocab(t, names[i]);
        if (b)
            fprintf(stderr, "ggml-vocab-%s: %d mismatching cases\n", names[i], b);
        bad += b;
        qlm_tok_free(t);
    }
    assert_int_equal(bad, 0);
}

/* llama.cpp's qwen2 test set (its GGUF is not in shared/): Qwen3's
 * tokenizer has the same base vocabulary, merges and pre-tokenizer as
 * Qwen2's, and the inputs contain no added tokens, so its ids must match. */
static void test_qwen2_set_with_qwen3(void **state)
{
    (void)state;
    qlm_tokenizer *t = tg_load_tok(k_qwen3);
    assert_int_equal(tg_ggml_vocab(t, "qwen2"), 0);
    qlm_tok_free(t);
}

/* gpt-neox has no reference ids here: decode(encode(s)) == s on the corpus
 * strings Hugging Face round-trips (byte-level BPE is lossless). */
static void test_gpt_neox_round_trip(void **state)
{
    (void)state;
    qlm_tokenizer *t = tg_load_tok("models/ggml-vocab/ggml-vocab-gpt-neox.gguf");
    json_doc *d = tg_load_json("golden/tokenizers.json");
    const json_value *cases = json_get(json_root(d), "corpus_public");
    int bad = 0, checked = 0;
    for (size_t i = 0; i < cases->n; i++) {
        size_t len, dlen, n;
        const char *text = json_as_str(json_get(json_at(cases, i), "text"), &len);
        const char *ref = json_as_str(json_get(json_at(cases, i), "smollm2_decoded"), &dlen);
        if (dlen != len || memcmp(ref, text, len) != 0)
            continue;
        int32_t *ids;
        qlm_tok_encode_opts o = {false, false};
        assert_ok(qlm_tok_encode(t, text, len, &o, &ids, &n));
        bad += tg_check_decode(t, "gpt-neox", ids, n, text, len);
        checked++;
        free(ids);
    }
    assert_true(checked > 100);
    assert_int_equal(bad, 0);
    json_free(d);
    qlm_tok_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_smollm2_corpus),
        cmocka_unit_test(test_qwen3_corpus),
        cmocka_unit_test(test_special_parsing),
        cmocka_unit_test(test_ggml_vocab_bpe),
        cmocka_unit_test(test_qwen2_set_with_qwen3),
        cmocka_unit_test(test_gpt_neox_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
