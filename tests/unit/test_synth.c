/* qlm synth reproduces shared/golden/synth.json bit for bit (small models;
 * qwen2.5-0.5b and qwen3-0.6b are in tests/slow/test_synth_large.c). */
#include "tests/unit/synth_check.h"

static void test_fnv1a64(void **state)
{
    (void)state;
    /* FNV-1a 64 test vectors (Fowler/Noll/Vo reference: "" and "a"). */
    assert_true(qlm_fnv1a64("", 0) == 0xCBF29CE484222325ull);
    assert_true(qlm_fnv1a64("a", 1) == 0xAF63DC4C8601EC8Cull);
}

static void test_llama3_tiny(void **state)
{
    (void)state;
    synth_check("llama3-tiny", tu_tmp("llama3-tiny"));
}

static void test_smollm2_135m(void **state)
{
    (void)state;
    const char *dir = tu_tmp("smollm2-135m");
    synth_check("smollm2-135m", dir);
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir); /* 270 MB */
    assert_int_equal(system(cmd), 0);
}

/* A linear weight must be 2-D; a bad --config reference is a named error. */
static void test_errors(void **state)
{
    (void)state;
    qlm_synth_gen g;
    uint64_t dims[1] = {8};
    assert_status(qlm_synth_gen_init(&g, "model.layers.0.mlp.up_proj.weight", 1, dims, 1), QLM_E_SHAPE);
    char ref[1200];
    snprintf(ref, sizeof ref, "%s#no-such-model", tu_shared("golden/synth.json"));
    qlm_synth_opts o = {.config = ref, .tokenizer = tu_shared("models/tokenizers/qwen3-0.6b"),
                        .out_dir = tu_tmp("none")};
    assert_status(qlm_synth(&o), QLM_E_MISSING);
    o.config = tu_shared("models/tokenizers/qwen3-0.6b/config.json");
    assert_status(qlm_synth(&o), QLM_E_ARG); /* a plain config needs --seed */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fnv1a64),
        cmocka_unit_test(test_llama3_tiny),
        cmocka_unit_test(test_smollm2_135m),
        cmocka_unit_test(test_errors),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tu_tmpdir()); /* tens of MB of models; kept on failure */
    if (!failed && system(cmd) != 0)
        return 1;
    return failed;
}
