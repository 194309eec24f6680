/* The Jinja subset itself: semantics, whitespace control, errors, limits.
 * Expected strings follow from the Jinja / Python rules quoted beside them
 * (each was also checked against jinja2 3.1 configured as transformers does). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/common/json.h"
#include "runtime/chat/template.h"
#include "tests/common/testutil.h"

/* Variables every case sees: a 3-message conversation and a small dict. */
static const char *k_vars =
    "{\"messages\": [{\"role\": \"system\", \"content\": \"S\"}, {\"role\": \"user\", \"content\": \"Hi\"},"
    " {\"role\": \"assistant\", \"content\": \"<think>\\nr\\n</think>\\n\\nA\"}],"
    " \"d\": {\"a\": 1, \"b\": \"two\"}, \"eos_token\": \"</s>\", \"add_generation_prompt\": true}";

static qlm_status render(const char *src, char **out)
{
    json_doc *doc;
    assert_ok(json_parse(k_vars, strlen(k_vars), &doc));
    qlm_template *t;
    size_t len;
    qlm_status st = qlm_tpl_parse(src, strlen(src), &t);
    if (st == QLM_OK) {
        st = qlm_tpl_render_json(t, json_root(doc), out, &len);
        qlm_tpl_free(t);
    }
    json_free(doc);
    return st;
}

static void check(const char *src, const char *want)
{
    char *got = NULL;
    qlm_status st = render(src, &got);
    if (st != QLM_OK)
        fail_msg("template %s: %s", src, qlm_errmsg());
    if (strcmp(got, want) != 0)
        fail_msg("template %s\n rendered [%s]\n want     [%s]", src, got, want);
    free(got);
}

static void check_fails(const char *src, qlm_status code, const char *needle)
{
    char *got = NULL;
    qlm_status st = render(src, &got);
    if (st != code)
        fail_msg("template %s: got %s (%s), want %s", src, qlm_status_name(st), got ? got : qlm_errmsg(),
                 qlm_status_name(code));
    if (needle && !strstr(qlm_errmsg(), needle))
        fail_msg("template %s: message '%s' lacks '%s'", src, qlm_errmsg(), needle);
    free(got);
}

static void test_whitespace(void **state)
{
    (void)state;
    /* keep_trailing_newline=False drops exactly one final newline */
    check("a\n", "a");
    check("a\n\n", "a\n");
    check("a\r\nb\rc", "a\nb\nc");
    /* trim_blocks eats the newline after %}, lstrip_blocks the indentation before {% */
    check("  {% if true %}\n  x\n  {% endif %}\n", "  x\n");
    /* - strips all whitespace, + disables lstrip/trim */
    check("{%- set x = 'a' -%}  {{ x }}  {%- if true +%}  \n  y\n{%+ endif %}", "a  \n  y\n");
    check("x {% if true %} y {% endif %} z", "x  y  z");
    check("{{ 'a' }}  {% if true %}b{% endif %}", "a  b");
    check("{# c #}a{#- c -#}  b  {# x #}\n c", "ab   c");
    check("{% raw %}{{ not parsed }}{% endraw %}", "{{ not parsed }}");
    /* TinyLlama's template: every tag on its own line */
    check("{% for m in messages %}\n{% if m.role == 'user' %}\n{{ '<|user|>\\n' + m.content + eos_token }}\n"
          "{% endif %}\n{% endfor %}",
          "<|user|>\nHi</s>\n");
}

static void test_scoping(void **state)
{
    (void)state;
    /* a for body is a fresh scope per iteration; if blocks are not scopes */
    check("{% set x = 1 %}{% for i in [1,2] %}{{ x }}{% set x = 5 %}{{ x }}{% endfor %}{{ x }}", "15151");
    check("{% if true %}{% set z = 3 %}{% endif %}{{ z }}", "3");
    check("{% set ns = namespace(a=1, b='x') %}{% for i in range(3) %}{% set ns.a = ns.a + i %}{% endfor %}"
          "{{ ns.a }}{{ ns.b }}",
          "4x");
    check("{% set a, b = [1, 2] %}{{ a }}{{ b }}", "12");
    check("{% set x %}block {{ 1 + 1 }}{% endset %}[{{ x }}]", "[block 2]");
}

