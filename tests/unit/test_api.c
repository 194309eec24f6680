/* libqlm public API (include/qlm.h) on stories260K: misuse is an error, not
 * a crash; contexts sharing a model in threads match one context alone;
 * tokenizer round trips; chat rendering equals the template engine's; saved
 * state restores identical logits; progress callbacks chunk and cancel. */
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/common/testutil.h"
#include "include/qlm.h"
#include "runtime/chat/template.h"
#include "runtime/tokenizer/tokenizer.h"

static const char *g_model;
static qlm_lm *g_lm;
static int64_t g_vocab;

static int setup(void **state)
{
    (void)state;
    static char path[4096];
    snprintf(path, sizeof path, "%s", tu_tmp("stories.qlm"));
    char cmd[8192], *out = NULL;
    snprintf(cmd, sizeof cmd, "'%s' convert '%s' -o '%s' --type f32 --quiet", tu_qlm_bin(),
             tu_shared("models/stories260K/stories260K-f32.gguf"), path);
    int rc = tu_run(cmd, &out);
    if (rc != 0) {
        fprintf(stderr, "convert failed: %s\n", out);
        free(out);
        return -1;
    }
    free(out);
    g_model = path;
    if (qlm_lm_open(g_model, &g_lm) != QLM_OK) {
        fprintf(stderr, "open: %s\n", qlm_last_error());
        return -1;
    }
    qlm_lm_info info = {.size = sizeof info};
    if (qlm_lm_get_info(g_lm, &info) != QLM_OK)
        return -1;
    g_vocab = info.n_vocab;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    qlm_lm_close(g_lm);
    remove(g_model);
    return 0;
}

static int32_t *prompt(size_t *n)
{
    int32_t *ids = NULL;
    const char *text = "Once upon a time, there was a little girl named Lily.";
    assert_ok(qlm_tokenize(g_lm, text, strlen(text), -1, 0, &ids, n));
    assert_true(*n > 8);
    return ids;
}

static void test_misuse(void **state)
{
    (void)state;
    qlm_lm *lm = (qlm_lm *)1;
    assert_status(qlm_lm_open(NULL, &lm), QLM_E_ARG);
    assert_null(lm);
    assert_status(qlm_lm_open(g_model, NULL), QLM_E_ARG);
    assert_int_not_equal(qlm_lm_open(tu_tmp("missing.qlm"), &lm), QLM_OK);
    assert_non_null(strstr(qlm_last_error(), "missing.qlm"));
    assert_null(lm);
    qlm_lm_info info = {.size = sizeof info + 1}; /* from a newer qlm.h */
    assert_status(qlm_lm_get_info(g_lm, &info), QLM_E_ARG);
    assert_status(qlm_lm_get_info(NULL, &info), QLM_E_ARG);

    qlm_session *s = NULL;
    qlm_session_params sp = qlm_session_params_default();
    sp.size = 8;
    assert_status(qlm_session_new(g_lm, &sp, &s), QLM_E_ARG);
    assert_non_null(strstr(qlm_last_error(), "size"));
    sp = qlm_session_params_default();
    sp.n_ctx = -1;
    assert_status(qlm_session_new(g_lm, &sp, &s), QLM_E_ARG);
    assert_status(qlm_session_new(NULL, NULL, &s), QLM_E_ARG);
    assert_null(s);
    int32_t tok = 1;
    float lg[1];
    assert_status(qlm_session_eval(NULL, &tok, 1, lg, 0), QLM_E_ARG);
    assert_int_equal(qlm_session_pos(NULL), -1);
    assert_status(qlm_session_truncate(NULL, 0), QLM_E_ARG);

    sp = qlm_session_params_default();
    sp.n_ctx = 4;
    assert_ok(qlm_session_new(g_lm, &sp, &s));
    int32_t five[5] = {1, 2, 3, 4, 5};
    assert_status(qlm_session_eval(s, five, 5, NULL, 0), QLM_E_LIMIT);
    assert_int_equal(qlm_session_pos(s), 0);
    assert_status(qlm_session_eval(s, five, 0, NULL, 0), QLM_E_ARG);
    assert_status(qlm_session_truncate(s, 1), QLM_E_ARG);
    char junk[64] = "not a state";
    assert_status(qlm_session_state_load(s, junk, sizeof junk), QLM_E_MAGIC);
    assert_status(qlm_session_state_load(s, NULL, 0), QLM_E_ARG);
    qlm_session_free(s);
    qlm_session_free(NULL);

    qlm_token_sampler *ts = NULL;
    qlm_sampling_params p = qlm_sampling_params_default();
    p.size = 0;
    assert_status(qlm_token_sampler_new(g_lm, &p, &ts), QLM_E_ARG);
    p = qlm_sampling_params_default();
    p.top_p = 2.0;
    assert_status(qlm_token_sampler_new(g_lm, &p, &ts), QLM_E_ARG);
    assert_null(ts);
    assert_int_equal(qlm_token_sampler_sample(NULL, lg, NULL, 0), -1);

    int32_t *ids;
    size_t n;
    char *text;
    assert_status(qlm_tokenize(NULL, "a", 1, -1, 0, &ids, &n), QLM_E_ARG);
    assert_status(qlm_detokenize(g_lm, NULL, 3, &text, &n), QLM_E_ARG);
    assert_status(qlm_chat_apply(g_lm, "{{ x", NULL, 0, 1, &text, &n), QLM_E_TEMPLATE);
    assert_null(qlm_detok_next(NULL, 1, NULL));
    assert_status(qlm_set_isa("no-such-isa"), QLM_E_UNSUPPORTED);
    assert_string_equal(qlm_strerror((qlm_status)-3), "QLM_E_UNKNOWN");
    assert_string_equal(qlm_strerror(QLM_E_TEMPLATE), "QLM_E_TEMPLATE");
}

