/* `qlm convert` / `qlm synth` command lines: usage errors exit 2, failures
 * exit 1 with "qlm: <message>", a tiny end-to-end run succeeds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/qlm/qlmfile.h"
#include "tests/common/testutil.h"

static void expect(int want_rc, const char *want_text, const char *args)
{
    char *out = NULL;
    int rc = tu_qlm(&out, "%s", args);
    if (rc != want_rc || (want_text && !strstr(out, want_text)))
        fail_msg("qlm %s: exit %d (want %d), output: %s", args, rc, want_rc, out);
    free(out);
}

static void test_usage_errors(void **state)
{
    (void)state;
    expect(0, "usage: qlm convert", "convert --help");
    expect(0, "usage: qlm synth", "synth --help");
    expect(2, "required", "convert");
    expect(2, "--type", "convert x -o y.qlm --type q3");
    expect(2, "--keep", "convert x -o y.qlm --keep nothing");
    expect(2, "--keep", "convert x -o y.qlm --keep 'a=q5'");
    expect(2, "--threads", "convert x -o y.qlm --threads 0");
    expect(2, "unknown flag", "convert x -o y.qlm --frobnicate 1");
    expect(2, "more than one source", "convert x z -o y.qlm");
    expect(2, "required", "synth --config c.json");
    expect(2, "--seed", "synth --config c.json --tokenizer t -o d --seed -3");
    expect(2, "--seed", "synth --config c.json --tokenizer t -o d --seed 12x");
}

static void test_failures(void **state)
{
    (void)state;
    char args[2400];
    expect(1, "qlm: cannot open", "convert /nonexistent/model -o /tmp/never.qlm");
    snprintf(args, sizeof args, "convert '%s' -o '%s'", tu_shared("models/stories260K/stories260K.bin"),
             tu_tmp("x.qlm"));
    expect(1, "--tokenizer", args);
    const char *dir = tu_tmp("badarch");
    char cmd[2400];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' && echo '{\"model_type\": \"gpt_neox\"}' > '%s/config.json'", dir, dir);
    assert_int_equal(system(cmd), 0);
    snprintf(args, sizeof args, "convert '%s' -o '%s'", dir, tu_tmp("x.qlm"));
    expect(1, "qlm: ", args);
    expect(1, "gpt_neox", args);
}

/* A 2-layer model end to end through both commands. */
static void test_end_to_end(void **state)
{
    (void)state;
    const char *cfg = tu_tmp("tiny-config.json"), *dir = tu_tmp("tiny"), *out = tu_tmp("tiny.qlm");
    tu_write(cfg, "{\"model_type\": \"llama\", \"vocab_size\": 49152, \"hidden_size\": 64, \"intermediate_size\": 172,"
             " \"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"num_key_value_heads\": 2,"
             " \"max_position_embeddings\": 128, \"tie_word_embeddings\": true}");
    char args[3000], *o = NULL;
    snprintf(args, sizeof args, "synth --config '%s' --tokenizer '%s' --seed 18446744073709551615 -o '%s'", cfg,
             tu_shared("models/tokenizers/smollm2-135m-instruct"), dir);
    expect(0, NULL, args);
    /* ffn 172 is not a multiple of 32: ffn_down falls back to f16 with a note */
    assert_int_equal(tu_qlm(&o, "convert '%s' -o '%s' --type q4 --keep 'blk.1.*=bf16' --threads 2", dir, out), 0);
    assert_non_null(strstr(o, "note: blk.0.ffn_down.weight"));
    assert_non_null(strstr(o, "bits/weight"));
    free(o);
    qlm_file *q;
    assert_ok(qlm_file_open(out, &q));
    assert_int_equal(qlm_file_find(q, "blk.0.ffn_down.weight")->dtype, QLM_DT_F16);
    assert_int_equal(qlm_file_find(q, "blk.0.ffn_up.weight")->dtype, QLM_DT_Q4);
    assert_int_equal(qlm_file_find(q, "blk.1.ffn_up.weight")->dtype, QLM_DT_BF16);
    assert_int_equal(qlm_file_find(q, "token_embd.weight")->dtype, QLM_DT_Q8);
    assert_null(qlm_file_find(q, "output.weight"));
    qlm_file_close(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_failures),
        cmocka_unit_test(test_end_to_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
