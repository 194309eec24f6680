/* qlm kld on stories260K (f32 base, Q4 quant), against independent truths:
 *  - a model against itself: KL exactly 0, top-1 agreement 1, delta PPL 0;
 *  - PPL(Q) and PPL(base) equal `qlm perplexity` of each model (same chunking);
 *  - KL >= 0 (Gibbs) and mean/median/p99/max ordered as statistics must be;
 *  - bad flags exit 2, a missing model exits 1 with "qlm: ". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/common/json.h"
#include "tests/common/testutil.h"

static char g_base[512], g_quant[512], g_text[512];

static int setup(void **state)
{
    (void)state;
    char *out;
    const char *gguf = tu_shared("models/stories260K/stories260K-f32.gguf");
    snprintf(g_base, sizeof g_base, "%s", tu_tmp("kld-f32.qlm"));
    snprintf(g_quant, sizeof g_quant, "%s", tu_tmp("kld-q4.qlm"));
    snprintf(g_text, sizeof g_text, "%s", tu_tmp("kld.txt"));
    if (tu_qlm(&out, "convert '%s' -o '%s' --type f32", gguf, g_base) != 0)
        return fprintf(stderr, "%s", out), free(out), -1;
    free(out);
    if (tu_qlm(&out, "convert '%s' -o '%s' --type q4", gguf, g_quant) != 0)
        return fprintf(stderr, "%s", out), free(out), -1;
    free(out);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "head -c 20000 '%s' > '%s'", tu_shared("data/wikitext-2/wiki.test.raw"), g_text);
    if (tu_run(cmd, &out) != 0)
        return free(out), -1;
    free(out);
    return 0;
}

static json_doc *run_json(const char *fmt, const char *a, const char *b)
{
    char *out, args[1600];
    snprintf(args, sizeof args, fmt, a, b, g_text);
    int rc = tu_qlm(&out, "%s 2>/dev/null", args);
    assert_int_equal(rc, 0);
    json_doc *doc;
    assert_ok(json_parse(out, strlen(out), &doc));
    free(out);
    return doc;
}

static double get(const json_doc *d, const char *k)
{
    double v = json_get_f64(json_root(d), k, -1e300);
    assert_true(v > -1e300);
    return v;
}

static void test_self(void **state)
{
    (void)state;
    json_doc *d = run_json("kld -m '%s' --base '%s' -f '%s' --ctx 64 --chunks 4 --json", g_base, g_base);
    assert_true(get(d, "kld_mean") == 0 && get(d, "kld_max") == 0);
    assert_true(get(d, "top1_agree") == 1.0 && get(d, "delta_ppl") == 0.0);
    assert_int_equal((int)get(d, "scored"), 4 * (64 - 1 - 32));
    json_free(d);
}

static void test_quant_vs_base(void **state)
{
    (void)state;
    json_doc *d = run_json("kld -m '%s' --base '%s' -f '%s' --ctx 64 --chunks 6 --json", g_quant, g_base);
    json_doc *pq = run_json("perplexity -m '%s' %.0s-f '%s' --ctx 64 --chunks 6 --json", g_quant, "");
    json_doc *pb = run_json("perplexity -m '%s' %.0s-f '%s' --ctx 64 --chunks 6 --json", g_base, "");
    assert_float_equal(get(d, "ppl"), get(pq, "ppl"), 1e-5);
    assert_float_equal(get(d, "ppl_base"), get(pb, "ppl"), 1e-5);
    assert_float_equal(get(d, "delta_ppl"), get(pq, "ppl") - get(pb, "ppl"), 2e-5);
    double mean = get(d, "kld_mean"), med = get(d, "kld_median"), p99 = get(d, "kld_p99"), mx = get(d, "kld_max");
    assert_true(mean > 0 && med >= 0 && med <= p99 && p99 <= mx && mean <= mx);
    double top1 = get(d, "top1_agree");
    assert_true(top1 > 0.3 && top1 < 1.0); /* Q4 changes some argmaxes, not most */
    json_free(d);
    json_free(pq);
    json_free(pb);
}

static void test_errors(void **state)
{
    (void)state;
    char *out;
    assert_int_equal(tu_qlm(&out, "kld -m a.qlm -f t.txt"), 2); /* no --base */
    free(out);
    assert_int_equal(tu_qlm(&out, "kld -m a.qlm --base b.qlm -f t.txt --ctx 2"), 2);
    free(out);
    assert_int_equal(tu_qlm(&out, "kld --bogus"), 2);
    free(out);
    assert_int_equal(tu_qlm(&out, "kld -m '%s' --base '%s' -f '%s'", g_quant, tu_tmp("missing.qlm"), g_text), 1);
    assert_non_null(strstr(out, "qlm: "));
    free(out);
    /* 20 kB of text is far too short for 2 x 65536 tokens (or the context is refused) */
    assert_int_equal(tu_qlm(&out, "kld -m '%s' --base '%s' -f '%s' --ctx 65536", g_quant, g_base, g_text), 1);
    assert_non_null(strstr(out, "qlm: "));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_self),
        cmocka_unit_test(test_quant_vs_base),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
