/* include/qlm.h on its own, as a user program sees it: it compiles without
 * qlm's internal headers and its status codes carry the names and values of
 * formats/common/err.h (qlm_strerror comes from the internal table). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "qlm.h"

#define NAMED(c) {c, #c}

static void test_status_names(void **state)
{
    (void)state;
    static const struct { qlm_status s; const char *name; } k[] = {
        NAMED(QLM_E_IO), NAMED(QLM_E_NOMEM), NAMED(QLM_E_ARG), NAMED(QLM_E_MAGIC), NAMED(QLM_E_VERSION),
        NAMED(QLM_E_TRUNCATED), NAMED(QLM_E_BOUNDS), NAMED(QLM_E_OVERLAP), NAMED(QLM_E_ALIGN),
        NAMED(QLM_E_DUPLICATE), NAMED(QLM_E_OVERFLOW), NAMED(QLM_E_SIZE), NAMED(QLM_E_DTYPE),
        NAMED(QLM_E_UTF8), NAMED(QLM_E_CHECKSUM), NAMED(QLM_E_JSON), NAMED(QLM_E_MISSING),
        NAMED(QLM_E_SHAPE), NAMED(QLM_E_ARCH), NAMED(QLM_E_VALUE), NAMED(QLM_E_LIMIT),
        NAMED(QLM_E_UNSUPPORTED), NAMED(QLM_E_ZSTD), NAMED(QLM_E_TOKENIZER), NAMED(QLM_E_TEMPLATE),
        NAMED(QLM_E_INTERRUPTED)};
    assert_int_equal(QLM_OK, 0);
    assert_int_equal(sizeof k / sizeof k[0], QLM_E_COUNT - 1);
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        assert_string_equal(qlm_strerror(k[i].s), k[i].name);
    assert_string_equal(qlm_strerror(QLM_E_COUNT), "QLM_E_UNKNOWN");
}

static void test_params_defaults(void **state)
{
    (void)state;
    qlm_session_params sp = qlm_session_params_default();
    assert_int_equal(sp.size, sizeof sp);
    qlm_sampling_params p = qlm_sampling_params_default();
    assert_int_equal(p.size, sizeof p);
    assert_true(p.temp > 0.79 && p.temp < 0.81 && p.top_k == 40);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_status_names), cmocka_unit_test(test_params_defaults)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
