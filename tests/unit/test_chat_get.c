/* models/get.sh end to end, offline: a catalogue entry whose source is a
 * file:// URL serving a synthetic Hugging Face model (qlm synth on the shared
 * SmolLM2 tokenizer), fetched by curl as the real default model would be.
 * First download, resume of a partial file, a changed file caught by the
 * recorded SHA256SUMS, a pinned sha256 that does not match, the mirror
 * folder, and the offline message when nothing can be fetched. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/common/testutil.h"
#include "formats/common/hash.h"
#include "include/qlm.h"

#define FILES "config.json model.safetensors tokenizer.json chat_template.jinja generation_config.json?"

static char g_remote[4096]; /* g_remote/fake/: the files "on the server" */

static int setup(void **state)
{
    (void)state;
    snprintf(g_remote, sizeof g_remote, "%s", tu_tmp("remote"));
    char cfg[4096], cmd[16384], *out = NULL;
    snprintf(cfg, sizeof cfg, "%s", tu_tmp("synth-config.json"));
    tu_write(cfg, "{\"model_type\": \"llama\", \"vocab_size\": 49152, \"hidden_size\": 64, \"intermediate_size\": 128,"
                    " \"num_hidden_layers\": 1, \"num_attention_heads\": 4, \"num_key_value_heads\": 2,"
                    " \"max_position_embeddings\": 128, \"tie_word_embeddings\": true}");
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' && '%s' synth --config '%s' --tokenizer '%s' --seed 7 -o '%s/fake'",
             g_remote, tu_qlm_bin(), cfg, tu_shared("models/tokenizers/smollm2-135m-instruct"), g_remote);
    int rc = tu_run(cmd, &out);
    if (rc)
        fprintf(stderr, "synth failed: %s\n", out);
    free(out);
    return rc;
}

/* A catalogue folder holding NAME.conf with the given source and extra lines. */
static const char *catalogue(const char *tag, const char *name, const char *source, const char *extra)
{
    static char dir[4096];
    char path[4200], text[8192];
    snprintf(dir, sizeof dir, "%s", tu_tmp(tag));
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/%s.conf", dir, name);
    snprintf(text, sizeof text, "name=Fake\nlicense=Apache-2.0\nsource=%s\nfiles=" FILES "\nquant=q8\ntemplate=chatml\n%s",
             source, extra);
    tu_write(path, text);
    return dir;
}

/* Runs get.sh; stdout into *out, stderr into *err (both malloc'd). */
static int get(const char *catalog, const char *cache, const char *mirror, const char *name, char **out, char **err)
{
    char cmd[16384], errfile[4096];
    snprintf(errfile, sizeof errfile, "%s", tu_tmp("get-stderr.txt"));
    snprintf(cmd, sizeof cmd, "QLM='%s' QLM_CATALOG='%s' QLM_MODEL_CACHE='%s' QLM_MODEL_MIRROR='%s' bash '%s' %s 2>'%s'",
             tu_qlm_bin(), catalog, cache, mirror ? mirror : "", tu_source("models/get.sh"), name, errfile);
    int rc = tu_run(cmd, out);
    *err = tu_read(errfile, NULL);
    return rc;
}

static char *slurp(const char *dir, const char *file, size_t *len)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    return tu_read(path, len);
}

static void assert_same_file(const char *a_dir, const char *b_dir, const char *file)
{
    size_t na, nb;
    char *a = slurp(a_dir, file, &na), *b = slurp(b_dir, file, &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na);
    free(a);
    free(b);
}

/* The .qlm get.sh printed opens through the public API with its tokenizer. */
static void assert_model_ok(const char *out, const char *cache)
{
    char path[4096];
    const char *nl = strchr(out, '\n');
    assert_non_null(nl);
    snprintf(path, sizeof path, "%.*s", (int)(nl - out), out);
    char want[4096];
    snprintf(want, sizeof want, "%s/fake/model-q8.qlm", cache);
    assert_string_equal(path, want);
    assert_string_equal(nl + 1, "chatml\n");
    qlm_lm *lm;
    assert_ok(qlm_lm_open(path, &lm));
    qlm_lm_info info = {.size = sizeof info};
    assert_ok(qlm_lm_get_info(lm, &info));
    assert_int_equal(info.n_tokens, 49152);
    qlm_lm_close(lm);
}

