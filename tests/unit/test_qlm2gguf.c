/* tools/qlm2gguf: .qlm -> GGUF -> `qlm convert` -> .qlm must give back the
 * same model: every tensor byte-identical and the logits of a prompt
 * bit-identical, for tiny synthetic llama (Q/K permuted), qwen2 (biases,
 * padded vocabulary) and qwen3 (q/k norms, head_dim != dim/heads) models in
 * q4 and q8. The GGUF itself is checked against the .qlm independently of
 * qlm's reader where it matters to llama.cpp: Q8_0/Q4_0 type ids, reversed
 * dims, one token per embedding row. Plus the refusals. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "formats/convert/srcutil.h"
#include "formats/gguf/gguf.h"
#include "formats/qlm/qlmfile.h"
#include "runtime/model/model.h"
#include "tests/common/testutil.h"

static const char *tool(void)
{
    const char *p = getenv("QLM2GGUF_BIN");
    if (!p || access(p, X_OK))
        fail_msg("QLM2GGUF_BIN (the built build/qlm2gguf) is not set or not executable");
    return p;
}

static int q2g(char **out, const char *in, const char *gguf)
{
    char cmd[3000];
    snprintf(cmd, sizeof cmd, "'%s' '%s' '%s'", tool(), in, gguf);
    return tu_run(cmd, out);
}

/* qlm synth of a tiny config (`extra` appended to its JSON), converted to
 * `type`; returns the .qlm path (static buffer). */
static const char *tiny_qlm(const char *name, const char *model_type, int vocab, const char *extra, const char *tok,
                            const char *type)
{
    static char out[1200];
    char cfg[1200], text[2048], *log = NULL;
    const char *dir = tu_tmp(name);
    snprintf(cfg, sizeof cfg, "%s-config.json", dir);
    snprintf(text, sizeof text,
             "{\"model_type\": \"%s\", \"vocab_size\": %d, \"hidden_size\": 64, \"intermediate_size\": 96,"
             " \"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"num_key_value_heads\": 2,"
             " \"max_position_embeddings\": 256, \"rms_norm_eps\": 1e-05, \"tie_word_embeddings\": %s}",
             model_type, vocab, extra);
    tu_write(cfg, text);
    snprintf(out, sizeof out, "%s-%s.qlm", dir, type);
    int rc = tu_qlm(&log, "synth --config '%s' --tokenizer '%s' --seed 7 -o '%s' --threads 1 && '%s' convert '%s' "
                          "-o '%s' --type %s --quiet --threads 1",
                    cfg, tok, dir, tu_qlm_bin(), dir, out, type);
    if (rc)
        fail_msg("synth/convert %s: %s", name, log);
    free(log);
    return out;
}

/* Every tensor of a in b, same dtype, dims and bytes, and nothing more. */
static void assert_same_tensors(const qlm_file *a, const qlm_file *b)
{
    assert_int_equal(qlm_file_n_tensors(a), qlm_file_n_tensors(b));
    for (size_t i = 0; i < qlm_file_n_tensors(a); i++) {
        const qlm_tensor *ta = qlm_file_tensor(a, i), *tb = qlm_file_find(b, ta->name);
        if (!tb)
            fail_msg("%s is missing after the round trip", ta->name);
        if (ta->dtype != tb->dtype || ta->rank != tb->rank || memcmp(ta->dims, tb->dims, sizeof ta->dims) ||
            ta->nbytes != tb->nbytes || memcmp(ta->data, tb->data, ta->nbytes))
            fail_msg("%s differs after the round trip", ta->name);
    }
}

/* What llama.cpp reads: its type ids, GGUF dim order, the bytes (Q/K rows of
 * llama in interleaved order), one token per row. */
static void check_gguf(const qlm_file *q, const char *path, bool llama)
{
    gguf_file *g;
    assert_ok(gguf_open(path, &g));
    assert_int_equal(gguf_n_tensors(g), qlm_file_n_tensors(q));
    for (size_t i = 0; i < qlm_file_n_tensors(q); i++) {
        const qlm_tensor *t = qlm_file_tensor(q, i);
        const gguf_tensor *x = gguf_find_tensor(g, t->name);
        assert_non_null(x);
        uint32_t want = t->dtype == QLM_DT_Q4 ? 2 : t->dtype == QLM_DT_Q8 ? 8 : t->dtype == QLM_DT_F32 ? 0 : 99;
        assert_int_equal(x->ggml_type, want);
        assert_int_equal(x->rank, t->rank);
        assert_memory_equal(x->dims, t->dims, t->rank * sizeof *t->dims);
        assert_int_equal(x->nbytes, t->nbytes);
        bool q_or_k = strstr(t->name, "attn_q.weight") || strstr(t->name, "attn_k.weight");
        if (llama && q_or_k) {
            uint8_t *p = malloc(t->nbytes);
            uint64_t heads = strstr(t->name, "attn_q") ? 4 : 2;
            assert_ok(qlm_qk_permute(t->data, p, t->dims[0], heads, t->nbytes / t->dims[0]));
            assert_memory_equal(x->data, p, t->nbytes);
            assert_true(memcmp(x->data, t->data, t->nbytes) != 0); /* the permutation did move rows */
            free(p);
        } else {
            assert_memory_equal(x->data, t->data, t->nbytes);
        }
    }
    gguf_vtype elem;
    uint64_t n_tok;
    assert_ok(gguf_get_arr_info(g, "tokenizer.ggml.tokens", &elem, &n_tok));
    assert_int_equal(n_tok, qlm_file_find(q, "token_embd.weight")->dims[0]);
    gguf_close(g);
}

