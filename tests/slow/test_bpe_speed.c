/* Byte-level BPE throughput on WikiText-2 (wiki.test.raw, 1.29 MB) with the
 * SmolLM2 and Qwen3 vocabularies: prints tokens/s (median thread CPU time of 5 runs) and
 * checks that the ids spell the text back exactly. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/common/bpe_fixture.h"
#include "tests/common/testutil.h"

#define RUNS 5

/* Thread CPU time: on a shared, loaded machine wall time mostly measures
 * the neighbours; CPU time is what the encoder itself spent. */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void bench(const char *name, const char *rel, const char *pre, const char *normalizer)
{
    bpe_fixture f;
    bf_load_json(&f, rel, pre, normalizer);
    size_t len;
    char *text = tu_read(tu_shared("data/wikitext-2/wiki.test.raw"), &len);
    double t[RUNS];
    int32_t *ids = NULL;
    size_t n = 0;
    for (int r = 0; r < RUNS; r++) {
        size_t cap = 0;
        free(ids);
        ids = NULL;
        n = 0;
        double t0 = cpu_now();
        assert_ok(qlm_bpe_encode(f.bpe, text, len, &ids, &n, &cap));
        t[r] = cpu_now() - t0;
    }
    qsort(t, RUNS, sizeof *t, cmp_double);
    printf("%s: wiki.test.raw %zu bytes -> %zu tokens in %.1f ms CPU (median of %d): %.2f M tokens/s, %.1f MB/s\n",
           name, len, n, t[RUNS / 2] * 1e3, RUNS, n / t[RUNS / 2] / 1e6, len / t[RUNS / 2] / 1e6);
    size_t back_len;
    char *back = bf_decode(&f, ids, n, &back_len);
    assert_int_equal(back_len, len);
    assert_memory_equal(back, text, len);
    free(back);
    free(ids);
    free(text);
    bf_free(&f);
}

static void test_smollm2(void **state)
{
    (void)state;
    bench("smollm2", "models/tokenizers/smollm2-135m-instruct/tokenizer.json", "smollm", NULL);
}

static void test_qwen3(void **state)
{
    (void)state;
    bench("qwen3", "models/tokenizers/qwen3-0.6b/tokenizer.json", "qwen2", "NFC");
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_smollm2), cmocka_unit_test(test_qwen3)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
