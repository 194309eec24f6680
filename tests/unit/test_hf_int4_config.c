/* quantization_config parsing (formats/convert/hf_int4.h): the spellings
 * AutoGPTQ, GPTQModel, AutoAWQ and vLLM's Marlin checkpoints use, and a named
 * error for each setting qlm cannot keep exactly. The checkpoints themselves
 * are in test_convert_int4ckpt.c. */
#include <string.h>

#include "formats/convert/hf_int4.h"
#include "tests/common/testutil.h"

static qlm_status parse(const char *text, bool autogptq_file, qlm_hfquant *q)
{
    json_doc *doc;
    assert_ok(json_parse(text, strlen(text), &doc));
    qlm_status rc = qlm_hfquant_parse(json_root(doc), autogptq_file, q);
    json_free(doc);
    return rc;
}

static void expect(const char *text, bool file, qlm_hfq_kind kind, int64_t group, bool zero_m1)
{
    qlm_hfquant q;
    assert_ok(parse(text, file, &q));
    if (q.kind != kind || q.group != group || q.zero_m1 != zero_m1)
        fail_msg("%s: got %s group %lld zero_m1 %d", text, qlm_hfq_name(q.kind), (long long)q.group, q.zero_m1);
}

static void expect_err(const char *text, bool file, qlm_status want, const char *msg)
{
    qlm_hfquant q;
    assert_status(parse(text, file, &q), want);
    if (!strstr(qlm_errmsg(), msg))
        fail_msg("%s: message \"%s\" lacks \"%s\"", text, qlm_errmsg(), msg);
}

static void test_accepted(void **state)
{
    (void)state;
    expect("{\"quant_method\": \"gptq\", \"bits\": 4, \"group_size\": 128, \"desc_act\": true}", false, QLM_HFQ_GPTQ,
           128, true);
    expect("{\"quant_method\": \"gptq\", \"bits\": 4, \"group_size\": -1, \"checkpoint_format\": \"gptq_v2\"}", false,
           QLM_HFQ_GPTQ, -1, false);
    expect("{\"quant_method\": \"gptq\", \"bits\": 4, \"group_size\": 256}", false, QLM_HFQ_GPTQ, 256, true);
    /* AutoGPTQ <= 0.7 quantize_config.json: no quant_method, is_marlin_format */
    expect("{\"bits\": 4, \"group_size\": 128}", true, QLM_HFQ_GPTQ, 128, true);
    expect("{\"bits\": 4, \"group_size\": 128, \"is_marlin_format\": true}", true, QLM_HFQ_MARLIN, 128, true);
    expect("{\"quant_method\": \"gptq\", \"bits\": 4, \"group_size\": -1, \"checkpoint_format\": \"marlin\"}", false,
           QLM_HFQ_MARLIN, -1, true);
    expect("{\"quant_method\": \"marlin\", \"group_size\": 128, \"bits\": 4}", false, QLM_HFQ_MARLIN, 128, false);
    /* AutoAWQ's own names, and transformers' AwqConfig */
    expect("{\"quant_method\": \"awq\", \"w_bit\": 4, \"q_group_size\": 128, \"zero_point\": true, \"version\": \"GEMM\"}",
           false, QLM_HFQ_AWQ, 128, false);
    expect("{\"quant_method\": \"awq\", \"bits\": 4, \"group_size\": 128}", false, QLM_HFQ_AWQ, 128, false);
}

static void test_refused(void **state)
{
    (void)state;
    expect_err("{\"quant_method\": \"gptq\", \"bits\": 3, \"group_size\": 128}", false, QLM_E_UNSUPPORTED, "bits = 3");
    expect_err("{\"quant_method\": \"gptq\", \"group_size\": 128}", false, QLM_E_MISSING, "\"bits\"");
    expect_err("{\"quant_method\": \"gptq\", \"bits\": 4}", false, QLM_E_MISSING, "\"group_size\"");
    expect_err("{\"quant_method\": \"gptq\", \"bits\": 4, \"group_size\": 32}", false, QLM_E_UNSUPPORTED,
               "group_size = 32");
    expect_err("{\"quant_method\": \"gptq\", \"bits\": 4, \"group_size\": 0}", false, QLM_E_UNSUPPORTED,
               "group_size = 0");
    expect_err("{\"quant_method\": \"marlin\", \"bits\": 4, \"group_size\": 256}", false, QLM_E_UNSUPPORTED,
               "group_size = 256");
    expect_err("{\"quant_method\": \"awq\", \"bits\": 4, \"group_size\": 128, \"zero_point\": false}", false,
               QLM_E_UNSUPPORTED, "zero_point false");
    expect_err("{\"quant_method\": \"awq\", \"bits\": 4, \"group_size\": 128, \"version\": \"exllama\"}", false,
               QLM_E_UNSUPPORTED, "\"exllama\"");
    expect_err("{\"quant_method\": \"fp8\"}", false, QLM_E_UNSUPPORTED, "quant_method \"fp8\"");
    expect_err("{\"bits\": 4, \"group_size\": 128}", false, QLM_E_UNSUPPORTED, "quant_method \"(none)\"");
    expect_err("[4]", false, QLM_E_JSON, "not an object");
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_accepted), cmocka_unit_test(test_refused)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
