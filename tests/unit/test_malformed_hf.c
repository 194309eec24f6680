/* Malformed-input corpus, part 2 (part 1: test_malformed_cli.c, which says
 * what a case checks): Hugging Face folders (config.json, the safetensors
 * header, tokenizer.json) through `qlm convert`, JSON nested 10^5 deep,
 * invalid UTF-8 in JSON strings and in prompts, and damaged .qlm.zst files.
 * The base folder is a tiny synthetic Llama written by `qlm synth` with
 * SmolLM2's tokenizer; each case is a folder of symlinks to it with one
 * file replaced. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "formats/qlm/qlmfile.h"
#include "tests/common/malcase.h"
#include "tests/common/testutil.h"

static mc_stats g_stats;
static char g_base[4096], g_case[4096];

/* config.json with one key's value replaced (NULL: as is). */
static const char *const k_keys[] = {"vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                                     "num_attention_heads", "num_key_value_heads", "head_dim",
                                     "max_position_embeddings", "rope_theta", "rms_norm_eps", "tie_word_embeddings"};
static const char *const k_vals[] = {"49152", "32", "64", "1", "2", "1", "16", "256", "10000.0", "1e-05", "true"};
#define N_KEYS (sizeof k_keys / sizeof k_keys[0])

static char *config_text(const char *key, const char *val)
{
    size_t cap = 4096, n = 0;
    char *s = malloc(cap);
    n += (size_t)snprintf(s + n, cap - n, "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\", "
                                          "\"hidden_act\": \"silu\", \"bos_token_id\": 1, \"eos_token_id\": 2");
    for (size_t i = 0; i < N_KEYS; i++)
        n += (size_t)snprintf(s + n, cap - n, ", \"%s\": %s", k_keys[i],
                              key && !strcmp(key, k_keys[i]) ? val : k_vals[i]);
    snprintf(s + n, cap - n, "}\n");
    return s;
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_base, sizeof g_base, "%s", tu_tmp("hf-base"));
    snprintf(g_case, sizeof g_case, "%s", tu_tmp("hf-case"));
    char *cfg = config_text(NULL, NULL);
    const char *cfg_path = tu_tmp("tiny-config.json");
    mc_write(cfg_path, cfg, strlen(cfg));
    free(cfg);
    const char *synth[] = {"synth", "--config", cfg_path, "--tokenizer",
                           tu_shared("models/tokenizers/smollm2-135m-instruct"), "--seed", "1", "-o", g_base,
                           "--threads", "1", NULL};
    mc_stats s = {0};
    mc_check(&s, "synth base folder", MC_ACCEPT, synth);
    /* .qlm.zst opened through the cache: keep the cache inside the build tree */
    setenv("XDG_CACHE_HOME", tu_tmp("cache"), 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    printf("malformed-input cases (HF folders, JSON, prompts, .qlm.zst): %u run, %u rejected with one line, "
           "%u accepted cleanly\n",
           g_stats.n_cases, g_stats.n_rejected, g_stats.n_accepted);
    return 0;
}

/* The case folder: every base file linked, then `name` replaced by data. */
static void make_case(const char *name, const void *data, size_t len)
{
    static const char *const files[] = {"config.json", "model.safetensors", "tokenizer.json",
                                        "chat_template.jinja"};
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", g_case, g_case);
    assert_int_equal(system(cmd), 0);
    char from[8192], to[8192];
    for (size_t i = 0; i < 4; i++) {
        snprintf(to, sizeof to, "%s/%s", g_case, files[i]);
        if (strcmp(files[i], name)) {
            snprintf(from, sizeof from, "%s/%s", g_base, files[i]);
            assert_int_equal(symlink(from, to), 0);
        } else {
            mc_write(to, data, len);
        }
    }
}

static void check_case(const char *label, mc_expect e)
{
    const char *args[] = {"convert", g_case, "-o", tu_tmp("hf-case.qlm"), "--quiet", "--threads", "1", NULL};
    mc_check(&g_stats, label, e, args);
}

static char *deep_json(size_t depth, const char *open, const char *close)
{
    size_t lo = strlen(open), lc = strlen(close);
    char *s = malloc(depth * (lo + lc) + 2);
    for (size_t i = 0; i < depth; i++)
        memcpy(s + i * lo, open, lo);
    s[depth * lo] = '1';
    for (size_t i = 0; i < depth; i++)
        memcpy(s + depth * lo + 1 + i * lc, close, lc);
    s[depth * (lo + lc) + 1] = 0;
    return s;
}

