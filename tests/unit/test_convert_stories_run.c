/* End to end: stories260K converted from llama2.c's checkpoint and from the
 * f32 GGUF generates, greedily from BOS, exactly the text llama2.c's run.c
 * printed (shared/models/stories260K/reference-runc-greedy-256.txt). A wrong
 * Q/K row order or a misplaced tensor changes the text within a few tokens. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/convert/convert.h"
#include "runtime/model/model.h"
#include "runtime/tokenizer/tokenizer.h"
#include "tests/common/testutil.h"

static int32_t argmax(const float *x, int64_t n)
{
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return (int32_t)best;
}

/* run.c's loop: the prompt (BOS + `prompt` encoded) from position 0, then
 * feed back the argmax until `steps` positions are evaluated or BOS comes;
 * returns the prompt and the generated tokens decoded (caller frees). */
static char *greedy(const char *qlm_path, const char *prompt, int64_t steps)
{
    qlm_model *m;
    assert_ok(qlm_model_open(qlm_path, &m));
    qlm_tokenizer *t;
    assert_ok(qlm_tok_load_qlm(qlm_model_file(m), &t));
    qlm_ctx_params cp = {.n_ctx = steps, .n_threads = 1};
    qlm_ctx *c;
    assert_ok(qlm_ctx_new(m, &cp, &c));
    int64_t nv = qlm_model_hparams(m)->n_vocab;
    float *logits = malloc((size_t)nv * sizeof *logits);
    size_t cap = 64 * (size_t)steps + 64, len = 0;
    char *text = malloc(cap);
    qlm_detok_stream ds;
    qlm_detok_init(&ds);
    int32_t *ids, tok;
    size_t n_ids;
    qlm_tok_encode_opts eo = {true, false};
    assert_ok(qlm_tok_encode(t, prompt, strlen(prompt), &eo, &ids, &n_ids));
    for (size_t i = 1; i < n_ids; i++) /* the prompt's text, BOS left out */
        len += qlm_detok_push(t, &ds, ids[i], text + len, cap - len);
    assert_ok(qlm_ctx_eval(c, ids, (int64_t)n_ids, logits, false));
    free(ids);
    for (int64_t pos = (int64_t)n_ids;; pos++) { /* pos: positions evaluated so far */
        tok = argmax(logits, nv);
        if (tok == qlm_tok_bos(t))
            break;
        len += qlm_detok_push(t, &ds, tok, text + len, cap - len);
        if (pos == steps)
            break;
        assert_ok(qlm_ctx_eval(c, &tok, 1, logits, false));
    }
    len += qlm_detok_flush(&ds, text + len, cap - len);
    text[len] = 0;
    free(logits);
    qlm_ctx_free(c);
    qlm_tok_free(t);
    qlm_model_close(m);
    return text;
}

static void convert_f32(const char *src, const char *tok, const char *out)
{
    qlm_convert_opts o = {0};
    o.src = src;
    o.tokenizer = tok;
    o.out = out;
    o.type = QLM_DT_F32;
    o.quiet = true;
    o.threads = 1; /* small tensors: threads only add start-up cost on a busy machine */
    assert_ok(qlm_convert(&o));
}

static void test_greedy_matches_runc(void **state)
{
    (void)state;
    size_t ref_len;
    char *ref = tu_read(tu_shared("models/stories260K/reference-runc-greedy-256.txt"), &ref_len);
    while (ref_len && ref[ref_len - 1] == '\n')
        ref[--ref_len] = 0;

    convert_f32(tu_shared("models/stories260K/stories260K.bin"), tu_shared("models/stories260K/tok512.bin"),
                tu_tmp("bin.qlm"));
    char *got = greedy(tu_tmp("bin.qlm"), "", 256);
    if (strcmp(got, ref))
        fail_msg("llama2.c checkpoint: greedy text differs from run.c:\n%s\n---\n%s", got, ref);
    free(got);

    /* The GGUF says context_length 128: the first 128 generated tokens. */
    convert_f32(tu_shared("models/stories260K/stories260K-f32.gguf"), NULL, tu_tmp("gguf.qlm"));
    got = greedy(tu_tmp("gguf.qlm"), "", 128);
    size_t n = strlen(got);
    if (n < 300 || strncmp(got, ref, n))
        fail_msg("f32 GGUF: greedy text (%zu bytes) is not a prefix of run.c's (%zu): %s", n, ref_len, got);
    free(got);
    free(ref);
}

/* The text of section "== name" of llama-simple-greedy-60.txt, without the
 * "<s> " llama.cpp prints for BOS; NULL if absent. */
static char *llamacpp_section(char *all, const char *name)
{
    char head[32];
    snprintf(head, sizeof head, "== %s\n<s> ", name);
    char *p = strstr(all, head);
    if (!p)
        return NULL;
    p += strlen(head);
    char *end = strstr(p, "\n\n== ");
    if (end)
        *end = 0;
    size_t n = strlen(p);
    while (n && p[n - 1] == '\n')
        p[--n] = 0;
    return p;
}

/* Each GGUF converted to its own type continues "Once upon a time" with the
 * 60 tokens llama.cpp's llama-simple chose greedily from that GGUF. */
static void test_greedy_matches_llamacpp(void **state)
{
    (void)state;
    static const struct { const char *gguf; qlm_dtype type; } k[] = {
        {"f32", QLM_DT_F32}, {"f16", QLM_DT_F16}, {"bf16", QLM_DT_BF16}, {"q8_0", QLM_DT_Q8}, {"q4_0", QLM_DT_Q4}};
    char *all = tu_read(tu_shared("models/stories260K/reference-llamacpp/llama-simple-greedy-60.txt"), NULL);
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        char *copy = strdup(all), rel[96];
        char *ref = llamacpp_section(copy, k[i].gguf);
        if (!ref)
            fail_msg("no '== %s' section in llama-simple-greedy-60.txt", k[i].gguf);
        snprintf(rel, sizeof rel, "models/stories260K/stories260K-%s.gguf", k[i].gguf);
        qlm_convert_opts o = {0};
        o.src = tu_shared(rel);
        o.out = tu_tmp("own.qlm");
        o.type = k[i].type;
        o.quiet = true;
        o.threads = 1; /* small tensors: threads only add start-up cost on a busy machine */
        assert_ok(qlm_convert(&o));
        char *got = greedy(tu_tmp("own.qlm"), "Once upon a time", 5 + 59); /* BOS + 4 prompt tokens */
        if (strcmp(got, ref))
            fail_msg("%s: qlm continues\n%s\n--- llama.cpp:\n%s", k[i].gguf, got, ref);
        free(got);
        free(copy);
    }
    free(all);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy_matches_runc),
        cmocka_unit_test(test_greedy_matches_llamacpp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