static void test_download_then_cached(void **state)
{
    (void)state;
    char src[4200], remote[4200], cache[4096];
    snprintf(src, sizeof src, "file://%s/fake/", g_remote);
    snprintf(remote, sizeof remote, "%s/fake", g_remote);
    snprintf(cache, sizeof cache, "%s", tu_tmp("cache-first"));
    const char *cat = catalogue("catalog-first", "fake", src, "");
    char *out, *err;
    assert_int_equal(get(cat, cache, NULL, "fake", &out, &err), 0);
    assert_non_null(strstr(err, "downloading file://"));
    assert_model_ok(out, cache);
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/fake", cache);
    assert_same_file(remote, dir, "model.safetensors");
    assert_same_file(remote, dir, "tokenizer.json");
    /* the four files that exist are recorded; the optional one is not */
    char *sums = slurp(dir, "SHA256SUMS", NULL);
    char hex[65];
    size_t n;
    char *cfg = slurp(remote, "config.json", &n);
    qlm_sha256_hex(cfg, n, hex);
    assert_non_null(strstr(sums, hex));
    assert_null(strstr(sums, "generation_config.json"));
    struct stat sb;
    char absent[4400];
    snprintf(absent, sizeof absent, "%s/generation_config.json.absent", dir);
    assert_int_equal(stat(absent, &sb), 0); /* not asked for again */
    free(cfg);
    free(sums);
    free(out);
    free(err);

    /* second time: nothing fetched, nothing converted */
    assert_int_equal(get(cat, cache, NULL, "fake", &out, &err), 0);
    assert_null(strstr(err, "downloading"));
    assert_null(strstr(err, "converting"));
    assert_model_ok(out, cache);
    free(out);
    free(err);

    /* a cached file changed behind our back: caught by the recorded sums */
    char cmd[8400];
    snprintf(cmd, sizeof cmd, "printf ' ' >> '%s/tokenizer.json'", dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(get(cat, cache, NULL, "fake", &out, &err), 1);
    assert_non_null(strstr(err, "checksum mismatch"));
    assert_non_null(strstr(err, "tokenizer.json"));
    free(out);
    free(err);
}

/* A partial download is continued, not restarted: the bytes already there
 * (one deliberately changed) stay, only the rest is fetched. */
static void test_resume_partial(void **state)
{
    (void)state;
    char src[4200], remote[4200], cache[4096], dir[4200], part[4400];
    snprintf(src, sizeof src, "file://%s/fake/", g_remote);
    snprintf(remote, sizeof remote, "%s/fake", g_remote);
    snprintf(cache, sizeof cache, "%s", tu_tmp("cache-resume"));
    snprintf(dir, sizeof dir, "%s/fake", cache);
    snprintf(part, sizeof part, "%s/model.safetensors.part", dir);
    char cmd[8400];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    assert_int_equal(system(cmd), 0);
    size_t n;
    char *whole = slurp(remote, "model.safetensors", &n);
    uint64_t hlen;
    memcpy(&hlen, whole, 8);
    size_t half = n / 2, mark = 8 + (size_t)hlen + 1000; /* inside the embedding's bf16 data */
    assert_true(mark < half);
    whole[mark] ^= 1; /* lowest mantissa bit: still a finite weight */
    FILE *f = fopen(part, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(whole, 1, half, f), half);
    fclose(f);
    whole[mark] ^= 1;

    char *out, *err;
    const char *cat = catalogue("catalog-resume", "fake", src, "");
    assert_int_equal(get(cat, cache, NULL, "fake", &out, &err), 0);
    assert_model_ok(out, cache);
    size_t m;
    char *got = slurp(dir, "model.safetensors", &m);
    assert_int_equal(m, n);
    assert_int_equal(got[mark], whole[mark] ^ 1); /* the kept prefix */
    got[mark] ^= 1;
    assert_memory_equal(got, whole, n); /* everything else from the server */
    free(got);
    free(whole);
    free(out);
    free(err);
}

static void test_pinned_sha256(void **state)
{
    (void)state;
    char src[4200], remote[4200], extra[256], hex[65];
    snprintf(src, sizeof src, "file://%s/fake/", g_remote);
    snprintf(remote, sizeof remote, "%s/fake", g_remote);
    char *out, *err;
    const char *cat = catalogue("catalog-pin-bad", "fake", src,
                                "sha256.config.json=0000000000000000000000000000000000000000000000000000000000000000\n");
    assert_int_equal(get(cat, tu_tmp("cache-pin-bad"), NULL, "fake", &out, &err), 1);
    assert_non_null(strstr(err, "config.json: sha256"));
    assert_non_null(strstr(err, "the catalogue says 0000"));
    free(out);
    free(err);

    size_t n;
    char *cfg = slurp(remote, "config.json", &n);
    qlm_sha256_hex(cfg, n, hex);
    free(cfg);
    snprintf(extra, sizeof extra, "sha256.config.json=%s\n", hex);
    cat = catalogue("catalog-pin-good", "fake", src, extra);
    assert_int_equal(get(cat, tu_tmp("cache-pin-good"), NULL, "fake", &out, &err), 0);
    assert_model_ok(out, tu_tmp("cache-pin-good"));
    free(out);
    free(err);
}

static void test_mirror_and_offline(void **state)
{
    (void)state;
    char *out, *err;
    /* Nothing reachable, nothing cached: one message saying what to do. */
    const char *cat = catalogue("catalog-offline", "fake", "file:///nonexistent-qlm-server/fake/", "");
    assert_int_equal(get(cat, tu_tmp("cache-offline"), NULL, "fake", &out, &err), 1);
    assert_string_equal(out, "");
    assert_non_null(strstr(err, "cannot download file:///nonexistent-qlm-server/fake/config.json"));
    assert_non_null(strstr(err, "QLM_MODEL_MIRROR"));
    assert_non_null(strstr(err, "make chat MODEL="));
    free(out);
    free(err);

    /* The same catalogue entry with the files in a mirror folder: no network needed. */
    assert_int_equal(get(cat, tu_tmp("cache-mirror"), g_remote, "fake", &out, &err), 0);
    assert_null(strstr(err, "downloading file:///nonexistent-qlm-server/fake/config.json"));
    assert_model_ok(out, tu_tmp("cache-mirror"));
    free(out);
    free(err);

    /* An unknown name lists the catalogue. */
    assert_int_equal(get(cat, tu_tmp("cache-mirror"), NULL, "no-such-model", &out, &err), 1);
    assert_non_null(strstr(err, "known: fake"));
    free(out);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_download_then_cached),
        cmocka_unit_test(test_resume_partial),
        cmocka_unit_test(test_pinned_sha256),
        cmocka_unit_test(test_mirror_and_offline),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