/* Logits of every position of a fixed prompt. */
static float *logits_of(const char *path, int64_t *n_vocab)
{
    static const int32_t prompt[] = {1, 500, 17, 4242, 9, 31000, 2, 77};
    enum { N = sizeof prompt / sizeof prompt[0] };
    qlm_model *m;
    qlm_ctx *c;
    assert_ok(qlm_model_open(path, &m));
    *n_vocab = qlm_model_hparams(m)->n_vocab;
    qlm_ctx_params cp = {.n_ctx = 64, .n_threads = 1};
    assert_ok(qlm_ctx_new(m, &cp, &c));
    float *out = malloc(N * (size_t)*n_vocab * sizeof *out);
    assert_ok(qlm_ctx_eval(c, prompt, N, out, true));
    qlm_ctx_free(c);
    qlm_model_close(m);
    return out;
}

static void round_trip(const char *qlm, const char *type, bool llama)
{
    char gguf[1300], back[1300], *log = NULL;
    snprintf(gguf, sizeof gguf, "%s.gguf", qlm);
    snprintf(back, sizeof back, "%s.back.qlm", qlm);
    if (q2g(&log, qlm, gguf))
        fail_msg("qlm2gguf %s: %s", qlm, log);
    free(log);
    if (tu_qlm(&log, "convert '%s' -o '%s' --type %s --quiet --threads 1", gguf, back, type))
        fail_msg("convert %s: %s", gguf, log);
    free(log);
    qlm_file *a, *b;
    assert_ok(qlm_file_open(qlm, &a));
    assert_ok(qlm_file_open(back, &b));
    check_gguf(a, gguf, llama);
    assert_same_tensors(a, b);
    qlm_file_close(a);
    qlm_file_close(b);
    int64_t va, vb;
    float *la = logits_of(qlm, &va), *lb = logits_of(back, &vb);
    assert_int_equal(va, vb);
    assert_memory_equal(la, lb, 8 * (size_t)va * sizeof *la);
    free(la);
    free(lb);
    remove(gguf);
    remove(back);
}

static const char *smollm2_tok(void) { return tu_shared("models/tokenizers/smollm2-135m-instruct"); }
static const char *qwen_tok(void) { return tu_shared("models/tokenizers/qwen3-0.6b"); }

static void test_llama_q4(void **state)
{
    (void)state;
    round_trip(tiny_qlm("llama", "llama", 49152, "true", smollm2_tok(), "q4"), "q4", true);
}

/* Untied output, linear RoPE scaling, q8. */
static void test_llama_q8_untied(void **state)
{
    (void)state;
    const char *extra = "false, \"rope_scaling\": {\"rope_type\": \"linear\", \"factor\": 2.0}";
    round_trip(tiny_qlm("llama-untied", "llama", 49152, extra, smollm2_tok(), "q8"), "q8", true);
}

/* Qwen's embedding has more rows than tokens: the GGUF vocabulary is padded. */
static void test_qwen2_q8(void **state)
{
    (void)state;
    const char *extra = "true, \"rope_theta\": 1000000.0, \"use_sliding_window\": false";
    round_trip(tiny_qlm("qwen2", "qwen2", 151680, extra, qwen_tok(), "q8"), "q8", false);
}

static void test_qwen3_q4(void **state)
{
    (void)state;
    const char *extra = "true, \"head_dim\": 32, \"rope_theta\": 1000000.0";
    round_trip(tiny_qlm("qwen3", "qwen3", 151680, extra, qwen_tok(), "q4"), "q4", false);
}

/* Exit 1 and one "qlm2gguf: ..." line naming the problem, no output left. */
static void expect_refusal(const char *in, const char *want)
{
    char gguf[1300], *log = NULL;
    snprintf(gguf, sizeof gguf, "%s.refused.gguf", in);
    int rc = q2g(&log, in, gguf);
    if (rc != 1 || strncmp(log, "qlm2gguf: ", 10) || !strstr(log, want) || strchr(log, '\n') != log + strlen(log) - 1)
        fail_msg("want exit 1 and one line with \"%s\", got %d: %s", want, rc, log);
    free(log);
    assert_int_equal(access(gguf, F_OK), -1);
    char tmp[1310];
    snprintf(tmp, sizeof tmp, "%s.tmp", gguf);
    assert_int_equal(access(tmp, F_OK), -1);
}

static void test_bad_input(void **state)
{
    (void)state;
    /* not a .qlm file (a GGUF), a missing file, a GPU block dtype, llama3 RoPE */
    expect_refusal(tu_shared("models/stories260K/stories260K-q8_0.gguf"), "stories260K-q8_0.gguf");
    expect_refusal(tu_tmp("no-such.qlm"), "no-such.qlm");
    expect_refusal(tiny_qlm("llama-fp8", "llama", 49152, "true", smollm2_tok(), "fp8"), "fp8");
    const char *llama3 = "true, \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": "
                         "1.0, \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 128}";
    expect_refusal(tiny_qlm("llama3", "llama", 49152, llama3, smollm2_tok(), "q8"), "llama3 RoPE");
    /* usage errors: exit 2 */
    char cmd[1200], *log = NULL;
    snprintf(cmd, sizeof cmd, "'%s' only-one-arg", tool());
    assert_int_equal(tu_run(cmd, &log), 2);
    free(log);
    snprintf(cmd, sizeof cmd, "'%s' --help", tool());
    assert_int_equal(tu_run(cmd, &log), 0);
    assert_non_null(strstr(log, "usage: qlm2gguf IN.qlm OUT.gguf"));
    free(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llama_q4), cmocka_unit_test(test_llama_q8_untied), cmocka_unit_test(test_qwen2_q8),
        cmocka_unit_test(test_qwen3_q4), cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
