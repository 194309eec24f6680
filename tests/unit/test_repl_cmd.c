/* The chat REPL's slash-command parser (runtime/chat/repl_cmd.h) and the
 * strict number parsing it shares with the command line
 * (formats/common/num.h): every command and alias, arguments kept verbatim,
 * /set values at and just past the ends of their ranges, and one-line
 * messages for whatever a person may mistype. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tests/common/testutil.h"
#include "formats/common/num.h"
#include "runtime/chat/repl_cmd.h"

static repl_cmd parse(const char *line)
{
    repl_cmd c;
    repl_cmd_parse(line, &c);
    return c;
}

static void expect_bad(const char *line, const char *msg_part)
{
    repl_cmd c = parse(line);
    if (c.kind != REPL_BAD)
        fail_msg("'%s' parsed as kind %d, expected a bad command", line, c.kind);
    if (!strstr(c.msg, msg_part))
        fail_msg("'%s': message '%s' lacks '%s'", line, c.msg, msg_part);
    assert_null(strchr(c.msg, '\n'));
}

static void test_commands_and_aliases(void **state)
{
    (void)state;
    static const struct {
        const char *line;
        repl_cmd_kind kind;
    } k[] = {
        {"/quit", REPL_QUIT},   {"/exit", REPL_QUIT},     {"/bye", REPL_QUIT},       {"/help", REPL_HELP},
        {"/?", REPL_HELP},      {"/reset", REPL_RESET},   {"/clear", REPL_RESET},    {"/undo", REPL_UNDO},
        {"/stats", REPL_STATS}, {"/context", REPL_CONTEXT}, {"/system", REPL_SYSTEM}, {"/reset   ", REPL_RESET},
        {"/quit now", REPL_QUIT},
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        assert_int_equal(parse(k[i].line).kind, k[i].kind);
    expect_bad("/", "unknown command /");
    expect_bad("/Help", "unknown command /Help");
    expect_bad("/helpme", "unknown command /helpme");
    expect_bad("/\thelp", "unknown command");
}

static void test_arguments_verbatim(void **state)
{
    (void)state;
    const char *line = "/system   Be  terse.\nTwo lines, trailing space ";
    repl_cmd c = parse(line);
    assert_int_equal(c.kind, REPL_SYSTEM);
    assert_string_equal(c.arg, "Be  terse.\nTwo lines, trailing space ");
    assert_ptr_equal(c.arg, line + 10); /* into the line, not a copy */
    assert_string_equal(parse("/system").arg, "");
    assert_string_equal(parse("/system    ").arg, "");
    c = parse("/save my chat.json");
    assert_int_equal(c.kind, REPL_SAVE);
    assert_string_equal(c.arg, "my chat.json");
    c = parse("/load x");
    assert_int_equal(c.kind, REPL_LOAD);
    assert_string_equal(c.arg, "x");
    expect_bad("/save", "/save needs a file name");
    expect_bad("/load   ", "/load needs a file name");
}

static void test_set_numbers(void **state)
{
    (void)state;
    repl_cmd c = parse("/set temp 0.7");
    assert_int_equal(c.kind, REPL_SET);
    assert_int_equal(c.setting, REPL_SET_TEMP);
    assert_true(c.num == 0.7);
    c = parse("/set  top_p   0.9  "); /* extra and trailing spaces */
    assert_int_equal(c.setting, REPL_SET_TOP_P);
    assert_true(c.num == 0.9);
    assert_true(parse("/set min_p 5e-2").num == 5e-2);
    assert_int_equal(parse("/set repeat_penalty 1.1").setting, REPL_SET_REPEAT_PENALTY);
    /* Out-of-range reals reach the sampler, which names the range. */
    c = parse("/set temp -1");
    assert_int_equal(c.kind, REPL_SET);
    assert_true(c.num == -1);
    assert_true(isinf(parse("/set temp inf").num));
    expect_bad("/set temp nan", "/set temp needs a number");
    expect_bad("/set temp 1e999", "needs a number"); /* overflows a double */
    expect_bad("/set temp 0.5x", "needs a number");
    expect_bad("/set temp", "needs a number");

    c = parse("/set top_k 40");
    assert_int_equal(c.setting, REPL_SET_TOP_K);
    assert_int_equal(c.whole, 40);
    assert_int_equal(parse("/set seed 4611686018427387904").whole, REPL_SET_INT_MAX);
    assert_int_equal(parse("/set n_predict 0").whole, 0);
    expect_bad("/set seed 4611686018427387905", "from 0 to 2^62");
    expect_bad("/set seed 99999999999999999999999", "from 0 to 2^62");
    expect_bad("/set top_k -1", "/set top_k needs a whole number");
    expect_bad("/set top_k 1e300", "whole number");
    expect_bad("/set n_predict 1.5", "whole number");
    /* A value longer than any setting takes is refused, not cut short. */
    char line[128];
    snprintf(line, sizeof line, "/set temp 0.5%070d", 0);
    expect_bad(line, "needs a number");
}