static void test_loops(void **state)
{
    (void)state;
    check("{% for m in messages %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}"
          "{{ loop.length }}{{ loop.revindex }}{{ loop.revindex0 }}|{% endfor %}",
          "10TrueFalse332|21FalseFalse321|32FalseTrue310|");
    check("{% for m in messages if m.role != 'system' %}{{ loop.index }}:{{ m.role }}/{{ loop.length }} {% endfor %}",
          "1:user/2 2:assistant/2 ");
    check("{% for m in [] %}x{% else %}empty{% endfor %}", "empty");
    check("{% for i in range(10) %}{% if i == 5 %}{% break %}{% endif %}{% if i % 2 %}{% continue %}{% endif %}"
          "{{ i }}{% endfor %}",
          "024");
    check("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}", "a=1;b=two;");
    check("{% for c in 'h\xc3\xa9y' %}[{{ c }}]{% endfor %}{% for k in d %}{{ k }}{% endfor %}", "[h][\xc3\xa9][y]ab");
    check("{% for m in messages[::-1] %}{{ m.role[0] }}{% endfor %}", "aus");
}

static void test_expressions(void **state)
{
    (void)state;
    /* Python floor division and modulo */
    check("{{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 2 ** 10 }}", "3 -4 2 -2 1024");
    check("{{ 10 - 3 - 2 }}{{ 2 + 3 * 4 }}{{ (2 + 3) * 4 }}{{ -3 }}", "51420-3");
    check("{{ [1,\"a\",none,true] }}{{ {\"a\":1} }}{{ none }}{{ 1 == true }}{{ (1,2) }}{{ (1,) }}",
          "[1, 'a', None, True]{'a': 1}NoneTrue(1, 2)(1,)");
    check("{{ \"abc\"[::-1] }} {{ [1,2,3][1:] }} {{ \"x\"*3 }} {{ [1,2,3][-1] }} {{ 'h\xc3\xa9llo'[1] }}",
          "cba [2, 3] xxx 3 \xc3\xa9");
    check("{{ 'a' if true else 'b' }}{{ 'a' if false else 'b' }}{{ 'a' if false }}|", "ab|");
    check("{{ 1 < 2 < 3 }}{{ 3 > 2 > 2 }}{{ 'a' in 'abc' }}{{ 'z' not in 'abc' }}{{ 2 in [1,2] }}{{ 'k' in d }}",
          "TrueFalseTrueTrueTrueFalse");
    check("{{ not true }}{{ true and 0 }}{{ 0 or 'x' }}{{ '' or [] }}", "False0x[]");
    check("{{ 'a' ~ 1 ~ none ~ true ~ [1] }}{{ undefined_x ~ 'y' }}", "a1NoneTrue[1]y");
    check("{{ [1] + [2] }}{{ 'a' + 'b' }}{{ 1 + true }}", "[1, 2]ab2");
    check("{{ \"a\\nb\\t\\x41\\u00e9\\101\\q\" }}", "a\nb\tA\xc3\xa9" "A\\q");
    check("{{ ['it\\'s', \"a\\\"b\"] }}", "[\"it's\", 'a\"b']");
    check("{{ messages[0]['role'] }}{{ messages[0].content }}{{ messages[5] }}{{ d.zz }}{{ messages[-1].role }}",
          "systemSassistant");
}

static void test_filters_methods(void **state)
{
    (void)state;
    check("{{ ' x '|trim }}|{{ 'xxaxx'|trim('x') }}|{{ 'abc'.lstrip('a') }}|{{ 'ab\\n\\n'.rstrip('\\n') }}|", "x|a|bc|ab|");
    check("{{ 'a b  c '.split() }} {{ 'a,b,c'.split(',', 1) }} {{ ' a b c '.split(none, 1) }}",
          "['a', 'b', 'c'] ['a', 'b,c'] ['a', 'b c ']");
    check("{{ 'Hello'.upper() }}{{ 'hello world'.title() }}{{ 'hELLO'.capitalize() }}", "HELLOHello WorldHello");
    check("{{ 'abc'.startswith('a') }}{{ 'abc'.endswith('bc') }}{{ 'abc'.startswith(('x','a')) }}", "TrueTrueTrue");
    check("{{ [1,2,3]|join(',') }}{{ [1,2]|first }}{{ [1,2]|last }}{{ []|first }}", "1,2,312");
    check("{{ x|default('d') }}{{ none|default('d') }}{{ ''|default('d', true) }}", "dNoned");
    check("{{ 42|string }}{{ '42'|int + 1 }}{{ 'x'|int }}{{ 'abc'|list }}{{ [3,1]|reverse|list }}",
          "42430['a', 'b', 'c'][1, 3]");
    check("{{ 'aXbXc'.replace('X', '-') }}{{ 'aXbXc'.replace('X','-',1) }}", "a-b-ca-bXc");
    check("{{ messages|map(attribute='role')|join(',') }}|{{ messages|selectattr('role','equalto','user')|list|length }}",
          "system,user,assistant|1");
    check("{{ undefined_x|length }}{{ 'h\xc3\xa9llo'|length }}{{ d|length }}", "052");
    check("{{ d.get('a') }}{{ d.get('zz', 5) }}{{ d.keys()|list }}", "15['a', 'b']");
    /* transformers' tojson is json.dumps(ensure_ascii=False) */
    check("{{ d|tojson }}|{{ 'x\"\\\\\\u0001\xc3\xa9'|tojson }}|{{ {'b': [true, none]}|tojson(indent=2) }}",
          "{\"a\": 1, \"b\": \"two\"}|\"x\\\"\\\\\\u0001\xc3\xa9\"|{\n  \"b\": [\n    true,\n    null\n  ]\n}");
    /* Qwen3's reasoning split */
    check("{% set c = messages[2].content %}{{ c.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') }}"
          "|{{ c.split('</think>')[-1].lstrip('\\n') }}",
          "r|A");
}

