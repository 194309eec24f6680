/* The synth.json models at real size through qlm synth + qlm convert:
 * smollm2-135m to every type, qwen2.5-0.5b and qwen3-0.6b to bf16 and q4. */
#include "tests/unit/convert_check.h"

static void run(const char *name, const char *types)
{
    const char *dir = tu_tmp(name);
    synth_check(name, dir);
    convert_all(dir, name, types);
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_smollm2_135m(void **state)
{
    (void)state;
    run("smollm2-135m", "f32 f16 bf16 q8 q4");
}

static void test_qwen25_05b(void **state)
{
    (void)state;
    run("qwen2.5-0.5b", "bf16 q4");
}

static void test_qwen3_06b(void **state)
{
    (void)state;
    run("qwen3-0.6b", "bf16 q4");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_smollm2_135m),
        cmocka_unit_test(test_qwen25_05b),
        cmocka_unit_test(test_qwen3_06b),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tu_tmpdir()); /* tens of MB of models; kept on failure */
    if (!failed && system(cmd) != 0)
        return 1;
    return failed;
}
