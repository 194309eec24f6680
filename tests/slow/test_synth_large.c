/* qlm synth reproduces the two large synth.json models bit for bit. */
#include "tests/unit/synth_check.h"

static void run(const char *name)
{
    const char *dir = tu_tmp(name);
    synth_check(name, dir);
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_qwen25_05b(void **state)
{
    (void)state;
    run("qwen2.5-0.5b");
}

static void test_qwen3_06b(void **state)
{
    (void)state;
    run("qwen3-0.6b");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_qwen25_05b),
        cmocka_unit_test(test_qwen3_06b),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
