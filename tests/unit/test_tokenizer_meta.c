/* Tokenizer import details and the .qlm round trip: special ids, EOG sets and
 * chat templates as the Hugging Face side files give them, added-token
 * policy, streaming UTF-8, invalid input and corrupt files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/qlm/keys.h"
#include "tests/common/testutil.h"
#include "tests/common/tok_golden.h"

static const char *const k_smollm2 = "models/tokenizers/smollm2-135m-instruct/tokenizer.json";
static const char *const k_qwen3 = "models/tokenizers/qwen3-0.6b";
static const char *const k_llama = "models/tokenizers/llama-spm/tokenizer.bin";

static int32_t find(const qlm_tokenizer *t, const char *s)
{
    int32_t id = qlm_tok_find(t, s, strlen(s));
    assert_true(id >= 0);
    return id;
}

static int64_t json_file_i64(const char *rel, const char *key)
{
    json_doc *d = tg_load_json(rel);
    int64_t v = json_get_i64(json_root(d), key, -1);
    json_free(d);
    return v;
}

static void test_smollm2_specials(void **state)
{
    (void)state;
    qlm_tokenizer *t = tg_load_tok(k_smollm2);
    /* no tokenizer_config.json in the folder: ids from config.json */
    const char *cfg = "models/tokenizers/smollm2-135m-instruct/config.json";
    assert_int_equal(qlm_tok_bos(t), json_file_i64(cfg, "bos_token_id"));
    assert_int_equal(qlm_tok_eos(t), json_file_i64(cfg, "eos_token_id"));
    assert_false(qlm_tok_add_bos(t));
    assert_true(qlm_tok_is_eog(t, qlm_tok_eos(t)));
    assert_true(qlm_tok_is_eog(t, find(t, "<|im_end|>")));
    assert_false(qlm_tok_is_eog(t, find(t, "<|im_start|>")));
    size_t len;
    char *tmpl = tu_read(tu_shared("models/tokenizers/smollm2-135m-instruct/chat_template.jinja"), &len);
    assert_non_null(qlm_tok_chat_template(t));
    assert_string_equal(qlm_tok_chat_template(t), tmpl);
    free(tmpl);
    qlm_tok_free(t);
}

static void test_qwen3_specials(void **state)
{
    (void)state;
    qlm_tokenizer *t = tg_load_tok(k_qwen3);
    json_doc *tc = tg_load_json("models/tokenizers/qwen3-0.6b/tokenizer_config.json");
    json_doc *gc = tg_load_json("models/tokenizers/qwen3-0.6b/generation_config.json");
    /* tokenizer_config: bos_token null, eos_token "<|im_end|>" */
    assert_int_equal(json_get(json_root(tc), "bos_token")->type, JSON_NULL);
    assert_int_equal(qlm_tok_bos(t), -1);
    assert_int_equal(qlm_tok_eos(t), find(t, json_get_str(json_root(tc), "eos_token")));
    assert_false(qlm_tok_add_bos(t));
    const json_value *eos = json_get(json_root(gc), "eos_token_id");
    assert_true(eos->type == JSON_ARRAY && eos->n >= 2);
    for (size_t i = 0; i < eos->n; i++)
        assert_true(qlm_tok_is_eog(t, (int32_t)json_at(eos, i)->i));
    assert_false(qlm_tok_is_eog(t, find(t, "<|im_start|>")));
    assert_string_equal(qlm_tok_chat_template(t), json_get_str(json_root(tc), "chat_template"));
    json_free(tc);
    json_free(gc);
    qlm_tok_free(t);
}

static void encode(const qlm_tokenizer *t, const char *s, bool special, int32_t **ids, size_t *n)
{
    qlm_tok_encode_opts o = {false, special};
    assert_ok(qlm_tok_encode(t, s, strlen(s), &o, ids, n));
}

static bool contains(const int32_t *ids, size_t n, int32_t id)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id)
            return true;
    return false;
}

/* Special tokens only with parse_special; non-special added tokens always
 * (Hugging Face: Qwen3's "<think>" is added with special=false). */
