/* smollm2-135m (llama, tied) and llama3-tiny (llama3 RoPE scaling, untied)
 * from shared/golden/synth.json against Hugging Face's float64 logits. The
 * 0.5B/0.6B models and the quantized-conversion report are in tests/slow. */
#include "tests/common/synthcheck.h"
#include "tests/common/testutil.h"

static void check(const char *name)
{
    const char *q = synth_model(name, "f32");
    synth_check_f32(name, q);
    synth_cleanup(name);
}

static void test_smollm2(void **state)
{
    (void)state;
    check("smollm2-135m");
}

static void test_llama3_tiny(void **state)
{
    (void)state;
    check("llama3-tiny");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_smollm2),
        cmocka_unit_test(test_llama3_tiny),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
