/* qlm bench on the real stories260K model (converted from its Q8_0 GGUF):
 * the JSON lines name every test asked for, the reported mean and standard
 * deviation are those of the reported samples (recomputed here), and bad
 * flags or files fail with the documented exit codes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/common/json.h"
#include "simd/dispatch.h"
#include "tests/common/testutil.h"

static const char *model(void)
{
    static char path[4096];
    if (!path[0]) {
        snprintf(path, sizeof path, "%s", tu_tmp("stories-q8.qlm"));
        char cmd[12000], *out;
        snprintf(cmd, sizeof cmd, "'%s' convert '%s' -o '%s' --type q8 --threads 1 --quiet", tu_qlm_bin(),
                 tu_shared("models/stories260K/stories260K-q8_0.gguf"), path);
        if (tu_run(cmd, &out) != 0)
            fail_msg("%s: %s", cmd, out);
        free(out);
    }
    return path;
}

static double num(const json_value *o, const char *key)
{
    double v;
    if (!json_as_f64(json_get(o, key), &v))
        fail_msg("bench JSON lacks number '%s'", key);
    return v;
}

/* Checks one pp/tg line; returns its test name's first letter. */
static char check_line(const json_value *o, int reps)
{
    const char *test = json_as_str(json_get(o, "test"), NULL);
    assert_non_null(test);
    if (strcmp(test, "read_bw") == 0) {
        assert_true(num(o, "gbps") > 0);
        return 'b';
    }
    const json_value *s = json_get(o, "samples_ts");
    double sum = 0, ss = 0, v[8];
    for (int i = 0; i < reps; i++) {
        if (!json_as_f64(json_at(s, i), &v[i]) || !(v[i] > 0))
            fail_msg("sample %d of %s missing or not positive", i, test);
        sum += v[i];
    }
    assert_null(json_at(s, reps));
    double mean = sum / reps;
    for (int i = 0; i < reps; i++)
        ss += (v[i] - mean) * (v[i] - mean);
    double sd = sqrt(ss / (reps - 1));
    /* printed with 3 decimals */
    assert_true(fabs(num(o, "avg_ts") - mean) < 2e-3 + 1e-6 * mean);
    assert_true(fabs(num(o, "stddev_ts") - sd) < 2e-3 + 1e-6 * mean);
    assert_true(num(o, "avg_ts_cpu") > 0);
    assert_int_equal((int)num(o, "threads"), 1);
    const qlm_kernels *best = NULL;
    for (size_t i = 0; i < qlm_isa_count() && !best; i++)
        best = qlm_isa_kernels(i);
    assert_string_equal(json_as_str(json_get(o, "isa"), NULL), best->name);
    if (test[0] == 't') /* GB/s = weight bytes x tokens/s */
        assert_true(fabs(num(o, "weight_gbps") - num(o, "weight_bytes") * num(o, "avg_ts") / 1e9) <
                    1e-3 + 1e-3 * num(o, "weight_gbps"));
    return test[0];
}

static void test_bench_json(void **state)
{
    (void)state;
    char cmd[12000], *out;
    snprintf(cmd, sizeof cmd, "env -u QLM_ISA '%s' bench -m '%s' -p 16 -n 8 -r 3 -t 1 --json 2>&1", tu_qlm_bin(),
             model());
    if (tu_run(cmd, &out) != 0)
        fail_msg("%s: %s", cmd, out);
    int seen_p = 0, seen_t = 0, seen_b = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        json_doc *d;
        assert_ok(json_parse(line, strlen(line), &d));
        char c = check_line(json_root(d), 3);
        if (c == 'p')
            assert_string_equal(json_as_str(json_get(json_root(d), "test"), NULL), "pp16");
        if (c == 't')
            assert_string_equal(json_as_str(json_get(json_root(d), "test"), NULL), "tg8");
        seen_p += c == 'p', seen_t += c == 't', seen_b += c == 'b';
        json_free(d);
    }
    assert_int_equal(seen_p, 1);
    assert_int_equal(seen_t, 1);
    assert_int_equal(seen_b, 1);
    free(out);
}

static void test_bench_errors(void **state)
{
    (void)state;
    static const struct {
        const char *args;
        int rc;
    } cases[] = {
        {"", 2}, {"-m", 2}, {"-m M -r 0", 2}, {"-m M -t 0", 2}, {"-m M -t 1,x", 2},
        {"-m M -p 0 -n 0", 2}, {"-m M -q 3", 2}, {"-m /nonexistent.qlm", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char args[4096], cmd[12000], *out;
        snprintf(args, sizeof args, "%s", cases[i].args);
        char *m = strstr(args, "M ");
        if (m) { /* a real model, so only the flag is wrong */
            snprintf(cmd, sizeof cmd, "'%s' bench -m '%s' %s", tu_qlm_bin(), model(), m + 2);
        } else {
            snprintf(cmd, sizeof cmd, "'%s' bench %s", tu_qlm_bin(), args);
        }
        int rc = tu_run(cmd, &out);
        if (rc != cases[i].rc || !strstr(out, "qlm"))
            fail_msg("%s -> exit %d (want %d): %s", cmd, rc, cases[i].rc, out);
        free(out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bench_json),
        cmocka_unit_test(test_bench_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
