/* Resource limits (issue #10): every buffer sized from input is checked
 * against the memory budget before it is allocated, and fails with one line
 * naming the needed and the available memory. "Available" is injected with
 * QLM_MEM_LIMIT, so nothing here depends on the machine's memory. Also the
 * documented handling of prompts longer than the context (README: run fails
 * with a message, chat says so and goes on, perplexity needs 2 x ctx). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "formats/common/mem.h"
#include "include/qlm.h"
#include "tests/common/proc.h"
#include "tests/common/testutil.h"

static char g_model[600];

static int setup(void **state)
{
    (void)state;
    snprintf(g_model, sizeof g_model, "%s", tu_tmp("limits.qlm"));
    char *out = NULL;
    int rc = tu_qlm(&out, "convert '%s' -o '%s' --type f32 --quiet --threads 1",
                    tu_shared("models/stories260K/stories260K-f32.gguf"), g_model);
    if (rc)
        fail_msg("convert failed: %s", out);
    free(out);
    return 0;
}

static void test_mem_limit_parsing(void **state)
{
    (void)state;
    static const struct {
        const char *env;
        uint64_t bytes;
    } ok[] = {{"1", 1}, {"1000", 1000}, {"1K", 1024}, {"3m", 3u << 20}, {"2G", 2ull << 30}, {"1T", 1ull << 40}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        setenv("QLM_MEM_LIMIT", ok[i].env, 1);
        assert_true(qlm_mem_available() == ok[i].bytes);
        uint64_t b;
        assert_ok(qlm_mem_budget(&b));
        assert_true(b == ok[i].bytes / 2);
    }
    static const char *const bad[] = {"abc", "1X", "1KB", "-5", "0", "1.5G", " 1", "99999999999T"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setenv("QLM_MEM_LIMIT", bad[i], 1);
        uint64_t b;
        assert_status(qlm_mem_budget(&b), QLM_E_ARG);
        assert_non_null(strstr(qlm_errmsg(), "QLM_MEM_LIMIT"));
        assert_status(qlm_mem_check(1, "x"), QLM_E_ARG);
    }
    setenv("QLM_MEM_LIMIT", "64K", 1);
    assert_ok(qlm_mem_check(32 << 10, "exactly the budget"));
    assert_status(qlm_mem_check((32 << 10) + 1, "one byte more"), QLM_E_NOMEM);
    assert_string_equal(qlm_errmsg(), "one byte more needs 32.0 KiB, only 32.0 KiB of memory may be used for it "
                                      "(half of the 64.0 KiB available; QLM_MEM_LIMIT sets that)");
    unsetenv("QLM_MEM_LIMIT");
}

/* The library: a huge n_ctx, one that does not fit, the default capped. */
static void test_session_limits(void **state)
{
    (void)state;
    qlm_lm *lm;
    assert_ok(qlm_lm_open(g_model, &lm));
    qlm_session_params p = qlm_session_params_default();
    p.n_threads = 1;
    qlm_session *s = NULL;
    p.n_ctx = 1000000000;
    assert_status(qlm_session_new(lm, &p, &s), QLM_E_LIMIT);
    assert_null(s);
    assert_non_null(strstr(qlm_errmsg(), "1000000000"));

    setenv("QLM_MEM_LIMIT", "64K", 1);
    p.n_ctx = 512;
    assert_status(qlm_session_new(lm, &p, &s), QLM_E_NOMEM);
    const char *m = qlm_errmsg();
    if (!strstr(m, "a context of 512 tokens") || !strstr(m, "needs") || !strstr(m, "64.0 KiB available"))
        fail_msg("message: %s", m);

    /* n_ctx 0: the model's own capped to the largest that fits; more
     * memory, more context, up to the model's. */
    qlm_lm_info info = {.size = sizeof info};
    assert_ok(qlm_lm_get_info(lm, &info));
    p.n_ctx = 0;
    int64_t prev = 0;
    static const char *const limits[] = {"600K", "1M", "64M"};
    for (int i = 0; i < 3; i++) {
        setenv("QLM_MEM_LIMIT", limits[i], 1);
        assert_ok(qlm_session_new(lm, &p, &s));
        int64_t n = qlm_session_n_ctx(s);
        qlm_session_free(s);
        assert_true(n > prev && n <= info.ctx_max);
        if (n < info.ctx_max) { /* one more position would not fit */
            p.n_ctx = n + 1;
            assert_status(qlm_session_new(lm, &p, &s), QLM_E_NOMEM);
            p.n_ctx = 0;
        }
        prev = n;
    }
    assert_int_equal(prev, info.ctx_max); /* 64 MiB holds the whole context */
    unsetenv("QLM_MEM_LIMIT");
    qlm_lm_close(lm);
}

/* Runs the CLI with QLM_MEM_LIMIT=limit; expects the one-line memory error
 * on stderr (stdout dropped: bench prints its table header first). */
