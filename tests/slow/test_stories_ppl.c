/* Perplexity of every stories260K GGUF (converted to its own type) on the
 * whole WikiText-2 test file vs llama.cpp's llama-perplexity summaries in
 * shared/models/stories260K/reference-llamacpp: f32 within 0.02%, the others
 * within 0.3% (llama.cpp rounds activations to f16/bf16/q8 before its
 * products and keeps an f16 KV cache; we keep f32). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "formats/common/json.h"
#include "tests/common/testutil.h"

#define STORIES "models/stories260K/"

static double llamacpp_ppl(const char *summary)
{
    char rel[256];
    snprintf(rel, sizeof rel, STORIES "reference-llamacpp/%s", summary);
    char *t = tu_read(tu_shared(rel), NULL);
    const char *f = strstr(t, "Final estimate: PPL = ");
    assert_non_null(f);
    double v = atof(f + strlen("Final estimate: PPL = "));
    free(t);
    return v;
}

static void check(const char *gguf, const char *type, int ctx, const char *summary, double tol)
{
    char model[4200], cmd[16384], src[128], *out;
    snprintf(model, sizeof model, "%s.qlm", tu_tmp(gguf));
    snprintf(src, sizeof src, STORIES "stories260K-%s.gguf", gguf);
    snprintf(cmd, sizeof cmd, "'%s' convert '%s' -o '%s' --type %s --quiet", tu_qlm_bin(), tu_shared(src), model, type);
    if (tu_run(cmd, &out) != 0)
        fail_msg("%s: %s", cmd, out);
    free(out);
    snprintf(cmd, sizeof cmd, "'%s' perplexity -m '%s' -f '%s' --ctx %d --json 2>/dev/null", tu_qlm_bin(), model,
             tu_shared("data/wikitext-2/wiki.test.raw"), ctx);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (tu_run(cmd, &out) != 0)
        fail_msg("%s: %s", cmd, out);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    json_doc *d;
    assert_ok(json_parse(out, strlen(out), &d));
    double ppl = json_get_f64(json_root(d), "ppl", -1), err = json_get_f64(json_root(d), "ppl_err", -1);
    double ref = llamacpp_ppl(summary), rel = fabs(ppl / ref - 1);
    print_message("| %s | %d | %.4f +/- %.5f | %.4f | %.3f%% | %.0f s |\n", gguf, ctx, ppl, err, ref, 100 * rel,
                  (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    if (!(rel <= tol))
        fail_msg("%s ctx %d: PPL %.4f vs llama.cpp %.4f (%.3f%% > %.3f%%)", gguf, ctx, ppl, ref, 100 * rel, 100 * tol);
    json_free(d);
    free(out);
    remove(model);
}

static void test_ppl(void **state)
{
    (void)state;
    check("f32", "f32", 128, "ppl_f32.summary.txt", 0.0002);
    check("f32", "f32", 512, "ppl_f32_c512.summary.txt", 0.0002);
    check("f16", "f16", 128, "ppl_f16.summary.txt", 0.003);
    check("bf16", "bf16", 128, "ppl_bf16.summary.txt", 0.003);
    check("q8_0", "q8", 128, "ppl_q8_0.summary.txt", 0.003);
    check("q4_0", "q4", 128, "ppl_q4_0.summary.txt", 0.003);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_ppl)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
