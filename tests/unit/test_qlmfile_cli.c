/* `qlm inspect` through the real binary on a file written by the test:
 * names, dtypes, shapes, totals (re-derived here from the fixture table),
 * --json parsed back, --verify catching a flipped data byte, usage errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/common/json.h"
#include "formats/qlm/qlmfile.h"
#include "tests/common/qlmfixture.h"
#include "tests/common/testutil.h"

static int run(char **out, const char *fmt, const char *arg)
{
    char cmd[8192];
    char tail[4200];
    snprintf(tail, sizeof tail, fmt, arg);
    snprintf(cmd, sizeof cmd, "'%s' %s", tu_qlm_bin(), tail);
    return tu_run(cmd, out);
}

static void shape_of(const tu_fix_tensor *t, char *buf, size_t cap)
{
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (uint32_t d = 0; d < t->rank; d++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%llu", d ? ", " : "", (unsigned long long)t->dims[d]);
    snprintf(buf + n, cap - n, "]");
}

static void totals(uint64_t *params, uint64_t *bytes)
{
    *params = *bytes = 0;
    for (size_t i = 0; i < tu_fix_n_tensors; i++) {
        uint64_t n = 1;
        for (uint32_t d = 0; d < tu_fix_tensors[i].rank; d++)
            n *= tu_fix_tensors[i].dims[d];
        *params += n;
        *bytes += tu_fix_tensors[i].nbytes;
    }
}

static void test_inspect_text(void **state)
{
    (void)state;
    const char *path = tu_tmp("insp.qlm");
    tu_qlm_fixture(path, tu_fix_n_tensors, 1);
    char *out;
    assert_int_equal(run(&out, "inspect '%s'", path), 0);
    for (size_t i = 0; i < tu_fix_n_tensors; i++) {
        const tu_fix_tensor *t = &tu_fix_tensors[i];
        char shape[128], line[512];
        shape_of(t, shape, sizeof shape);
        /* one table row: name, dtype, shape */
        char *row = strstr(out, t->name);
        if (!row)
            fail_msg("tensor %s not listed:\n%s", t->name, out);
        snprintf(line, sizeof line, " %s ", qlm_dtype_get(t->dtype)->name);
        char *eol = strchr(row, '\n');
        assert_non_null(eol);
        *eol = 0;
        if (!strstr(row, line) || !strstr(row, shape))
            fail_msg("row for %s lacks dtype '%s' or shape %s: %s", t->name, line, shape, row);
        *eol = '\n';
    }
    uint64_t params, bytes;
    totals(&params, &bytes);
    char want[128];
    snprintf(want, sizeof want, "total parameters: %llu\n", (unsigned long long)params);
    assert_non_null(strstr(out, want));
    snprintf(want, sizeof want, "bits per weight: %.4f\n", 8.0 * (double)bytes / (double)params);
    assert_non_null(strstr(out, want));
    assert_non_null(strstr(out, "\"h\xc3\xa9llo \xe2\x82\xac\"")); /* string metadata value */
    assert_non_null(strstr(out, "[1, -2, 2147483647, -2147483648, 0]"));
    free(out);
}

