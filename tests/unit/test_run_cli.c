/* `qlm run` end to end on a tiny tokenizer-less model: --dump-logits equals
 * the C API and the double reference, greedy output equals an argmax loop
 * over the C API, --batch JSON lines, --stop, and bad input (exit 1/2 with a
 * one-line message). Without a tokenizer the output is token ids. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/common/json.h"
#include "runtime/model/model.h"
#include "tests/common/testutil.h"
#include "tests/common/tinymodel.h"

static const tiny_spec k_spec = {"llama", 96, 64, 2, 96, 4, 2, 16, 48, false, false, false, 0, 10000.0, QLM_DT_Q8};
static const int32_t k_prompt[] = {5, 17, 3, 90, 41};
#define N_PROMPT 5

static const char *g_model;

static int setup(void **state)
{
    (void)state;
    static char path[4096];
    snprintf(path, sizeof path, "%s", tu_tmp("run.qlm"));
    tiny_free(tiny_write(&k_spec, path, NULL, NULL));
    g_model = path;
    return 0;
}

static int run(const char *args, char **out)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s run -m %s %s", tu_qlm_bin(), g_model, args);
    return tu_run(cmd, out);
}

/* Greedy continuation through the C API: argmax after each step. */
static void api_greedy(int64_t n, int32_t *out)
{
    qlm_model *m;
    assert_ok(qlm_model_open(g_model, &m));
    qlm_ctx *c;
    qlm_ctx_params p = {.n_threads = 1};
    assert_ok(qlm_ctx_new(m, &p, &c));
    float lg[96];
    assert_ok(qlm_ctx_eval(c, k_prompt, N_PROMPT, lg, false));
    for (int64_t i = 0; i < n; i++) {
        int32_t best = 0;
        for (int32_t v = 1; v < 96; v++)
            if (lg[v] > lg[best])
                best = v;
        out[i] = best;
        assert_ok(qlm_ctx_eval(c, &best, 1, lg, false));
    }
    qlm_ctx_free(c);
    qlm_model_close(m);
}

static void test_dump_logits(void **state)
{
    (void)state;
    char args[1024], *out;
    const char *dump = tu_tmp("logits.bin");
    snprintf(args, sizeof args, "--prompt-ids 5,17,3,90,41 --dump-logits %s -n 0 -t 2", dump);
    assert_int_equal(run(args, &out), 0);
    free(out);
    size_t len;
    float *lg = (float *)tu_read(dump, &len);
    assert_int_equal(len, sizeof(float) * N_PROMPT * 96);
    /* equal to the C API bit for bit */
    qlm_model *m;
    assert_ok(qlm_model_open(g_model, &m));
    qlm_ctx *c;
    qlm_ctx_params p = {.n_threads = 1};
    assert_ok(qlm_ctx_new(m, &p, &c));
    float api[N_PROMPT * 96];
    assert_ok(qlm_ctx_eval(c, k_prompt, N_PROMPT, api, true));
    assert_memory_equal(lg, api, sizeof api);
    qlm_ctx_free(c);
    qlm_model_close(m);
    free(lg);
}

/* "5 17 3 90 41 g1 g2 ..." : the prompt echoed, then the continuation. */
static void check_greedy_output(const char *out, const int32_t *want, int n)
{
    char expect[4096];
    size_t k = 0;
    for (int i = 0; i < N_PROMPT; i++)
        k += (size_t)snprintf(expect + k, sizeof expect - k, "%s%d", i ? " " : "", (int)k_prompt[i]);
    for (int i = 0; i < n; i++)
        k += (size_t)snprintf(expect + k, sizeof expect - k, " %d", (int)want[i]);
    snprintf(expect + k, sizeof expect - k, "\n");
    assert_string_equal(out, expect);
}

static void test_greedy(void **state)
{
    (void)state;
    int32_t want[20];
    api_greedy(20, want);
    for (int t = 1; t <= 2; t++) {
        char args[256], *out;
        snprintf(args, sizeof args, "--prompt-ids 5,17,3,90,41 -n 20 --temp 0 -t %d", t);
        assert_int_equal(run(args, &out), 0);
        check_greedy_output(out, want, 20);
        free(out);
    }
    /* a stop string cuts the output before it (here: the 4th generated id) */
    char args[256], *out;
    snprintf(args, sizeof args, "--prompt-ids 5,17,3,90,41 -n 20 --temp 0 --stop ' %d'", (int)want[3]);
    int first = 0;
    while (want[first] != want[3])
        first++;
    assert_int_equal(run(args, &out), 0);
    check_greedy_output(out, want, first);
    free(out);
}

