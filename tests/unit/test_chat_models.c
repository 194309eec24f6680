/* models/get.sh, the script behind `make chat`: catalogue models come from a
 * mirror folder (or the network, which tests never reach: the one URL tried
 * is a closed port on localhost), are sha256-checked and converted once;
 * local .gguf files are converted; being offline gives one clear message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/common/testutil.h"

static char g_cmd[32768];

/* Runs models/get.sh ARG with the test's catalogue and cache. */
static int get(const char *arg, const char *mirror, char **out)
{
    snprintf(g_cmd, sizeof g_cmd,
             "QLM='%s' QLM_CATALOG='%s' QLM_MODEL_CACHE='%s' QLM_MODEL_MIRROR='%s' '%s/models/get.sh' %s 2>&1",
             tu_qlm_bin(), tu_tmp("catalog"), tu_tmp("cache"), mirror ? mirror : "", tu_source_dir(), arg);
    return tu_run(g_cmd, out);
}

static int setup(void **state)
{
    (void)state;
    char cmd[16384], *out = NULL;
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", tu_tmp("catalog"));
    if (tu_run(cmd, &out) != 0)
        return -1;
    free(out);
    /* a tiny synthetic model as the "mirror" of a catalogue entry */
    tu_write(tu_tmp("tiny.json"),
               "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\", \"hidden_size\": 64,"
               " \"intermediate_size\": 128, \"num_hidden_layers\": 1, \"num_attention_heads\": 4,"
               " \"num_key_value_heads\": 2, \"vocab_size\": 49152, \"max_position_embeddings\": 256,"
               " \"rms_norm_eps\": 1e-05, \"rope_theta\": 10000, \"tie_word_embeddings\": true}\n");
    snprintf(cmd, sizeof cmd, "'%s' synth --config '%s' --tokenizer '%s' --seed 1 -o '%s' --threads 1", tu_qlm_bin(),
             tu_tmp("tiny.json"), tu_shared("models/tokenizers/smollm2-135m-instruct"), tu_tmp("mirror"));
    int rc = tu_run(cmd, &out);
    free(out);
    tu_write(tu_tmp("catalog/tiny.conf"), "name=Tiny\nlicense=Apache-2.0\nsource=http://127.0.0.1:9/\n"
                                            "files=config.json model.safetensors tokenizer.json extra.json?\n"
                                            "quant=q8\ntemplate=chatml\n");
    tu_write(tu_tmp("catalog/pinned.conf"), "name=Pinned\nsource=http://127.0.0.1:9/\nfiles=config.json\n"
                                              "sha256.config.json=0000000000000000000000000000000000000000000000000000000000000000\n"
                                              "quant=q8\n");
    tu_write(tu_tmp("catalog/offline.conf"), "name=Offline\nsource=http://127.0.0.1:9/\nfiles=config.json\nquant=q8\n");
    return rc == 0 ? 0 : -1;
}

static void test_offline_message(void **state)
{
    (void)state;
    char *out;
    assert_int_equal(get("offline", NULL, &out), 1);
    assert_non_null(strstr(out, "cannot download http://127.0.0.1:9/config.json"));
    assert_non_null(strstr(out, "make chat MODEL="));
    free(out);
    assert_int_equal(get("no-such-model", NULL, &out), 1);
    assert_non_null(strstr(out, "neither a file nor a catalogue model"));
    free(out);
}

static void test_mirror_checksums_and_cache(void **state)
{
    (void)state;
    char *out;
    /* extra.json is optional: absent from the mirror, its download fails (refused) */
    int rc = get("tiny", tu_tmp("mirror"), &out);
    if (rc != 0)
        fail_msg("get.sh tiny: %s", out);
    char want[8192];
    snprintf(want, sizeof want, "%s/tiny/model-q8.qlm\nchatml\n", tu_tmp("cache"));
    assert_non_null(strstr(out, want));
    assert_non_null(strstr(out, "converting"));
    free(out);
    size_t len;
    char *sums = tu_read(tu_tmp("cache/tiny/SHA256SUMS"), &len);
    assert_non_null(strstr(sums, "  model.safetensors\n"));
    free(sums);
    /* second time: nothing downloaded or converted */
    assert_int_equal(get("tiny", NULL, &out), 0);
    assert_null(strstr(out, "converting"));
    free(out);
    /* a damaged file is caught */
    FILE *f = fopen(tu_tmp("cache/tiny/tokenizer.json"), "a");
    fputc(' ', f);
    fclose(f);
    assert_int_equal(get("tiny", NULL, &out), 1);
    assert_non_null(strstr(out, "checksum mismatch"));
    free(out);
    /* so is a file that does not match the hash pinned in the catalogue */
    assert_int_equal(get("pinned", tu_tmp("mirror"), &out), 1);
    assert_non_null(strstr(out, "the catalogue says"));
    free(out);
}

static void test_local_gguf(void **state)
{
    (void)state;
    char *out, arg[4200];
    snprintf(arg, sizeof arg, "'%s'", tu_shared("models/stories260K/stories260K-f32.gguf"));
    int rc = get(arg, NULL, &out);
    if (rc != 0)
        fail_msg("get.sh gguf: %s", out);
    char want[8192];
    snprintf(want, sizeof want, "%s/converted/stories260K-f32-q8.qlm\nauto\n", tu_tmp("cache"));
    assert_non_null(strstr(out, want));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offline_message),
        cmocka_unit_test(test_mirror_checksums_and_cache),
        cmocka_unit_test(test_local_gguf),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