static void expect_memory_error(const char *limit, const char *args, const char *what)
{
    char *out = NULL;
    setenv("QLM_MEM_LIMIT", limit, 1);
    int rc = tu_qlm(&out, "%s >/dev/null", args);
    unsetenv("QLM_MEM_LIMIT");
    size_t n = strlen(out);
    if (rc != 1 || strncmp(out, "qlm: ", 5) || !strstr(out, what) || !strstr(out, " needs ") ||
        !strstr(out, "available") || !n || out[n - 1] != '\n' || strchr(out, '\n') != out + n - 1)
        fail_msg("qlm %s (QLM_MEM_LIMIT=%s): exit %d, output: %s", args, limit, rc, out);
    free(out);
}

static void test_cli_memory_errors(void **state)
{
    (void)state;
    char args[2900], text[600];
    snprintf(text, sizeof text, "%s", tu_shared("data/wikitext-2/wiki.test.raw"));
    snprintf(args, sizeof args, "run -m '%s' -c 512 -p Once -n 2 -t 1", g_model);
    expect_memory_error("64K", args, "a context of 512 tokens");
    snprintf(args, sizeof args, "chat -m '%s' --template chatml --ctx 512 -t 1 </dev/null", g_model);
    expect_memory_error("64K", args, "a context of 512 tokens");
    snprintf(args, sizeof args, "perplexity -m '%s' -f '%s' --ctx 256 -t 1", g_model, text);
    expect_memory_error("64K", args, "a context of 256 tokens");
    snprintf(args, sizeof args, "kld -m '%s' --base '%s' -f '%s' --ctx 256 -t 1", g_model, g_model, text);
    expect_memory_error("64K", args, "a context of 256 tokens");
    snprintf(args, sizeof args, "bench -m '%s' -p 512 -n 0 -t 1", g_model);
    expect_memory_error("64K", args, "a context of 512 tokens");
    /* Enough memory: a 128-token stories260K context (under 1 MiB) and the
     * logits of its scored half (64 x 512 floats) fit a 1 MiB budget. */
    snprintf(args, sizeof args, "perplexity -m '%s' -f '%s' --ctx 128 --chunks 1 -t 1", g_model, text);
    char *out = NULL;
    setenv("QLM_MEM_LIMIT", "2M", 1);
    int rc = tu_qlm(&out, "%s", args);
    unsetenv("QLM_MEM_LIMIT");
    assert_int_equal(rc, 0); /* fits: the check is not stricter than needed */
    free(out);
    setenv("QLM_MEM_LIMIT", "bad", 1);
    rc = tu_qlm(&out, "%s", args);
    unsetenv("QLM_MEM_LIMIT");
    if (rc != 1 || !strstr(out, "qlm: QLM_MEM_LIMIT='bad' is not a size"))
        fail_msg("exit %d: %s", rc, out);
    free(out);
}

/* --ctx 10^9 is a usage error (exit 2) everywhere, before any model is read. */
static void test_cli_huge_ctx(void **state)
{
    (void)state;
    static const char *const cmds[] = {"run -m '%s' -c 1000000000 -p x", "chat -m '%s' --ctx 1000000000",
                                       "perplexity -m '%s' -f x --ctx 1000000000",
                                       "kld -m '%s' --base x -f x --ctx 1000000000"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        char args[700], *out = NULL;
        snprintf(args, sizeof args, cmds[i], g_model);
        int rc = tu_qlm(&out, "%s </dev/null", args);
        if (rc != 2 || !strstr(out, "1000000000") || strchr(out, '\n') != out + strlen(out) - 1)
            fail_msg("qlm %s: exit %d: %s", args, rc, out);
        free(out);
    }
}

/* Prompts longer than the context, as the README documents them. */
static void test_long_prompts(void **state)
{
    (void)state;
    char *out = NULL;
    const char *story = "Once upon a time there was a little girl named Lily who loved to play outside";
    int rc = tu_qlm(&out, "run -m '%s' -c 16 -p '%s' -n 2 -t 1", g_model, story);
    if (rc != 1 || !strstr(out, "qlm: prompt is ") || !strstr(out, "longer than the context (16)"))
        fail_msg("run: exit %d: %s", rc, out);
    free(out);
    /* chat: the message is refused with a note, the session goes on */
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "printf '%%s\\nHi\\n' '%s' | '%s' chat -m '%s' --template chatml --ctx 48 -n 2 --temp 0 -t 1",
             story, tu_qlm_bin(), g_model);
    rc = tu_run(cmd, &out);
    if (rc != 0 || !strstr(out, "but the context holds 48"))
        fail_msg("chat: exit %d: %s", rc, out);
    free(out);
    /* perplexity: a text shorter than two contexts is an error */
    const char *small = tu_tmp("small.txt");
    FILE *f = fopen(small, "w");
    assert_non_null(f);
    fputs(story, f);
    fclose(f);
    rc = tu_qlm(&out, "perplexity -m '%s' -f '%s' --ctx 64 -t 1", g_model, small);
    if (rc != 1 || !strstr(out, "at least 2 x ctx = 128 are needed"))
        fail_msg("perplexity: exit %d: %s", rc, out);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mem_limit_parsing),
        cmocka_unit_test(test_session_limits),
        cmocka_unit_test(test_cli_memory_errors),
        cmocka_unit_test(test_cli_huge_ctx),
        cmocka_unit_test(test_long_prompts),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