/* What a program built against 0.1 passes: shorter structs. Fields past
 * `size` are neither read nor written. */
static void test_abi_old_sizes(void **state)
{
    (void)state;
    qlm_lm_info info;
    memset(&info, 0xAB, sizeof info);
    info.size = offsetof(qlm_lm_info, has_weights);
    assert_ok(qlm_lm_get_info(g_lm, &info));
    assert_int_equal(info.n_vocab, g_vocab);
    for (size_t i = offsetof(qlm_lm_info, has_weights); i < sizeof info; i++)
        assert_int_equal(((unsigned char *)&info)[i], 0xAB);
    info.size = offsetof(qlm_lm_info, has_weights) - 1;
    assert_status(qlm_lm_get_info(g_lm, &info), QLM_E_ARG);

    qlm_sampling_params p = qlm_sampling_params_default();
    p.size = offsetof(qlm_sampling_params, method);
    p.method = 99; /* past the old size: never read */
    qlm_token_sampler *ts = NULL;
    assert_ok(qlm_token_sampler_new(g_lm, &p, &ts));
    qlm_token_sampler_free(ts);
    p.size = sizeof p;
    assert_status(qlm_token_sampler_new(g_lm, &p, &ts), QLM_E_ARG);
    assert_non_null(strstr(qlm_last_error(), "method"));

    /* 0.2's session params end before kv_type: an f32 cache, kv_type unread. */
    qlm_session_params sp = qlm_session_params_default();
    sp.size = offsetof(qlm_session_params, kv_type);
    sp.n_ctx = 16;
    sp.kv_type = 99;
    qlm_session *s = NULL;
    assert_ok(qlm_session_new(g_lm, &sp, &s));
    info.size = sizeof info;
    assert_ok(qlm_lm_get_info(g_lm, &info));
    assert_int_equal(qlm_session_kv_bytes(s), 2 * info.n_layers * 16 * info.n_kv_heads * info.head_dim * 4);
    qlm_session_free(s);
    sp.size = sizeof sp;
    assert_status(qlm_session_new(g_lm, &sp, &s), QLM_E_ARG);
    assert_non_null(strstr(qlm_last_error(), "kv_type"));
    sp.size = offsetof(qlm_session_params, kv_type) - 1;
    assert_status(qlm_session_new(g_lm, &sp, &s), QLM_E_ARG);
}