static void test_tests(void **state)
{
    (void)state;
    check("{{ 3 is odd }}{{ 9 is divisibleby(3) }}{{ 'a' is string }}{{ true is integer }}{{ {} is mapping }}"
          "{{ none is none }}{{ x is not defined }}",
          "TrueTrueTrueFalseTrueTrueTrue");
    check("{{ true is true }}{{ 1 is true }}{{ 0 is false }}{{ 3 is gt 2 }}{{ 2 is in [1,2] }}",
          "TrueFalseFalseTrueTrue");
}

static void test_errors(void **state)
{
    (void)state;
    check_fails("{{ foo.bar }}", QLM_E_TEMPLATE, "'foo' is undefined");
    check_fails("{{ 'a' + 1 }}", QLM_E_TEMPLATE, "line 1");
    check_fails("a\nb\n{{ raise_exception('boom') }}", QLM_E_TEMPLATE, "line 3 raised an error: boom");
    check_fails("\n\n{% macro f() %}x{% endmacro %}", QLM_E_TEMPLATE, "line 3: unsupported construct: {% macro %}");
    check_fails("{{ 1.5 }}", QLM_E_TEMPLATE, "float");
    check_fails("{{ x|nosuchfilter }}", QLM_E_TEMPLATE, "filter 'nosuchfilter'");
    check_fails("{% if %}", QLM_E_TEMPLATE, "expected an expression");
    check_fails("{% for x in y %}", QLM_E_TEMPLATE, "expected 'endfor'");
    check_fails("{% endfor %}", QLM_E_TEMPLATE, "endfor");
    check_fails("{{ (1 }}", QLM_E_TEMPLATE, "expected ')'");
    check_fails("{% break %}", QLM_E_TEMPLATE, "outside of a for loop");
    check_fails("{{ 'open", QLM_E_TEMPLATE, "unterminated string");
    check_fails("{# never closed", QLM_E_TEMPLATE, "comment");
    check_fails("{{ 1 // 0 }}", QLM_E_TEMPLATE, "division");
    check_fails("{{ 9223372036854775807 + 1 }}", QLM_E_UNSUPPORTED, "overflow");
    qlm_template *t = NULL;
    assert_status(qlm_tpl_parse("\xff", 1, &t), QLM_E_UTF8);
    assert_null(t);
}

static void test_limits(void **state)
{
    (void)state;
    check_fails("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}", QLM_E_LIMIT, "output");
    check_fails("{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
                QLM_E_LIMIT, NULL);
    check_fails("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", QLM_E_LIMIT,
                NULL);
    check_fails("{{ range(1000000) }}", QLM_E_TEMPLATE, "range too big");
    /* a namespace that holds itself: printing it must end (found by fuzz_template) */
    check_fails("{% set ns = namespace(a=1) %}{% set ns.a = ns %}{{ ns }}", QLM_E_LIMIT, "contain itself");
    check_fails("{% set ns = namespace(a=1) %}{% set ns.a = [ns] %}{{ ns.a }}", QLM_E_LIMIT, "nested deeper");
    /* deep nesting is a limit error, never a stack overflow */
    size_t depth = 100000;
    char *deep = malloc(2 * depth + 16);
    strcpy(deep, "{{ ");
    memset(deep + 3, '(', depth);
    strcpy(deep + 3 + depth, "1 }}");
    qlm_template *t = NULL;
    assert_status(qlm_tpl_parse(deep, strlen(deep), &t), QLM_E_LIMIT);
    memset(deep + 3, '-', depth);
    assert_status(qlm_tpl_parse(deep, strlen(deep), &t), QLM_E_LIMIT);
    size_t k = 0;
    for (size_t i = 0; i < 5000; i++)
        k += (size_t)sprintf(deep + k, "{%% if 1 %%}");
    assert_status(qlm_tpl_parse(deep, k, &t), QLM_E_LIMIT);
    free(deep);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whitespace),  cmocka_unit_test(test_scoping),
        cmocka_unit_test(test_loops),       cmocka_unit_test(test_expressions),
        cmocka_unit_test(test_filters_methods), cmocka_unit_test(test_tests),
        cmocka_unit_test(test_errors),      cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