static void test_set_think_and_names(void **state)
{
    (void)state;
    assert_int_equal(parse("/set think on").whole, 1);
    assert_int_equal(parse("/set think off").whole, 0);
    assert_int_equal(parse("/set think default").whole, -1);
    assert_int_equal(parse("/set think on").setting, REPL_SET_THINK);
    expect_bad("/set think yes", "/set think on|off|default");
    expect_bad("/set nosuch 1", "unknown setting 'nosuch'");
    expect_bad("/set", "/set NAME VALUE");
    expect_bad("/set Temp 1", "unknown setting 'Temp'");
    /* Quoted text is cut to 40 bytes and never spans lines. */
    char line[200];
    snprintf(line, sizeof line, "/set %s\nx 1", "abcdefghijabcdefghijabcdefghijabcdefghijTAIL");
    repl_cmd c = parse(line);
    assert_int_equal(c.kind, REPL_BAD);
    assert_null(strstr(c.msg, "TAIL"));
    snprintf(line, sizeof line, "/a\nb");
    expect_bad(line, "unknown command /a b");
}

/* The shared strict parsers, at the edges of int64_t and double. */
static void test_strict_numbers(void **state)
{
    (void)state;
    int64_t i = 7;
    double d = 7;
    assert_true(qlm_parse_i64("9223372036854775807", INT64_MIN, INT64_MAX, &i));
    assert_true(i == INT64_MAX);
    assert_true(qlm_parse_i64("-9223372036854775808", INT64_MIN, INT64_MAX, &i));
    assert_true(i == INT64_MIN);
    i = 7;
    assert_false(qlm_parse_i64("9223372036854775808", INT64_MIN, INT64_MAX, &i));
    assert_false(qlm_parse_i64("", 0, 10, &i));
    assert_false(qlm_parse_i64("11", 0, 10, &i));
    assert_false(qlm_parse_i64("1 ", 0, 10, &i));
    assert_false(qlm_parse_i64("0x10", 0, 100, &i));
    assert_false(qlm_parse_i64(NULL, 0, 10, &i));
    assert_int_equal(i, 7); /* untouched on failure */
    assert_true(qlm_parse_f64("0x1p-3", 0, 1, &d));
    assert_true(d == 0.125);
    assert_true(qlm_parse_f64("1.7976931348623157e308", 0, HUGE_VAL, &d));
    assert_true(d == 1.7976931348623157e308);
    d = 7;
    assert_false(qlm_parse_f64("1e-400", 0, 1, &d)); /* underflow: a typo, not 0 */
    assert_false(qlm_parse_f64("nan", -HUGE_VAL, HUGE_VAL, &d));
    assert_false(qlm_parse_f64("2", 0, 1, &d));
    assert_true(d == 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commands_and_aliases),
        cmocka_unit_test(test_arguments_verbatim),
        cmocka_unit_test(test_set_numbers),
        cmocka_unit_test(test_set_think_and_names),
        cmocka_unit_test(test_strict_numbers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