static void test_version_info(void **state)
{
    (void)state;
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", QLM_VERSION_MAJOR, QLM_VERSION_MINOR, QLM_VERSION_PATCH);
    assert_string_equal(qlm_version(), want);
    assert_int_equal(qlm_version_number(), QLM_VERSION_NUMBER);
    assert_non_null(qlm_isa());

    /* Independent truth: the tokenizer loaded on its own from the same file. */
    qlm_tokenizer *t;
    assert_ok(qlm_tok_load_path(g_model, &t));
    qlm_lm_info info = {.size = sizeof info};
    assert_ok(qlm_lm_get_info(g_lm, &info));
    assert_string_equal(info.arch, "llama");
    assert_int_equal(info.n_vocab, 512);
    assert_int_equal(info.bos, qlm_tok_bos(t));
    assert_int_equal(info.eos, qlm_tok_eos(t));
    assert_true(info.n_layers > 0 && info.dim == info.n_heads * info.head_dim);
    qlm_tok_free(t);
}

static void test_tokenize_roundtrip(void **state)
{
    (void)state;
    const char *text = "Hello world! Tom's cat sat. \xc3\xa9t\xc3\xa9 \xe2\x9c\x93";
    int32_t *ids;
    size_t n;
    assert_ok(qlm_tokenize(g_lm, text, strlen(text), 0, 0, &ids, &n));
    char *back;
    size_t len;
    assert_ok(qlm_detokenize(g_lm, ids, n, &back, &len));
    assert_string_equal(back, text);
    assert_int_equal(len, strlen(text));

    /* Streaming output concatenates to the whole decode. */
    qlm_detok *d;
    assert_ok(qlm_detok_new(g_lm, &d));
    char *acc = calloc(len + 64, 1);
    size_t k, at = 0;
    for (size_t i = 0; i < n; i++) {
        const char *piece = qlm_detok_next(d, ids[i], &k);
        assert_true(at + k <= len);
        memcpy(acc + at, piece, k);
        at += k;
    }
    const char *tail = qlm_detok_end(d, &k);
    memcpy(acc + at, tail, k);
    at += k;
    assert_int_equal(at, len);
    assert_memory_equal(acc, back, len);
    qlm_detok_free(d);
    free(acc);
    qlm_free(back);

    /* add_bos: 1 prepends exactly the BOS id. */
    int32_t *with;
    size_t nw;
    assert_ok(qlm_tokenize(g_lm, text, strlen(text), 1, 0, &with, &nw));
    qlm_lm_info info = {.size = sizeof info};
    assert_ok(qlm_lm_get_info(g_lm, &info));
    assert_int_equal(nw, n + 1);
    assert_int_equal(with[0], info.bos);
    assert_memory_equal(with + 1, ids, n * sizeof *ids);
    qlm_free(with);
    qlm_free(ids);
}

static void test_chat_render(void **state)
{
    (void)state;
    qlm_message msgs[] = {{"system", "Be brief."}, {"user", "Hi there"}, {"assistant", "Hello!"},
                          {"user", "Tell me a story"}};
    const char *tpl = qlm_chat_builtin("chatml");
    assert_non_null(tpl);
    char *got;
    size_t len;
    assert_ok(qlm_chat_apply(g_lm, tpl, msgs, 4, 1, &got, &len));

    qlm_tokenizer *t;
    assert_ok(qlm_tok_load_path(g_model, &t));
    qlm_chat_msg cm[4];
    for (int i = 0; i < 4; i++)
        cm[i] = (qlm_chat_msg){.role = msgs[i].role, .content = msgs[i].content};
    size_t bl, el;
    qlm_tpl_vars v = {.messages = cm, .n_messages = 4, .add_generation_prompt = true, .enable_thinking = -1,
                      .bos_token = qlm_tok_text(t, qlm_tok_bos(t), &bl),
                      .eos_token = qlm_tok_text(t, qlm_tok_eos(t), &el)};
    qlm_template *tp;
    assert_ok(qlm_tpl_parse(tpl, strlen(tpl), &tp));
    char *want;
    size_t wl;
    assert_ok(qlm_tpl_render(tp, &v, &want, &wl));
    assert_int_equal(len, wl);
    assert_string_equal(got, want);
    assert_non_null(strstr(got, "<|im_start|>assistant\n"));
    free(want);
    qlm_tpl_free(tp);
    qlm_tok_free(t);
    qlm_free(got);

    /* stories260K has no template of its own: a named error, not a crash. */
    qlm_lm_info info = {.size = sizeof info};
    assert_ok(qlm_lm_get_info(g_lm, &info));
    if (!info.chat_template)
        assert_status(qlm_chat_apply(g_lm, NULL, msgs, 4, 1, &got, &len), QLM_E_MISSING);
}