static void test_config_json(void **state)
{
    (void)state;
    static const char *const bad[] = {"0", "-1", "1e30", "4294967297", "-9223372036854775809", "\"x\"", "null",
                                      "1.5", "[]", "{}"};
    char label[128];
    for (size_t k = 0; k < N_KEYS; k++)
        for (size_t v = 0; v < sizeof bad / sizeof bad[0]; v++) {
            char *cfg = config_text(k_keys[k], bad[v]);
            make_case("config.json", cfg, strlen(cfg));
            snprintf(label, sizeof label, "config.json %s = %s", k_keys[k], bad[v]);
            check_case(label, MC_EITHER);
            free(cfg);
        }
    char *cfg = config_text(NULL, NULL);
    size_t len = strlen(cfg);
    for (size_t cut = 0; cut < len; cut += len / 7 + 1) {
        make_case("config.json", cfg, cut);
        snprintf(label, sizeof label, "config.json truncated to %zu bytes", cut);
        check_case(label, MC_REJECT);
    }
    char *utf = strstr(cfg, "LlamaForCausalLM");
    utf[1] = (char)0xC3; /* a lead byte followed by ASCII: invalid UTF-8 */
    make_case("config.json", cfg, len);
    check_case("config.json invalid UTF-8 in a string", MC_REJECT);
    free(cfg);
    static const char *const shapes[][2] = {{"[", "]"}, {"{\"a\":", "}"}};
    for (size_t i = 0; i < 2; i++) {
        char *deep = deep_json(100000, shapes[i][0], shapes[i][1]);
        make_case("config.json", deep, strlen(deep));
        snprintf(label, sizeof label, "config.json nested 10^5 deep (%s)", shapes[i][0]);
        check_case(label, MC_REJECT);
        free(deep);
    }
}

/* ---- safetensors: u64 header length, JSON header, data ---- */

static uint8_t *g_st;
static size_t g_st_len, g_hdr_len;

static void write_st(const char *label, const char *hdr, size_t hdr_len, uint64_t declared, mc_expect e)
{
    size_t data = g_st_len - 8 - g_hdr_len, len = 8 + hdr_len + data;
    uint8_t *img = malloc(len);
    mc_store(img, declared, 8);
    memcpy(img + 8, hdr, hdr_len);
    memcpy(img + 8 + hdr_len, g_st + 8 + g_hdr_len, data);
    make_case("model.safetensors", img, len);
    check_case(label, e);
    free(img);
}

/* The header with the first occurrence of `from` replaced by `to`. */
static void st_edit(const char *label, const char *from, const char *to, mc_expect e)
{
    char *hdr = malloc(g_hdr_len + strlen(to) + 1);
    const char *h = (const char *)g_st + 8;
    const char *at = memmem(h, g_hdr_len, from, strlen(from));
    assert_non_null(at);
    size_t pre = (size_t)(at - h), n = 0;
    memcpy(hdr, h, pre);
    n = pre + (size_t)sprintf(hdr + pre, "%s", to);
    memcpy(hdr + n, at + strlen(from), g_hdr_len - pre - strlen(from));
    n += g_hdr_len - pre - strlen(from);
    write_st(label, hdr, n, n, e);
    free(hdr);
}

/* A header padded by one more space puts every tensor at an odd address.
 * The format does not forbid it (older writers did not pad), so it must
 * convert, to the same .qlm as the aligned original. */
static void misaligned_data(const char *hdr)
{
    char *padded = malloc(g_hdr_len + 1);
    memcpy(padded, hdr, g_hdr_len);
    padded[g_hdr_len] = ' ';
    write_st("safetensors data at an odd offset", padded, g_hdr_len + 1, g_hdr_len + 1, MC_ACCEPT);
    free(padded);
    const char *ref = tu_tmp("hf-aligned.qlm");
    const char *conv[] = {"convert", g_base, "-o", ref, "--quiet", "--threads", "1", NULL};
    mc_check(&g_stats, "aligned original converts", MC_ACCEPT, conv);
    qlm_file *a, *b; /* same tensors, bit for bit (general.name follows the folder name) */
    assert_ok(qlm_file_open(ref, &a));
    assert_ok(qlm_file_open(tu_tmp("hf-case.qlm"), &b));
    assert_int_equal(qlm_file_n_tensors(a), qlm_file_n_tensors(b));
    for (size_t i = 0; i < qlm_file_n_tensors(a); i++) {
        const qlm_tensor *ta = qlm_file_tensor(a, i), *tb = qlm_file_find(b, ta->name);
        assert_non_null(tb);
        assert_true(ta->nbytes == tb->nbytes && !memcmp(ta->data, tb->data, ta->nbytes));
    }
    qlm_file_close(a);
    qlm_file_close(b);
}