static void test_added_token_policy(void **state)
{
    (void)state;
    qlm_tokenizer *t = tg_load_tok(k_qwen3);
    int32_t *ids, end = find(t, "<|im_end|>"), think = find(t, "<think>");
    size_t n;
    encode(t, "hi<|im_end|> <think>x", false, &ids, &n);
    assert_false(contains(ids, n, end));
    assert_true(contains(ids, n, think));
    free(ids);
    encode(t, "hi<|im_end|> <think>x", true, &ids, &n);
    assert_true(contains(ids, n, end));
    assert_true(contains(ids, n, think));
    free(ids);
    qlm_tok_free(t);
    /* SentencePiece: "<s>" is control; BOS only through opts or parse_special */
    t = tg_load_tok(k_llama);
    encode(t, "<s>a", false, &ids, &n);
    assert_false(contains(ids, n, qlm_tok_bos(t)));
    free(ids);
    encode(t, "<s>a", true, &ids, &n);
    assert_int_equal(ids[0], qlm_tok_bos(t));
    free(ids);
    /* decode keeps the text of special tokens, and the dummy-prefix space is
     * dropped only at the very start (Hugging Face: "<s> Hello", "Hello") */
    qlm_tok_encode_opts o = {true, false};
    char *text;
    size_t len;
    assert_ok(qlm_tok_encode(t, "Hello", 5, &o, &ids, &n));
    assert_ok(qlm_tok_decode(t, ids, n, &text, &len));
    assert_string_equal(text, "<s> Hello");
    free(text);
    assert_ok(qlm_tok_decode(t, ids + 1, n - 1, &text, &len));
    assert_string_equal(text, "Hello");
    free(text);
    free(ids);
    assert_ok(qlm_tok_encode(t, "", 0, &o, &ids, &n));
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], qlm_tok_bos(t));
    free(ids);
    qlm_tok_free(t);
}

/* Write the tokenizer into a .qlm, read it back both ways, and run the
 * golden corpus again on the copy. */
static void round_trip(const char *rel, const char *key, bool special)
{
    qlm_tokenizer *t = tg_load_tok(rel);
    const char *path = tu_tmp("tok.qlm");
    qlm_writer *w;
    assert_ok(qlm_writer_open(path, &w));
    assert_ok(qlm_writer_set_str(w, QLM_K_ARCH, "llama", 5));
    assert_ok(qlm_tok_write_meta(t, w));
    assert_ok(qlm_writer_finish(w));
    qlm_tokenizer *r;
    assert_ok(qlm_tok_load_path(path, &r));
    assert_int_equal(qlm_tok_n_vocab(r), qlm_tok_n_vocab(t));
    for (int32_t i = 0; i < (int32_t)qlm_tok_n_vocab(t); i++) {
        size_t la, lb;
        const char *a = qlm_tok_text(t, i, &la), *b = qlm_tok_text(r, i, &lb);
        assert_int_equal(la, lb);
        assert_memory_equal(a, b, la);
        a = qlm_tok_piece(t, i, &la);
        b = qlm_tok_piece(r, i, &lb);
        assert_int_equal(la, lb);
        assert_memory_equal(a, b, la);
        assert_int_equal(qlm_tok_is_eog(t, i), qlm_tok_is_eog(r, i));
    }
    assert_int_equal(qlm_tok_bos(t), qlm_tok_bos(r));
    assert_int_equal(qlm_tok_eos(t), qlm_tok_eos(r));
    assert_int_equal(qlm_tok_add_bos(t), qlm_tok_add_bos(r));
    if (qlm_tok_chat_template(t))
        assert_string_equal(qlm_tok_chat_template(t), qlm_tok_chat_template(r));
    else
        assert_null(qlm_tok_chat_template(r));
    assert_int_equal(tg_corpus(r, key, special), 0);
    qlm_file *f;
    assert_ok(qlm_file_open(path, &f));
    qlm_tokenizer *r2;
    assert_ok(qlm_tok_load_qlm(f, &r2));
    assert_int_equal(qlm_tok_n_vocab(r2), qlm_tok_n_vocab(t));
    qlm_tok_free(r2);
    qlm_file_close(f);
    qlm_tok_free(r);
    qlm_tok_free(t);
}

static void test_qlm_round_trip_llama(void **state) { (void)state; round_trip(k_llama, "llama_spm", false); }
static void test_qlm_round_trip_smollm2(void **state) { (void)state; round_trip(k_smollm2, "smollm2", true); }
static void test_qlm_round_trip_qwen3(void **state) { (void)state; round_trip(k_qwen3, "qwen3", true); }