/* Logits for every prompt position, one context on its own. */
static float *run_alone(const int32_t *ids, size_t n, int n_threads)
{
    qlm_session_params sp = qlm_session_params_default();
    sp.n_ctx = 64;
    sp.n_threads = n_threads;
    qlm_session *s;
    if (qlm_session_new(g_lm, &sp, &s) != QLM_OK)
        return NULL;
    float *lg = malloc(n * (size_t)g_vocab * sizeof *lg);
    if (lg && qlm_session_eval(s, ids, (int64_t)n, lg, 1) != QLM_OK) {
        free(lg);
        lg = NULL;
    }
    qlm_session_free(s);
    return lg;
}

typedef struct {
    const int32_t *ids;
    size_t n;
    float *out;
} job;

static void *worker(void *arg)
{
    job *j = arg;
    j->out = run_alone(j->ids, j->n, 1);
    return NULL;
}

static void test_threads_share_model(void **state)
{
    (void)state;
    size_t n;
    int32_t *ids = prompt(&n);
    float *alone = run_alone(ids, n, 1);
    assert_non_null(alone);
    job jobs[2] = {{ids, n, NULL}, {ids, n, NULL}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, worker, &jobs[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 2; i++) {
        assert_non_null(jobs[i].out);
        assert_memory_equal(jobs[i].out, alone, n * (size_t)g_vocab * sizeof(float));
        free(jobs[i].out);
    }
    free(alone);
    qlm_free(ids);
}

static void test_state_roundtrip(void **state)
{
    (void)state;
    size_t n;
    int32_t *ids = prompt(&n);
    qlm_session_params sp = qlm_session_params_default();
    sp.n_ctx = 64;
    qlm_session *a, *b;
    assert_ok(qlm_session_new(g_lm, &sp, &a));
    sp.n_ctx = 48; /* a different size: the state is portable */
    assert_ok(qlm_session_new(g_lm, &sp, &b));
    assert_ok(qlm_session_eval(a, ids, (int64_t)n - 1, NULL, 0));
    size_t size, written;
    assert_ok(qlm_session_state_size(a, &size));
    char *buf = malloc(size);
    assert_status(qlm_session_state_save(a, buf, size - 1, &written), QLM_E_SIZE);
    assert_ok(qlm_session_state_save(a, buf, size, &written));
    assert_int_equal(written, size);
    assert_status(qlm_session_state_load(b, buf, size - 1), QLM_E_SIZE);
    assert_ok(qlm_session_state_load(b, buf, size));
    assert_int_equal(qlm_session_pos(b), (int64_t)n - 1);

    float *la = malloc((size_t)g_vocab * sizeof *la), *lb = malloc((size_t)g_vocab * sizeof *lb);
    assert_ok(qlm_session_eval(a, ids + n - 1, 1, la, 0));
    assert_ok(qlm_session_eval(b, ids + n - 1, 1, lb, 0));
    assert_memory_equal(la, lb, (size_t)g_vocab * sizeof *la);

    /* Through a file, into a context that had other tokens in it. */
    const char *path = tu_tmp("state.bin");
    assert_ok(qlm_session_state_save_file(a, path));
    assert_ok(qlm_session_truncate(b, 2));
    assert_ok(qlm_session_eval(b, ids, 3, NULL, 0));
    assert_ok(qlm_session_state_load_file(b, path));
    assert_int_equal(qlm_session_pos(b), (int64_t)n);
    int32_t next = 7;
    assert_ok(qlm_session_eval(a, &next, 1, la, 0));
    assert_ok(qlm_session_eval(b, &next, 1, lb, 0));
    assert_memory_equal(la, lb, (size_t)g_vocab * sizeof *la);
    assert_status(qlm_session_state_load_file(b, tu_tmp("no-such-state")), QLM_E_IO);
    remove(path);

    free(la);
    free(lb);
    free(buf);
    qlm_session_free(a);
    qlm_session_free(b);
    qlm_free(ids);
}

typedef struct {
    int calls;
    int64_t last_done;
    int cancel_at; /* call number that cancels; 0: never */
} progress_log;

static int on_progress(void *user, int64_t done, int64_t total)
{
    progress_log *p = user;
    p->calls++;
    p->last_done = done;
    (void)total;
    return p->cancel_at && p->calls == p->cancel_at;
}

static void test_progress_cancel(void **state)
{
    (void)state;
    size_t n;
    int32_t *ids = prompt(&n);
    float *alone = run_alone(ids, n, 0);
    assert_non_null(alone);

    progress_log log = {0};
    qlm_session_params sp = qlm_session_params_default();
    sp.n_ctx = 64;
    sp.n_batch = 4;
    sp.progress = on_progress;
    sp.progress_user = &log;
    qlm_session *s;
    assert_ok(qlm_session_new(g_lm, &sp, &s));
    float *lg = malloc(n * (size_t)g_vocab * sizeof *lg);
    assert_ok(qlm_session_eval(s, ids, (int64_t)n, lg, 1));
    assert_int_equal(log.calls, (int)((n + 3) / 4) + 1);
    assert_int_equal(log.last_done, (int64_t)n);
    assert_memory_equal(lg, alone, n * (size_t)g_vocab * sizeof *lg);

    /* Only the last row asked for: it equals the last row of all. */
    assert_ok(qlm_session_truncate(s, 0));
    assert_ok(qlm_session_eval(s, ids, (int64_t)n, lg, 0));
    assert_memory_equal(lg, alone + (n - 1) * (size_t)g_vocab, (size_t)g_vocab * sizeof *lg);

    /* Cancel before the second chunk: the first chunk stays cached. */
    assert_ok(qlm_session_truncate(s, 0));
    log = (progress_log){.cancel_at = 2};
    assert_status(qlm_session_eval(s, ids, (int64_t)n, lg, 0), QLM_E_INTERRUPTED);
    assert_int_equal(qlm_session_pos(s), 4);
    free(lg);
    free(alone);
    qlm_session_free(s);
    qlm_free(ids);
}

static void test_sampler(void **state)
{
    (void)state;
    size_t n;
    int32_t *ids = prompt(&n);
    float *lg = run_alone(ids, n, 0);
    assert_non_null(lg);
    float *last = lg + (n - 1) * (size_t)g_vocab;
    int32_t best = 0;
    for (int64_t i = 1; i < g_vocab; i++)
        if (last[i] > last[best])
            best = (int32_t)i;

    qlm_sampling_params p = qlm_sampling_params_default();
    p.temp = 0;
    qlm_token_sampler *s;
    assert_ok(qlm_token_sampler_new(g_lm, &p, &s));
    float *scratch = malloc((size_t)g_vocab * sizeof *scratch);
    memcpy(scratch, last, (size_t)g_vocab * sizeof *scratch);
    assert_int_equal(qlm_token_sampler_sample(s, scratch, ids, n), best);
    qlm_token_sampler_free(s);

    /* Same seed, same draws; every draw is a valid id. */
    p = qlm_sampling_params_default();
    p.temp = 1.0;
    p.seed = 42;
    qlm_token_sampler *s1, *s2;
    assert_ok(qlm_token_sampler_new(g_lm, &p, &s1));
    assert_ok(qlm_token_sampler_new(g_lm, &p, &s2));
    for (int i = 0; i < 20; i++) {
        memcpy(scratch, last, (size_t)g_vocab * sizeof *scratch);
        int32_t t1 = qlm_token_sampler_sample(s1, scratch, ids, n);
        memcpy(scratch, last, (size_t)g_vocab * sizeof *scratch);
        int32_t t2 = qlm_token_sampler_sample(s2, scratch, ids, n);
        assert_int_equal(t1, t2);
        assert_true(t1 >= 0 && t1 < g_vocab);
    }
    qlm_token_sampler_free(s1);
    qlm_token_sampler_free(s2);
    free(scratch);
    free(lg);
    qlm_free(ids);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_misuse),         cmocka_unit_test(test_version_info), cmocka_unit_test(test_abi_old_sizes),
        cmocka_unit_test(test_tokenize_roundtrip), cmocka_unit_test(test_chat_render),
        cmocka_unit_test(test_threads_share_model), cmocka_unit_test(test_state_roundtrip),
        cmocka_unit_test(test_progress_cancel), cmocka_unit_test(test_sampler),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
