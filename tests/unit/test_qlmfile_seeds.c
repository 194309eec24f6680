/* The fuzz seeds in tests/fuzz/corpus/fuzz_qlm/ are generated, not hand-made:
 * this test regenerates them through the writer and fails if the committed
 * files differ (e.g. after a format change). Regenerate with
 *   QLM_WRITE_SEEDS=1 build/test_qlmfile_seeds
 * which writes them into the source tree. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/qlm/qlmfile.h"
#include "tests/common/qlmfixture.h"
#include "tests/common/testutil.h"

typedef struct {
    const char *name;
    size_t n_tensors;
    int with_meta;
} seed;

static const seed k_seeds[] = {
    {"full.qlm", 6, 1},
    {"meta_only.qlm", 0, 1},
    {"one_tensor.qlm", 1, 0},
    {"three_tensors.qlm", 3, 0},
    {"empty.qlm", 0, 0},
};

static const char *corpus_path(const char *name)
{
    static char rel[256];
    snprintf(rel, sizeof rel, "tests/fuzz/corpus/fuzz_qlm/%s", name);
    return rel;
}

static void test_seeds_match_generator(void **state)
{
    (void)state;
    const char *write = getenv("QLM_WRITE_SEEDS");
    for (size_t i = 0; i < sizeof k_seeds / sizeof k_seeds[0]; i++) {
        const seed *s = &k_seeds[i];
        assert_true(s->n_tensors <= tu_fix_n_tensors);
        const char *gen = tu_tmp(s->name);
        tu_qlm_fixture(gen, s->n_tensors, s->with_meta);
        size_t n_gen, n_com;
        char *g = tu_read(gen, &n_gen);
        qlm_file *f; /* every seed is a valid file */
        assert_ok(qlm_file_open(gen, &f));
        qlm_file_close(f);
        if (write && *write) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", tu_source("tests/fuzz/corpus/fuzz_qlm"), s->name);
            FILE *fp = fopen(path, "wb");
            assert_non_null(fp);
            assert_int_equal(fwrite(g, 1, n_gen, fp), n_gen);
            fclose(fp);
        }
        char *c = tu_read(tu_source(corpus_path(s->name)), &n_com);
        if (n_com != n_gen || memcmp(c, g, n_gen) != 0)
            fail_msg("%s differs from the generator; regenerate with QLM_WRITE_SEEDS=1", corpus_path(s->name));
        free(c);
        free(g);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_seeds_match_generator)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