static void test_qlm_without_tokenizer(void **state)
{
    (void)state;
    const char *path = tu_tmp("notok.qlm");
    qlm_writer *w;
    assert_ok(qlm_writer_open(path, &w));
    assert_ok(qlm_writer_set_str(w, QLM_K_ARCH, "llama", 5));
    assert_ok(qlm_writer_finish(w));
    qlm_tokenizer *t;
    assert_status(qlm_tok_load_path(path, &t), QLM_E_MISSING);
    assert_null(t);
}

/* Streaming: byte tokens of one character arrive separately and the
 * character comes out once complete; ill-formed sequences become U+FFFD the
 * way Python's errors="replace" does (one per maximal ill-formed part). */
static void test_stream_utf8(void **state)
{
    (void)state;
    qlm_tokenizer *t = tg_load_tok(k_llama);
    int32_t e2 = find(t, "<0xE2>"), x82 = find(t, "<0x82>"), xac = find(t, "<0xAC>"), ff = find(t, "<0xFF>");
    int32_t a = find(t, "a");
    char out[256];
    qlm_detok_stream s;
    qlm_detok_init(&s);
    assert_int_equal(qlm_detok_push(t, &s, e2, out, sizeof out), 0);
    assert_int_equal(qlm_detok_push(t, &s, x82, out, sizeof out), 0);
    assert_int_equal(qlm_detok_push(t, &s, xac, out, sizeof out), 3);
    assert_memory_equal(out, "\xE2\x82\xAC", 3);
    /* E2 82 then 'a': one U+FFFD for the two bytes, then 'a' */
    qlm_detok_push(t, &s, e2, out, sizeof out);
    qlm_detok_push(t, &s, x82, out, sizeof out);
    assert_int_equal(qlm_detok_push(t, &s, a, out, sizeof out), 4);
    assert_memory_equal(out, "\xEF\xBF\xBD" "a", 4);
    assert_int_equal(qlm_detok_push(t, &s, ff, out, sizeof out), 3);
    assert_memory_equal(out, "\xEF\xBF\xBD", 3);
    qlm_detok_push(t, &s, e2, out, sizeof out);
    assert_int_equal(qlm_detok_flush(&s, out, sizeof out), 3);
    assert_memory_equal(out, "\xEF\xBF\xBD", 3);
    assert_int_equal(qlm_detok_push(t, &s, -1, out, sizeof out), 0);
    const int32_t seq[] = {e2, x82, a, ff, e2};
    char *d;
    size_t len;
    assert_ok(qlm_tok_decode(t, seq, 5, &d, &len));
    assert_string_equal(d, "\xEF\xBF\xBD" "a" "\xEF\xBF\xBD" "\xEF\xBF\xBD");
    free(d);
    const int32_t bad[] = {a, 32000};
    assert_status(qlm_tok_decode(t, bad, 2, &d, &len), QLM_E_VALUE);
    qlm_tok_free(t);
}

/* Invalid UTF-8 input: SentencePiece spells the byte with <0xNN>; byte-level
 * BPE sees U+FFFD, as Python would hand the text to Hugging Face. */
static void test_invalid_utf8_input(void **state)
{
    (void)state;
    qlm_tokenizer *t = tg_load_tok(k_llama);
    int32_t *ids;
    size_t n;
    encode(t, "a\xFF", false, &ids, &n);
    assert_true(n >= 1);
    assert_int_equal(ids[n - 1], find(t, "<0xFF>"));
    free(ids);
    qlm_tok_free(t);
    t = tg_load_tok(k_smollm2);
    int32_t *ref;
    size_t nref;
    encode(t, "a\xFF" "b\xE2\x82", false, &ids, &n);
    encode(t, "a\xEF\xBF\xBD" "b\xEF\xBF\xBD", false, &ref, &nref);
    assert_int_equal(n, nref);
    assert_memory_equal(ids, ref, n * sizeof *ids);
    free(ids);
    free(ref);
    qlm_tok_free(t);
}

static void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

static void expect_load(const char *name, const void *p, size_t n, qlm_status want)
{
    const char *path = tu_tmp(name);
    write_bytes(path, p, n);
    qlm_tokenizer *t = NULL;
    assert_status(qlm_tok_load_path(path, &t), want);
    assert_null(t);
}

