/* libqlm 0.2 additions: vocab_only handles rendering and tokenizing the
 * golden chat conversations (../shared/golden/chat_templates.json, made by
 * transformers' apply_chat_template) through qlm.h alone, enable_thinking
 * through the QLM_CHAT_* flags; the log hook; token texts. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/common/testutil.h"
#include "formats/common/json.h"
#include "formats/common/log.h"
#include "include/qlm.h"

static qlm_lm *open_vocab(const char *rel)
{
    qlm_lm_params p = qlm_lm_params_default();
    p.vocab_only = 1;
    qlm_lm *lm = NULL;
    assert_ok(qlm_lm_open_params(tu_shared(rel), &p, &lm));
    return lm;
}

static int case_flags(const json_value *c)
{
    int f = json_get_bool(c, "add_generation_prompt", false) ? QLM_CHAT_ADD_GENERATION_PROMPT : 0;
    const json_value *t = json_get(c, "enable_thinking");
    bool on;
    if (t && json_as_bool(t, &on))
        f |= on ? QLM_CHAT_THINKING_ON : QLM_CHAT_THINKING_OFF;
    return f;
}

static void check_case(qlm_lm *lm, const json_value *c)
{
    const json_value *m = json_get(c, "messages");
    assert_non_null(m);
    qlm_message msgs[16];
    assert_true(m->n <= 16);
    for (size_t i = 0; i < m->n; i++)
        msgs[i] = (qlm_message){json_get_str(json_at(m, i), "role"), json_get_str(json_at(m, i), "content")};
    char *text;
    size_t len;
    assert_ok(qlm_chat_apply(lm, NULL, msgs, m->n, case_flags(c), &text, &len));
    assert_string_equal(text, json_get_str(c, "rendered"));
    int32_t *ids;
    size_t n;
    assert_ok(qlm_tokenize(lm, text, len, 0, 1, &ids, &n));
    const json_value *want = json_get(c, "ids");
    assert_int_equal(n, want->n);
    for (size_t i = 0; i < n; i++) {
        int64_t w;
        assert_true(json_as_i64(json_at(want, i), &w));
        assert_int_equal(ids[i], w);
    }
    qlm_free(ids);
    qlm_free(text);
}

static void test_golden_conversations(void **state)
{
    (void)state;
    char *buf;
    size_t len;
    json_doc *doc;
    buf = tu_read(tu_shared("golden/chat_templates.json"), &len);
    assert_non_null(buf);
    assert_ok(json_parse(buf, len, &doc));
    qlm_lm *smol = open_vocab("models/tokenizers/smollm2-135m-instruct");
    qlm_lm *qwen = open_vocab("models/tokenizers/qwen3-0.6b");
    const json_value *cases = json_get(json_root(doc), "cases");
    assert_int_equal(cases->n, 24);
    int thinking = 0;
    for (size_t i = 0; i < cases->n; i++) {
        const json_value *c = json_at(cases, i);
        const char *t = json_get_str(c, "template");
        thinking += (case_flags(c) & (QLM_CHAT_THINKING_ON | QLM_CHAT_THINKING_OFF)) != 0;
        check_case(!strcmp(t, "qwen3") ? qwen : smol, c);
    }
    assert_true(thinking >= 8); /* the flags were exercised, both ways */

    /* A vocab_only handle has no weights: a named error, not a crash. */
    qlm_session *s = (qlm_session *)1;
    assert_status(qlm_session_new(qwen, NULL, &s), QLM_E_MISSING);
    assert_null(s);
    qlm_lm_info info = {.size = sizeof info};
    assert_ok(qlm_lm_get_info(qwen, &info));
    assert_int_equal(info.has_weights, 0);
    assert_true(info.n_tokens > 150000);
    assert_non_null(info.chat_template);
    assert_null(info.arch);
    qlm_lm_close(smol);
    qlm_lm_close(qwen);
    json_free(doc);
    free(buf);
}

static void test_chat_flags_misuse(void **state)
{
    (void)state;
    qlm_lm *lm = open_vocab("models/tokenizers/qwen3-0.6b");
    qlm_message m = {"user", "Hi"};
    char *text = (char *)1;
    size_t len;
    assert_status(qlm_chat_apply(lm, NULL, &m, 1, QLM_CHAT_THINKING_ON | QLM_CHAT_THINKING_OFF, &text, &len),
                  QLM_E_ARG);
    assert_null(text);
    assert_status(qlm_chat_apply(lm, NULL, &m, 1, 8, &text, &len), QLM_E_ARG);
    /* Parse errors are found without rendering, naming the line. */
    assert_ok(qlm_chat_check(qlm_chat_builtin("qwen3")));
    assert_status(qlm_chat_check("ok\n{% for x in y %}\n{{ x }"), QLM_E_TEMPLATE);
    assert_non_null(strstr(qlm_last_error(), "line"));
    assert_status(qlm_chat_check(NULL), QLM_E_ARG);

    size_t n;
    const char *s = qlm_token_text(lm, 151667, &n); /* Qwen3's <think> */
    assert_non_null(s);
    assert_int_equal(n, 7);
    assert_memory_equal(s, "<think>", 7);
    assert_null(qlm_token_text(lm, -1, &n));
    assert_null(qlm_token_text(lm, 1 << 30, &n));
    assert_null(qlm_token_text(lm, 0, NULL));
    assert_null(qlm_token_text(NULL, 0, &n));

    qlm_lm_params p = qlm_lm_params_default();
    p.size = 3;
    qlm_lm *bad = (qlm_lm *)1;
    assert_status(qlm_lm_open_params(tu_shared("models/tokenizers/qwen3-0.6b"), &p, &bad), QLM_E_ARG);
    assert_null(bad);
    /* A tokenizer folder is not a model unless vocab_only. */
    assert_int_not_equal(qlm_lm_open(tu_shared("models/tokenizers/qwen3-0.6b"), &bad), QLM_OK);
    qlm_lm_close(lm);
}

/* ---- log hook ---- */

typedef struct {
    int n;          /* deliberately not atomic: the hook is never called concurrently */
    int level;
    char last[128];
} sink;

static void capture(void *user, qlm_log_level level, const char *msg)
{
    sink *s = user;
    s->n++;
    s->level = (int)level;
    snprintf(s->last, sizeof s->last, "%s", msg);
}

static void *log_many(void *arg)
{
    (void)arg;
    for (int i = 0; i < 2000; i++)
        qlm_log(QLM_LOG_DEBUG, "message %d", i);
    return NULL;
}

static void test_log_hook(void **state)
{
    (void)state;
    sink s = {0};
    qlm_set_log_callback(capture, &s);
    qlm_log(QLM_LOG_WARN, "x=%d", 42);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.level, QLM_LOG_WARN);
    assert_string_equal(s.last, "x=42");
    /* Four threads at once: every message arrives, none lost to a race. */
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, log_many, NULL), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(s.n, 1 + 4 * 2000);
    /* NULL restores the default: this sink hears nothing more. */
    qlm_set_log_callback(NULL, NULL);
    qlm_log(QLM_LOG_DEBUG, "to stderr (expected in this test's output)");
    assert_int_equal(s.n, 1 + 4 * 2000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_conversations),
        cmocka_unit_test(test_chat_flags_misuse),
        cmocka_unit_test(test_log_hook),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
