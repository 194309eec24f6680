/* Chat templates against transformers' apply_chat_template: every case of
 * golden/chat_templates.json must render byte for byte, and encoding the
 * rendering (special tokens parsed, no BOS added) must give its ids. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/common/json.h"
#include "runtime/chat/template.h"
#include "runtime/tokenizer/tokenizer.h"
#include "tests/common/testutil.h"

static json_doc *load_golden(void)
{
    size_t n;
    char *text = tu_read(tu_shared("golden/chat_templates.json"), &n);
    json_doc *d;
    assert_ok(json_parse(text, n, &d));
    free(text);
    return d;
}

static qlm_template *parse_str(const char *s)
{
    qlm_template *t;
    assert_ok(qlm_tpl_parse(s, strlen(s), &t));
    return t;
}

/* Render one golden case through the qlm_tpl_vars API. */
static char *render_case(const qlm_template *t, const json_value *c)
{
    const json_value *msgs = json_get(c, "messages");
    assert_non_null(msgs);
    qlm_chat_msg *m = calloc(msgs->n + 1, sizeof *m);
    for (size_t i = 0; i < msgs->n; i++) {
        m[i].role = json_get_str(json_at(msgs, i), "role");
        m[i].content = json_get_str(json_at(msgs, i), "content");
        m[i].reasoning_content = json_get_str(json_at(msgs, i), "reasoning_content");
        assert_non_null(m[i].role);
        assert_non_null(m[i].content);
    }
    const json_value *think = json_get(c, "enable_thinking");
    qlm_tpl_vars v = {
        .messages = m,
        .n_messages = msgs->n,
        .add_generation_prompt = json_get_bool(c, "add_generation_prompt", false),
        .enable_thinking = think ? json_get_bool(c, "enable_thinking", false) : -1,
    };
    char *out;
    size_t len;
    assert_ok(qlm_tpl_render(t, &v, &out, &len));
    assert_int_equal(len, strlen(out));
    free(m);
    return out;
}

static void test_golden_cases(void **state)
{
    (void)state;
    json_doc *d = load_golden();
    const json_value *root = json_root(d), *tpls = json_get(root, "templates"), *cases = json_get(root, "cases");
    assert_non_null(tpls);
    assert_non_null(cases);
    assert_true(cases->n >= 24);
    for (size_t i = 0; i < cases->n; i++) {
        const json_value *c = json_at(cases, i);
        const char *name = json_get_str(c, "template");
        size_t tn;
        const char *text = json_as_str(json_get(tpls, name), &tn);
        assert_non_null(text);
        qlm_template *t;
        assert_ok(qlm_tpl_parse(text, tn, &t));
        char *got = render_case(t, c);
        const char *want = json_get_str(c, "rendered");
        if (strcmp(got, want) != 0)
            fail_msg("case %zu (%s): rendered\n[%s]\nwant\n[%s]", i, name, got, want);
        /* the JSON-variables entry point sees the same conversation */
        char *got2;
        size_t n2;
        assert_ok(qlm_tpl_render_json(t, c, &got2, &n2));
        assert_string_equal(got2, want);
        free(got2);
        free(got);
        qlm_tpl_free(t);
    }
    json_free(d);
}

/* The built-in qwen3 template is the model's own, so it matches too. */
static void test_builtin_qwen3(void **state)
{
    (void)state;
    json_doc *d = load_golden();
    const json_value *cases = json_get(json_root(d), "cases");
    qlm_template *t = parse_str(qlm_tpl_builtin("qwen3"));
    size_t seen = 0;
    for (size_t i = 0; i < cases->n; i++) {
        const json_value *c = json_at(cases, i);
        if (strcmp(json_get_str(c, "template"), "qwen3") != 0)
            continue;
        char *got = render_case(t, c);
        assert_string_equal(got, json_get_str(c, "rendered"));
        free(got);
        seen++;
    }
    assert_true(seen >= 12);
    qlm_tpl_free(t);
    json_free(d);
}

/* Every built-in parses and renders a small conversation. */
static void test_builtins_render(void **state)
{
    (void)state;
    const char *names[] = {"chatml", "llama3", "llama2", "zephyr", "tinyllama", "qwen3"};
    qlm_chat_msg m[] = {{"system", "Be brief.", NULL}, {"user", "Hi", NULL}, {"assistant", "Hello", NULL},
                        {"user", "Bye", NULL}};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        const char *text = qlm_tpl_builtin(names[k]);
        assert_non_null(text);
        qlm_template *t = parse_str(text);
        qlm_tpl_vars v = {.messages = m, .n_messages = 4, .add_generation_prompt = true, .enable_thinking = -1,
                          .bos_token = "<s>", .eos_token = "</s>"};
        char *out;
        size_t len;
        assert_ok(qlm_tpl_render(t, &v, &out, &len));
        assert_non_null(strstr(out, "Bye"));
        assert_non_null(strstr(out, "Hello"));
        free(out);
        qlm_tpl_free(t);
    }
    assert_null(qlm_tpl_builtin("nope"));
}

/* apply_chat_template(tokenize=True) encodes the rendering with special tokens parsed. */
static void test_golden_ids(void **state)
{
    (void)state;
    json_doc *d = load_golden();
    const json_value *cases = json_get(json_root(d), "cases");
    qlm_tokenizer *smol, *qwen;
    assert_ok(qlm_tok_load_path(tu_shared("models/tokenizers/smollm2-135m-instruct"), &smol));
    assert_ok(qlm_tok_load_path(tu_shared("models/tokenizers/qwen3-0.6b"), &qwen));
    for (size_t i = 0; i < cases->n; i++) {
        const json_value *c = json_at(cases, i), *want = json_get(c, "ids");
        size_t len;
        const char *text = json_as_str(json_get(c, "rendered"), &len);
        assert_non_null(want);
        qlm_tok_encode_opts o = {.add_bos = false, .parse_special = true};
        int32_t *ids;
        size_t n;
        bool is_qwen = strcmp(json_get_str(c, "template"), "qwen3") == 0;
        assert_ok(qlm_tok_encode(is_qwen ? qwen : smol, text, len, &o, &ids, &n));
        assert_int_equal(n, want->n);
        for (size_t k = 0; k < n; k++) {
            int64_t w;
            assert_true(json_as_i64(json_at(want, k), &w));
            if (ids[k] != w)
                fail_msg("case %zu: id %zu is %d, want %lld", i, k, ids[k], (long long)w);
        }
        free(ids);
    }
    qlm_tok_free(smol);
    qlm_tok_free(qwen);
    json_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_cases),
        cmocka_unit_test(test_builtin_qwen3),
        cmocka_unit_test(test_golden_ids),
        cmocka_unit_test(test_builtins_render),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