static void test_corrupt_files(void **state)
{
    (void)state;
    size_t len;
    char *bin = tu_read(tu_shared("models/stories260K/tok512.bin"), &len);
    expect_load("trunc.bin", bin, len - 3, QLM_E_TRUNCATED);
    expect_load("short.bin", bin, 2, QLM_E_TRUNCATED);
    char *bad = malloc(len);
    memcpy(bad, bin, len);
    memset(bad + 8, 0x7f, 4); /* first token's length: huge */
    expect_load("len.bin", bad, len, QLM_E_VALUE);
    memset(bad, 0, 4); /* max_token_length 0 */
    expect_load("max.bin", bad, len, QLM_E_VALUE);
    free(bad);
    free(bin);
    const char *j1 = "{\"model\": {\"type\": \"Unigram\", \"vocab\": []}}";
    expect_load("uni.json", j1, strlen(j1), QLM_E_UNSUPPORTED);
    const char *j2 = "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []";
    expect_load("cut.json", j2, strlen(j2), QLM_E_JSON);
    const char *j3 = "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 2}, \"merges\": []},"
                     " \"pre_tokenizer\": {\"type\": \"ByteLevel\"}}";
    expect_load("hole.json", j3, strlen(j3), QLM_E_TOKENIZER);
    const char *j4 = "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []},"
                     " \"pre_tokenizer\": {\"type\": \"Whitespace\"}}";
    expect_load("pre.json", j4, strlen(j4), QLM_E_UNSUPPORTED);
    qlm_tokenizer *t = NULL;
    assert_status(qlm_tok_load_path(tu_tmp("does-not-exist"), &t), QLM_E_IO);
    /* a GGUF cut in its tokenizer arrays */
    char *gg = tu_read(tu_shared("models/ggml-vocab/ggml-vocab-llama-spm.gguf"), &len);
    expect_load("cut.gguf", gg, len / 2, QLM_E_TRUNCATED);
    free(gg);
}

static void run_expect(const char *args, int want_rc, const char *want_out)
{
    char cmd[8192], *out;
    snprintf(cmd, sizeof cmd, "%s %s", tu_qlm_bin(), args);
    int rc = tu_run(cmd, &out);
    if (rc != want_rc || (want_out && strcmp(out, want_out) != 0))
        fail_msg("%s -> rc %d, output \"%s\" (want rc %d, \"%s\")", cmd, rc, out, want_rc,
                 want_out ? want_out : "*");
    free(out);
}

/* The CLI on the stories260K reference ("Once upon a time" with BOS). */
static void test_cli(void **state)
{
    (void)state;
    char args[4096];
    const char *tok = tu_shared("models/stories260K/tok512.bin");
    snprintf(args, sizeof args, "tokenize -m %s 'Once upon a time'", tok);
    run_expect(args, 0, "1 403 407 261 378\n");
    snprintf(args, sizeof args, "tokenize -m %s --json --no-bos 'Once upon a time'", tok);
    run_expect(args, 0, "[403, 407, 261, 378]\n");
    snprintf(args, sizeof args, "detokenize -m %s 403 '407,261' '[378]'", tok);
    run_expect(args, 0, "Once upon a time");
    snprintf(args, sizeof args, "detokenize -m %s 1 512", tok);
    run_expect(args, 1, NULL);
    snprintf(args, sizeof args, "tokenize -m %s --frobnicate x", tok);
    run_expect(args, 2, NULL);
    snprintf(args, sizeof args, "tokenize -m %s", tok);
    run_expect(args, 2, NULL);
    run_expect("tokenize -m /nonexistent/tok.bin x", 1, NULL);
    snprintf(args, sizeof args, "tokenize --help");
    run_expect(args, 0, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_smollm2_specials),
        cmocka_unit_test(test_qwen3_specials),
        cmocka_unit_test(test_added_token_policy),
        cmocka_unit_test(test_qlm_round_trip_llama),
        cmocka_unit_test(test_qlm_round_trip_smollm2),
        cmocka_unit_test(test_qlm_round_trip_qwen3),
        cmocka_unit_test(test_qlm_without_tokenizer),
        cmocka_unit_test(test_stream_utf8),
        cmocka_unit_test(test_invalid_utf8_input),
        cmocka_unit_test(test_corrupt_files),
        cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
