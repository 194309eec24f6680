/* qwen2.5-0.5b (q/k/v bias) and qwen3-0.6b (q/k norm, head_dim 128) against
 * Hugging Face's float64 logits, then every synth model converted to
 * bf16/q8/q4: KL divergence and top-1 agreement vs the reference (printed as
 * the README table rows; no pass bar, quantization error is a property of the
 * format). One model on disk at a time. */
#include <stdio.h>

#include "tests/common/synthcheck.h"
#include "tests/common/testutil.h"

static void quant_table(const char *name)
{
    static const char *types[] = {"bf16", "q8", "q4"};
    for (int i = 0; i < 3; i++) {
        const char *q = synth_model(name, types[i]);
        synth_report(name, types[i], q);
        remove(q);
    }
}

static void full(const char *name)
{
    const char *q = synth_model(name, "f32");
    synth_check_f32(name, q);
    remove(q);
    quant_table(name);
    synth_cleanup(name);
}

static void test_qwen2(void **state)
{
    (void)state;
    full("qwen2.5-0.5b");
}

static void test_qwen3(void **state)
{
    (void)state;
    full("qwen3-0.6b");
}

static void test_small_quant(void **state)
{
    (void)state;
    quant_table("smollm2-135m");
    synth_cleanup("smollm2-135m");
    quant_table("llama3-tiny");
    synth_cleanup("llama3-tiny");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_quant),
        cmocka_unit_test(test_qwen2),
        cmocka_unit_test(test_qwen3),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
