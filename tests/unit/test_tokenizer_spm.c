/* SentencePiece BPE against its references: sentencepiece's ids for the
 * Llama-2 tokenizer.model (golden/tokenizers.json, via the llama2.c export
 * and via llama.cpp's vocabulary GGUF), llama.cpp's ggml-vocab tests for
 * llama-spm, phi-3 and baichuan, and llama2.c's stories260K vocabulary. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/qlm/keys.h"
#include "tests/common/testutil.h"
#include "tests/common/tok_golden.h"

static void test_llama_bin_corpus(void **state)
{
    (void)state;
    qlm_tokenizer *t = tg_load_tok("models/tokenizers/llama-spm/tokenizer.bin");
    assert_int_equal(qlm_tok_n_vocab(t), 32000);
    assert_int_equal(tg_corpus(t, "llama_spm", false), 0);
    qlm_tok_free(t);
}

static void test_llama_gguf_corpus(void **state)
{
    (void)state;
    qlm_tokenizer *t = tg_load_tok("models/ggml-vocab/ggml-vocab-llama-spm.gguf");
    assert_int_equal(tg_corpus(t, "llama_spm", false), 0);
    qlm_tok_free(t);
}

static void test_ggml_vocab_spm(void **state)
{
    (void)state;
    static const char *const names[] = {"llama-spm", "phi-3"}; /* baichuan has no .inp/.out */
    int bad = 0;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char rel[128];
        snprintf(rel, sizeof rel, "models/ggml-vocab/ggml-vocab-%s.gguf", names[i]);
        qlm_tokenizer *t = tg_load_tok(rel);
        bad += tg_ggml_vocab(t, names[i]);
        qlm_tok_free(t);
    }
    assert_int_equal(bad, 0);
}

/* llama2.c's run.c on stories260K: "Once upon a time" with BOS. */
static void test_stories260k(void **state)
{
    (void)state;
    qlm_tokenizer *t = tg_load_tok("models/stories260K/tok512.bin");
    assert_int_equal(qlm_tok_n_vocab(t), 512);
    static const int32_t want[] = {1, 403, 407, 261, 378};
    qlm_tok_encode_opts o = {true, false};
    int32_t *ids;
    size_t n;
    assert_ok(qlm_tok_encode(t, "Once upon a time", 16, &o, &ids, &n));
    assert_int_equal(n, 5);
    assert_memory_equal(ids, want, sizeof want);
    char *s;
    size_t len;
    assert_ok(qlm_tok_decode(t, ids + 1, n - 1, &s, &len));
    assert_string_equal(s, "Once upon a time");
    free(s);
    free(ids);
    qlm_tok_free(t);
}

/* The llama2.c export and the GGUF are the same vocabulary: same texts,
 * types, scores and special ids. */
static void test_llama_sources_agree(void **state)
{
    (void)state;
    qlm_tokenizer *a = tg_load_tok("models/tokenizers/llama-spm/tokenizer.bin");
    qlm_tokenizer *b = tg_load_tok("models/ggml-vocab/ggml-vocab-llama-spm.gguf");
    assert_int_equal(qlm_tok_n_vocab(a), qlm_tok_n_vocab(b));
    for (int32_t i = 0; i < (int32_t)qlm_tok_n_vocab(a); i++) {
        size_t la, lb;
        const char *sa = qlm_tok_text(a, i, &la), *sb = qlm_tok_text(b, i, &lb);
        assert_int_equal(la, lb);
        assert_memory_equal(sa, sb, la);
    }
    assert_int_equal(qlm_tok_bos(a), qlm_tok_bos(b));
    assert_int_equal(qlm_tok_eos(a), qlm_tok_eos(b));
    assert_true(qlm_tok_add_bos(a) && qlm_tok_add_bos(b));
    qlm_tok_free(a);
    qlm_tok_free(b);
}

/* decode(encode(s)) == s for every corpus string that sentencepiece itself
 * round-trips, for the SentencePiece vocabularies without added tokens
 * (baichuan has no reference ids, so this is its check). */
static void test_round_trip(void **state)
{
    (void)state;
    static const char *const paths[] = {"models/ggml-vocab/ggml-vocab-baichuan.gguf",
                                        "models/stories260K/tok512.bin"};
    json_doc *d = tg_load_json("golden/tokenizers.json");
    const json_value *cases = json_get(json_root(d), "corpus_public");
    int bad = 0;
    for (size_t k = 0; k < sizeof paths / sizeof *paths; k++) {
        qlm_tokenizer *t = tg_load_tok(paths[k]);
        for (size_t i = 0; i < cases->n; i++) {
            size_t len, dlen, n;
            const char *text = json_as_str(json_get(json_at(cases, i), "text"), &len);
            const char *ref = json_as_str(json_get(json_at(cases, i), "llama_spm_decoded"), &dlen);
            if (dlen != len || memcmp(ref, text, len) != 0)
                continue;
            int32_t *ids;
            qlm_tok_encode_opts o = {false, false};
            assert_ok(qlm_tok_encode(t, text, len, &o, &ids, &n));
            bad += tg_check_decode(t, paths[k], ids, n, text, len);
            free(ids);
        }
        qlm_tok_free(t);
    }
    json_free(d);
    assert_int_equal(bad, 0);
}

