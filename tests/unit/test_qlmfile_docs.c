/* docs/FORMAT.md must document every metadata key of formats/qlm/keys.h and
 * every dtype of formats/qlm/dtype.h: keys.h is the contract between the
 * converters and the runtime, FORMAT.md is what people read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/qlm/dtype.h"
#include "tests/common/testutil.h"

static void test_every_key_documented(void **state)
{
    (void)state;
    char *keys = tu_read(tu_source("formats/qlm/keys.h"), NULL);
    char *doc = tu_read(tu_source("docs/FORMAT.md"), NULL);
    int n = 0;
    for (char *p = strstr(keys, "#define QLM_K_"); p; p = strstr(p + 1, "#define QLM_K_")) {
        char *q = strchr(p, '"'), *eol = strchr(p, '\n');
        if (!q || (eol && q > eol))
            continue;
        char *end = strchr(q + 1, '"');
        assert_non_null(end);
        char want[300];
        snprintf(want, sizeof want, "| `%.*s` |", (int)(end - q - 1), q + 1);
        if (!strstr(doc, want))
            fail_msg("docs/FORMAT.md has no table row for key %s", want);
        n++;
    }
    assert_true(n >= 40); /* the parse found the keys */
    free(keys);
    free(doc);
}

static void test_every_dtype_documented(void **state)
{
    (void)state;
    char *doc = tu_read(tu_source("docs/FORMAT.md"), NULL);
    for (uint32_t id = 0; id < QLM_DT_COUNT_KNOWN; id++) {
        if (!qlm_dtype_get(id))
            continue;
        char want[64];
        snprintf(want, sizeof want, "| %u | `%s` |", id, qlm_dtype_get(id)->name);
        if (!strstr(doc, want))
            fail_msg("docs/FORMAT.md has no dtype row '%s'", want);
    }
    free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_key_documented),
        cmocka_unit_test(test_every_dtype_documented),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