static void test_inspect_json(void **state)
{
    (void)state;
    const char *path = tu_tmp("insp.qlm");
    tu_qlm_fixture(path, tu_fix_n_tensors, 1);
    char *out;
    assert_int_equal(run(&out, "inspect --json --verify '%s'", path), 0);
    json_doc *doc;
    assert_ok(json_parse(out, strlen(out), &doc));
    const json_value *r = json_root(doc);
    const json_value *ts = json_get(r, "tensors");
    assert_non_null(ts);
    assert_int_equal(ts->n, tu_fix_n_tensors);
    for (size_t i = 0; i < tu_fix_n_tensors; i++) {
        const json_value *t = json_at(ts, i);
        assert_string_equal(json_get_str(t, "name"), tu_fix_tensors[i].name);
        assert_string_equal(json_get_str(t, "dtype"), qlm_dtype_get(tu_fix_tensors[i].dtype)->name);
        const json_value *shape = json_get(t, "shape");
        assert_int_equal(shape->n, tu_fix_tensors[i].rank);
        for (uint32_t d = 0; d < tu_fix_tensors[i].rank; d++)
            assert_int_equal(json_at(shape, d)->i, tu_fix_tensors[i].dims[d]);
        assert_int_equal(json_get_i64(t, "nbytes", -1), tu_fix_tensors[i].nbytes);
    }
    uint64_t params, bytes;
    totals(&params, &bytes);
    assert_int_equal(json_get_i64(r, "params", -1), params);
    assert_int_equal(json_get_i64(r, "bytes", -1), bytes);
    assert_true(json_get_bool(r, "verified", false));
    const json_value *meta = json_get(r, "metadata");
    assert_int_equal(meta->n, 17);
    const json_value *strs = json_at(meta, 16);
    assert_string_equal(json_get_str(strs, "key"), "t.a.str");
    assert_int_equal(json_get_i64(strs, "count", -1), 4);
    assert_string_equal(json_as_str(json_at(json_get(strs, "values"), 2), NULL), tu_fix_strs[2]);
    json_free(doc);
    free(out);
}

static void test_inspect_verify(void **state)
{
    (void)state;
    const char *path = tu_tmp("verify.qlm");
    tu_qlm_fixture(path, tu_fix_n_tensors, 1);
    char *out;
    assert_int_equal(run(&out, "inspect --verify '%s'", path), 0);
    assert_non_null(strstr(out, "verify: all 6 tensor checksums OK"));
    free(out);
    /* flip one data byte of tensor 4: the file still opens, --verify names it */
    qlm_file *f;
    assert_ok(qlm_file_open(path, &f));
    uint64_t off = qlm_file_find(f, tu_fix_tensors[4].name)->offset;
    qlm_file_close(f);
    FILE *fp = fopen(path, "r+b");
    fseek(fp, (long)off + 3, SEEK_SET);
    int c = fgetc(fp);
    fseek(fp, (long)off + 3, SEEK_SET);
    fputc(c ^ 0x10, fp);
    fclose(fp);
    assert_int_equal(run(&out, "inspect '%s' > /dev/null", path), 0);
    free(out);
    assert_int_equal(run(&out, "inspect --verify '%s'", path), 1);
    if (!strstr(out, "qlm: ") || !strstr(out, tu_fix_tensors[4].name) || !strstr(out, "checksum"))
        fail_msg("unexpected --verify output: %s", out);
    free(out);
}

static void test_inspect_errors(void **state)
{
    (void)state;
    char *out;
    assert_int_equal(run(&out, "inspect --frobnicate %s", "x"), 2);
    free(out);
    assert_int_equal(run(&out, "inspect%s", ""), 2);
    free(out);
    assert_int_equal(run(&out, "inspect --help%s", ""), 0);
    assert_non_null(strstr(out, "usage: qlm inspect"));
    free(out);
    assert_int_equal(run(&out, "inspect '%s'", tu_tmp("missing.qlm")), 1);
    assert_non_null(strstr(out, "qlm: "));
    free(out);
    /* a corrupt file: one line naming the problem, exit 1, no crash */
    const char *path = tu_tmp("bad.qlm");
    FILE *fp = fopen(path, "wb");
    fputs("\x89QLM\r\n\x1a\n but nothing else", fp);
    fclose(fp);
    assert_int_equal(run(&out, "inspect '%s'", path), 1);
    assert_non_null(strstr(out, "shorter than the 128-byte header"));
    assert_int_equal(strchr(out, '\n') - out + 1, (long)strlen(out)); /* exactly one line */
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inspect_text),
        cmocka_unit_test(test_inspect_json),
        cmocka_unit_test(test_inspect_verify),
        cmocka_unit_test(test_inspect_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