/* ---- SentencePiece-style tokenizer.json ----
 * Hugging Face's converter writes a sentencepiece BPE model as tokenizer.json
 * with byte_fallback: the vocabulary, and as merges every split of each piece
 * into two pieces, in score order. We write that file for the Llama-2
 * vocabulary (scores read from tokenizer.bin here, independently of the
 * importer) and require sentencepiece's ids from it. */
static float *read_l2c_scores(const char *path, size_t *n)
{
    size_t len;
    unsigned char *b = (unsigned char *)tu_read(path, &len);
    float *sc = malloc(40000 * sizeof *sc);
    size_t at = 4, k = 0;
    while (at + 8 <= len && k < 40000) {
        int32_t l;
        memcpy(&sc[k++], b + at, 4);
        memcpy(&l, b + at + 4, 4);
        at += 8 + (size_t)l;
    }
    free(b);
    *n = k;
    return sc;
}

static const float *g_scores;

static int by_score(const void *pa, const void *pb)
{
    int32_t a = *(const int32_t *)pa, b = *(const int32_t *)pb;
    if (g_scores[a] != g_scores[b])
        return g_scores[a] > g_scores[b] ? -1 : 1;
    return a < b ? -1 : a > b;
}

static bool is_plain_piece(const qlm_tokenizer *t, int32_t id)
{
    return id > 2 && id < (int32_t)qlm_tok_n_vocab(t) && !(id >= 3 && id < 259); /* not specials/bytes */
}

static void write_hf_json(const qlm_tokenizer *t, const float *scores, const char *path)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    size_t n = qlm_tok_n_vocab(t);
    fputs("{\"added_tokens\": [{\"id\": 0, \"content\": \"<unk>\", \"special\": true},"
          " {\"id\": 1, \"content\": \"<s>\", \"special\": true}, {\"id\": 2, \"content\": \"</s>\", \"special\": true}],\n"
          "\"normalizer\": {\"type\": \"Sequence\", \"normalizers\": [{\"type\": \"Prepend\", \"prepend\": \"\xE2\x96\x81\"},"
          " {\"type\": \"Replace\", \"pattern\": {\"String\": \" \"}, \"content\": \"\xE2\x96\x81\"}]},\n"
          "\"pre_tokenizer\": null,\n"
          "\"model\": {\"type\": \"BPE\", \"unk_token\": \"<unk>\", \"byte_fallback\": true, \"vocab\": {", f);
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const char *s = qlm_tok_text(t, (int32_t)i, &len);
        fputs(i ? ", " : "", f);
        json_write_string(f, s, len);
        fprintf(f, ": %zu", i);
    }
    fputs("}, \"merges\": [", f);
    int32_t *order = malloc(n * sizeof *order);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (is_plain_piece(t, (int32_t)i))
            order[m++] = (int32_t)i;
    g_scores = scores;
    qsort(order, m, sizeof *order, by_score);
    bool first = true;
    for (size_t k = 0; k < m; k++) {
        size_t len;
        const char *s = qlm_tok_text(t, order[k], &len);
        for (size_t cut = 1; cut < len; cut++) {
            if (((unsigned char)s[cut] & 0xC0) == 0x80)
                continue; /* inside a character */
            if (!is_plain_piece(t, qlm_tok_find(t, s, cut)) || !is_plain_piece(t, qlm_tok_find(t, s + cut, len - cut)))
                continue;
            fputs(first ? "" : ", ", f);
            first = false;
            char buf[512];
            assert_true(len + 1 < sizeof buf);
            memcpy(buf, s, cut);
            buf[cut] = ' ';
            memcpy(buf + cut + 1, s + cut, len - cut);
            json_write_string(f, buf, len + 1);
        }
    }
    fputs("]}}\n", f);
    free(order);
    fclose(f);
}

static void test_hf_json_spm(void **state)
{
    (void)state;
    const char *bin = tu_shared("models/tokenizers/llama-spm/tokenizer.bin");
    qlm_tokenizer *ref = tg_load_tok("models/tokenizers/llama-spm/tokenizer.bin");
    size_t n;
    float *scores = read_l2c_scores(bin, &n);
    assert_int_equal(n, qlm_tok_n_vocab(ref));
    const char *path = tu_tmp("llama-tokenizer.json");
    write_hf_json(ref, scores, path);
    free(scores);
    qlm_tokenizer *t;
    assert_ok(qlm_tok_load_path(path, &t));
    assert_int_equal(qlm_tok_n_vocab(t), 32000);
    assert_int_equal(tg_corpus(t, "llama_spm", false), 0);
    assert_int_equal(tg_ggml_vocab(t, "llama-spm"), 0);
    /* model.unk_token survives into the .qlm; scores of never-merged pieces are -inf */
    const char *qp = tu_tmp("hfspm.qlm");
    qlm_writer *w;
    assert_ok(qlm_writer_open(qp, &w));
    assert_ok(qlm_tok_write_meta(t, w));
    assert_ok(qlm_writer_finish(w));
    qlm_file *f;
    assert_ok(qlm_file_open(qp, &f));
    int64_t unk;
    assert_ok(qlm_meta_i64(f, QLM_K_TOK_UNK, &unk));
    assert_int_equal(unk, 0);
    qlm_file_close(f);
    qlm_tok_free(t);
    qlm_tok_free(ref);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llama_bin_corpus),
        cmocka_unit_test(test_llama_gguf_corpus),
        cmocka_unit_test(test_ggml_vocab_spm),
        cmocka_unit_test(test_stories260k),
        cmocka_unit_test(test_llama_sources_agree),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_hf_json_spm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