static void test_safetensors(void **state)
{
    (void)state;
    char path[8192], label[160];
    snprintf(path, sizeof path, "%s/model.safetensors", g_base);
    g_st = (uint8_t *)tu_read(path, &g_st_len);
    g_hdr_len = (size_t)mc_load(g_st, 8);
    const char *hdr = (const char *)g_st + 8;
    uint64_t v[6];
    for (size_t k = 0; k < mc_edge_values(g_hdr_len, 8, v); k++) {
        snprintf(label, sizeof label, "safetensors header length = %#llx", (unsigned long long)v[k]);
        write_st(label, hdr, g_hdr_len, v[k], MC_REJECT);
    }
    write_st("safetensors header length = file size", hdr, g_hdr_len, g_st_len, MC_REJECT);
    misaligned_data(hdr);
    for (size_t cut = 1; cut < g_hdr_len; cut += g_hdr_len / 6 + 1) {
        snprintf(label, sizeof label, "safetensors header JSON cut at %zu", cut);
        write_st(label, hdr, cut, cut, MC_REJECT);
    }
    /* the first tensor's entry: offsets past EOF, reversed, overlapping; dtype; shape */
    const char *off = memmem(hdr, g_hdr_len, "\"data_offsets\":[", 16);
    assert_non_null(off);
    char first[64];
    size_t k = 0;
    for (const char *p = off + 16; *p != ']' && k < sizeof first - 1; p++)
        first[k++] = *p;
    first[k] = 0; /* "BEGIN,END" */
    char *comma = strchr(first, ',');
    assert_non_null(comma);
    unsigned long long b = strtoull(first, NULL, 10), e = strtoull(comma + 1, NULL, 10);
    char to[128];
    snprintf(to, sizeof to, "%llu,%llu", (unsigned long long)g_st_len, (unsigned long long)g_st_len + (e - b));
    st_edit("safetensors data_offsets past EOF", first, to, MC_REJECT);
    snprintf(to, sizeof to, "%llu,%llu", e, b);
    st_edit("safetensors data_offsets reversed", first, to, MC_REJECT);
    snprintf(to, sizeof to, "%llu,%llu", b + 2, e + 2);
    st_edit("safetensors data_offsets shifted (overlap)", first, to, MC_REJECT);
    snprintf(to, sizeof to, "%llu,18446744073709551615", b);
    st_edit("safetensors data_offsets end = 2^64-1", first, to, MC_REJECT);
    st_edit("safetensors dtype unknown", "\"BF16\"", "\"X9\"", MC_REJECT);
    st_edit("safetensors dtype F64 (size mismatch)", "\"BF16\"", "\"F64\"", MC_REJECT);
    st_edit("safetensors shape product overflows", "\"shape\":[", "\"shape\":[4294967296,4294967296,", MC_REJECT);
    st_edit("safetensors shape negative", "\"shape\":[", "\"shape\":[-1,", MC_REJECT);
    st_edit("safetensors tensor name invalid UTF-8", "\"model.", "\"\xC3(model.", MC_REJECT);
    free(g_st);
}

static void test_tokenizer_json(void **state)
{
    (void)state;
    char path[8192], label[128];
    snprintf(path, sizeof path, "%s/tokenizer.json", g_base);
    size_t len;
    char *tok = tu_read(path, &len);
    uint64_t rs = 7;
    for (size_t i = 0; i < 6; i++) {
        size_t cut = i ? (size_t)(mc_rand(&rs) % len) : 0;
        make_case("tokenizer.json", tok, cut);
        snprintf(label, sizeof label, "tokenizer.json truncated to %zu bytes", cut);
        check_case(label, MC_REJECT);
    }
    char *vocab = strstr(tok, "\"vocab\"");
    assert_non_null(vocab);
    char *q = strchr(vocab + 8, '"'); /* the first token's opening quote */
    char saved = q[1];
    q[1] = (char)0xFF;
    make_case("tokenizer.json", tok, len);
    check_case("tokenizer.json invalid UTF-8 in a token", MC_REJECT);
    q[1] = saved;
    char *deep = deep_json(100000, "{\"model\":", "}");
    make_case("tokenizer.json", deep, strlen(deep));
    check_case("tokenizer.json nested 10^5 deep", MC_REJECT);
    free(deep);
    make_case("tokenizer.json", "{}", 2);
    check_case("tokenizer.json empty object", MC_REJECT);
    free(tok);
}