static void test_batch(void **state)
{
    (void)state;
    int32_t want[8];
    api_greedy(8, want);
    const char *in = tu_tmp("batch.jsonl");
    FILE *f = fopen(in, "w");
    fprintf(f, "{\"prompt_ids\": [5, 17, 3, 90, 41], \"n\": 8, \"temp\": 0}\n\n");
    fprintf(f, "{\"prompt_ids\": [5, 17, 3, 90, 41], \"n\": 3, \"temp\": 0}\n");
    fprintf(f, "{\"prompt_ids\": [500]}\n");
    fclose(f);
    char args[512], *out;
    snprintf(args, sizeof args, "--batch %s 2>/dev/null", in);
    assert_int_equal(run(args, &out), 1); /* the third line fails */
    char *save, *line = strtok_r(out, "\n", &save);
    for (int i = 0; i < 3; i++, line = strtok_r(NULL, "\n", &save)) {
        assert_non_null(line);
        json_doc *d;
        assert_ok(json_parse(line, strlen(line), &d));
        const json_value *r = json_root(d);
        if (i == 2) {
            assert_int_equal(json_get_i64(r, "line", 0), 4);
            assert_non_null(strstr(json_get_str(r, "error"), "vocabulary"));
            json_free(d);
            break;
        }
        int n = i == 0 ? 8 : 3;
        char expect[256];
        size_t k = 0;
        for (int j = 0; j < n; j++)
            k += (size_t)snprintf(expect + k, sizeof expect - k, " %d", (int)want[j]);
        assert_string_equal(json_get_str(r, "output"), expect);
        assert_int_equal(json_get_i64(r, "tokens", -1), n);
        assert_int_equal(json_get_i64(r, "prompt_tokens", -1), N_PROMPT);
        assert_string_equal(json_get_str(r, "stop_reason"), "length");
        json_free(d);
    }
    free(out);
}

static void expect_fail(const char *args, int code, const char *needle)
{
    char *out;
    int rc = run(args, &out);
    if (rc != code || !strstr(out, needle))
        fail_msg("qlm run %s: exit %d (want %d), output '%s' (want '%s')", args, rc, code, out, needle);
    /* one line */
    assert_true(strchr(out, '\n') == out + strlen(out) - 1);
    free(out);
}

static void test_bad_input(void **state)
{
    (void)state;
    expect_fail("--prompt-ids 1,2 --bogus", 2, "unknown option '--bogus'");
    expect_fail("--prompt-ids 1,2 -n x", 2, "-n");
    expect_fail("--prompt-ids 1,2 --temp -1", 2, "--temp");
    expect_fail("--prompt-ids 1,2 -p hi", 2, "only one");
    expect_fail("--prompt-ids 1,x,2", 1, "--prompt-ids");
    expect_fail("--prompt-ids 1,2,3,4,5 --ctx 4", 1, "longer than the context");
    expect_fail("--prompt-ids 1,2,3 --ctx 8 -n 6", 1, "beyond the context");
    expect_fail("--prompt-ids 1,2,3 -n 46", 1, "beyond the context"); /* model ctx 48 */
    expect_fail("-p hello", 1, "no tokenizer");
    expect_fail("--prompt-ids 1,96", 1, "vocabulary");
    char *out;
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s run -m %s --prompt-ids 1", tu_qlm_bin(), tu_tmp("missing.qlm"));
    assert_int_equal(tu_run(cmd, &out), 1);
    assert_non_null(strstr(out, "qlm: "));
    free(out);
    snprintf(cmd, sizeof cmd, "%s run --help", tu_qlm_bin());
    assert_int_equal(tu_run(cmd, &out), 0);
    assert_non_null(strstr(out, "usage: qlm run"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dump_logits),
        cmocka_unit_test(test_greedy),
        cmocka_unit_test(test_batch),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
