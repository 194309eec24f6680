/* config.json parsing: real configs (old and transformers-5 spellings) and
 * every rejection class with its named error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/convert/hfconfig.h"
#include "tests/common/testutil.h"

#define BASE                                                                                                 \
    "\"vocab_size\": 1000, \"hidden_size\": 64, \"intermediate_size\": 128, \"num_hidden_layers\": 2, "    \
    "\"num_attention_heads\": 8, \"num_key_value_heads\": 2, \"max_position_embeddings\": 2048"

static qlm_status parse(const char *text, qlm_hfconfig *c)
{
    json_doc *doc;
    assert_ok(json_parse(text, strlen(text), &doc));
    qlm_status rc = qlm_hfconfig_parse(json_root(doc), c);
    json_free(doc);
    return rc;
}

/* The real SmolLM2 and Qwen3 configs (older spelling: top-level rope_theta). */
static void test_real_configs(void **state)
{
    (void)state;
    qlm_hfconfig c;
    assert_ok(qlm_hfconfig_load(tu_shared("models/tokenizers/smollm2-135m-instruct/config.json"), &c));
    assert_int_equal(c.arch, QLM_HF_LLAMA);
    assert_int_equal(c.dim, 576);
    assert_int_equal(c.heads, 9);
    assert_int_equal(c.heads_kv, 3);
    assert_int_equal(c.head_dim, 64);
    assert_true(c.rope_theta == 100000.0);
    assert_int_equal(c.rope, QLM_ROPE_NONE);
    assert_true(c.norm_eps == 1e-5);
    assert_true(c.tied);
    assert_false(c.attn_bias);
    qlm_hf_param *p;
    size_t n;
    assert_ok(qlm_hf_params(&c, &p, &n));
    assert_int_equal(n, 2 + 30 * 9); /* embed + 9 per layer + final norm, no lm_head */
    free(p);

    assert_ok(qlm_hfconfig_load(tu_shared("models/tokenizers/qwen3-0.6b/config.json"), &c));
    assert_int_equal(c.arch, QLM_HF_QWEN3);
    assert_int_equal(c.head_dim, 128); /* explicit: 16 x 128 != hidden 1024 */
    assert_true(c.qk_norm);
    assert_true(c.rope_theta == 1e6);
}

static void test_rope_spellings(void **state)
{
    (void)state;
    qlm_hfconfig c;
    assert_ok(parse("{\"model_type\": \"llama\", " BASE ", \"rope_theta\": 500000.0, \"rope_scaling\": "
                    "{\"rope_type\": \"llama3\", \"factor\": 32.0, \"low_freq_factor\": 1.0, "
                    "\"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 8192}}",
                    &c));
    assert_int_equal(c.rope, QLM_ROPE_LLAMA3);
    assert_true(c.rope_factor == 32.0 && c.rope_theta == 500000.0 && c.rope_orig_ctx == 8192);
    assert_ok(parse("{\"model_type\": \"llama\", " BASE ", \"rope_parameters\": {\"rope_theta\": 250000, "
                    "\"rope_type\": \"linear\", \"factor\": 4}}",
                    &c));
    assert_int_equal(c.rope, QLM_ROPE_LINEAR);
    assert_true(c.rope_factor == 4.0 && c.rope_theta == 250000.0);
    assert_ok(parse("{\"model_type\": \"llama\", " BASE ", \"rope_scaling\": {\"type\": \"linear\", \"factor\": 2}}",
                    &c));
    assert_int_equal(c.rope, QLM_ROPE_LINEAR);
    assert_true(c.rope_theta == 10000.0); /* transformers' default */
    assert_ok(parse("{\"model_type\": \"mistral\", " BASE ", \"sliding_window\": null}", &c));
    assert_int_equal(c.arch, QLM_HF_LLAMA);
    assert_int_equal(c.head_dim, 8);
    assert_false(c.tied); /* LlamaConfig's default */
}

static void test_rejections(void **state)
{
    (void)state;
    qlm_hfconfig c;
    assert_status(parse("{\"model_type\": \"gpt2\", " BASE "}", &c), QLM_E_ARCH);
    assert_non_null(strstr(qlm_errmsg(), "gpt2"));
    assert_status(parse("{" BASE "}", &c), QLM_E_MISSING);
    assert_status(parse("{\"model_type\": \"llama\", \"hidden_size\": 64}", &c), QLM_E_MISSING);
    assert_status(parse("{\"model_type\": \"llama\", " BASE ", \"num_key_value_heads\": 3}", &c), QLM_E_VALUE);
    assert_non_null(strstr(qlm_errmsg(), "num_key_value_heads"));
    assert_status(parse("{\"model_type\": \"llama\", \"vocab_size\": 10, \"hidden_size\": 60, "
                        "\"intermediate_size\": 8, \"num_hidden_layers\": 1, \"num_attention_heads\": 8, "
                        "\"max_position_embeddings\": 64}",
                        &c),
                  QLM_E_VALUE); /* 60 / 8 heads */
    assert_status(parse("{\"model_type\": \"llama\", " BASE ", \"hidden_size\": -64}", &c), QLM_E_VALUE);
    assert_status(parse("{\"model_type\": \"llama\", " BASE ", \"num_hidden_layers\": 1e9}", &c), QLM_E_VALUE);
    assert_status(parse("{\"model_type\": \"mistral\", " BASE ", \"sliding_window\": 4096}", &c), QLM_E_UNSUPPORTED);
    assert_status(parse("{\"model_type\": \"qwen2\", " BASE ", \"use_sliding_window\": true}", &c), QLM_E_UNSUPPORTED);
    assert_status(parse("{\"model_type\": \"llama\", " BASE ", \"attention_bias\": true}", &c), QLM_E_UNSUPPORTED);
    assert_status(parse("{\"model_type\": \"llama\", " BASE ", \"mlp_bias\": true}", &c), QLM_E_UNSUPPORTED);
    assert_status(parse("{\"model_type\": \"llama\", " BASE ", \"hidden_act\": \"gelu\"}", &c), QLM_E_UNSUPPORTED);
    assert_status(parse("{\"model_type\": \"llama\", " BASE ", \"rope_scaling\": {\"rope_type\": \"yarn\", "
                        "\"factor\": 4}}",
                        &c),
                  QLM_E_UNSUPPORTED);
    assert_status(parse("{\"model_type\": \"llama\", " BASE ", \"rope_parameters\": {\"rope_type\": \"llama3\", "
                        "\"factor\": 8}}",
                        &c),
                  QLM_E_MISSING);
    assert_status(parse("{\"model_type\": \"llama\", " BASE ", \"rope_theta\": -1}", &c), QLM_E_VALUE);
    assert_status(parse("{\"model_type\": \"llama\", " BASE ", \"tie_word_embeddings\": \"yes\"}", &c), QLM_E_VALUE);
    assert_status(parse("[1]", &c), QLM_E_JSON);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_configs),
        cmocka_unit_test(test_rope_spellings),
        cmocka_unit_test(test_rejections),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