/* Prompts are text from strangers: invalid UTF-8 is not an error. Documented
 * (README "Security and robustness"): invalid bytes are tokenized as byte
 * tokens (byte-level BPE) or byte fallback (SentencePiece); output decodes
 * them back, exit 0. The JSON variables of `qlm template` are a file: too
 * deep or invalid is rejected. */
static void test_prompts_and_vars(void **state)
{
    (void)state;
    const char *model = tu_tmp("hf-base.qlm");
    const char *conv[] = {"convert", g_base, "-o", model, "--quiet", "--threads", "1", NULL};
    mc_check(&g_stats, "base folder converts", MC_ACCEPT, conv);
    static const char *const prompts[] = {"\xFF\xFE", "caf\xC3", "\xC3(\xE2\x82", "\xF4\x90\x80\x80 x",
                                          "\xED\xA0\x80 surrogate", "a\xC0\xAF overlong"};
    char tokjson[8192];
    snprintf(tokjson, sizeof tokjson, "%s/tokenizer.json", g_base);
    for (size_t i = 0; i < sizeof prompts / sizeof prompts[0]; i++) {
        const char *run[] = {"run", "-m", model, "-p", prompts[i], "-n", "2", "--temp", "0", "-t", "1", NULL};
        mc_check(&g_stats, "invalid UTF-8 prompt (run)", MC_ACCEPT, run);
        const char *t1[] = {"tokenize", "-m", tokjson, prompts[i], NULL};
        mc_check(&g_stats, "invalid UTF-8 text (tokenize, byte-level BPE)", MC_ACCEPT, t1);
        const char *t2[] = {"tokenize", "-m", tu_shared("models/stories260K/tok512.bin"), prompts[i], NULL};
        mc_check(&g_stats, "invalid UTF-8 text (tokenize, SentencePiece)", MC_ACCEPT, t2);
    }
    const char *vars = tu_tmp("vars.json");
    char *deep = deep_json(100000, "[", "]");
    mc_write(vars, deep, strlen(deep));
    free(deep);
    const char *tpl[] = {"template", "chatml", vars, NULL};
    mc_check(&g_stats, "template vars nested 10^5 deep", MC_REJECT, tpl);
    mc_write(vars, "{\"messages\": [{\"role\": \"user\", \"content\": \"\xC3(\"}]}", 48);
    mc_check(&g_stats, "template vars with invalid UTF-8", MC_REJECT, tpl);
}

static void test_qlm_zst(void **state)
{
    (void)state;
    const char *model = tu_tmp("zst-src.qlm"), *zst = tu_tmp("zst-src.qlm.zst"), *bad = tu_tmp("case.qlm.zst");
    const char *conv[] = {"convert", tu_shared("models/stories260K/stories260K.bin"), "--tokenizer",
                          tu_shared("models/stories260K/tok512.bin"), "-o", model, "--quiet", NULL};
    mc_check(&g_stats, "stories260K converts", MC_ACCEPT, conv);
    char cmd[9000]; /* compress reports its ratio on stderr, so not through mc_check */
    snprintf(cmd, sizeof cmd, "'%s' compress '%s' '%s' >/dev/null 2>&1", tu_qlm_bin(), model, zst);
    assert_int_equal(system(cmd), 0);
    size_t len;
    uint8_t *z = (uint8_t *)tu_read(zst, &len);
    uint8_t *img = malloc(len + 16);
    uint64_t rs = 11;
    char label[128];
    const char *inspect[] = {"inspect", bad, NULL};
    const char *decomp[] = {"decompress", bad, tu_tmp("case-out.qlm"), NULL};
    for (size_t i = 0; i < 14; i++) {
        memcpy(img, z, len);
        size_t n = len;
        if (i < 7) {
            n = i < 3 ? (size_t[]){0, 4, 6}[i] : (size_t)(mc_rand(&rs) % len);
            snprintf(label, sizeof label, ".qlm.zst truncated to %zu bytes", n);
        } else if (i < 13) {
            size_t at = 6 + (size_t)(mc_rand(&rs) % (len - 6));
            img[at] ^= 0x5A;
            snprintf(label, sizeof label, ".qlm.zst byte %zu flipped", at);
        } else {
            memcpy(img + len, "trailing", 8);
            n = len + 8;
            snprintf(label, sizeof label, ".qlm.zst with trailing bytes");
        }
        mc_write(bad, img, n);
        mc_check(&g_stats, label, MC_REJECT, inspect);
        mc_check(&g_stats, label, MC_REJECT, decomp);
    }
    free(img);
    free(z);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_json),      cmocka_unit_test(test_safetensors),
        cmocka_unit_test(test_tokenizer_json),   cmocka_unit_test(test_prompts_and_vars),
        cmocka_unit_test(test_qlm_zst),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
