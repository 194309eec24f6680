/* stories260K, a real trained model, against llama2.c and llama.cpp outputs
 * kept in shared/models/stories260K:
 *  - the llama2.c checkpoint (f32): `qlm run` greedy from BOS for 256 steps
 *    prints run.c's text exactly, and --sampler llama2c with run.c's seed
 *    reproduces its seeded top-p sample;
 *  - every GGUF converted to its own type: the 60-token greedy continuation
 *    of "Once upon a time" equals llama.cpp's llama-simple;
 *  - perplexity of the first two chunks of WikiText-2 at ctx 128 (the whole
 *    file runs in tests/slow/test_stories_ppl.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/common/json.h"
#include "tests/common/testutil.h"

#define STORIES "models/stories260K/"

static void sh_ok(const char *cmd, char **out)
{
    int rc = tu_run(cmd, out);
    if (rc != 0)
        fail_msg("%s -> exit %d: %s", cmd, rc, *out);
}

static const char *convert(const char *src, const char *type, const char *extra)
{
    static char out[4096];
    snprintf(out, sizeof out, "%s", tu_tmp(type));
    strcat(out, ".qlm");
    char cmd[16384], *o;
    snprintf(cmd, sizeof cmd, "'%s' convert '%s' -o '%s' --type %s --quiet %s", tu_qlm_bin(), tu_shared(src), out,
             type, extra);
    sh_ok(cmd, &o);
    free(o);
    return out;
}

/* stdout of `qlm run` (stderr discarded) */
static char *run(const char *model, const char *args)
{
    char cmd[16384], *out;
    snprintf(cmd, sizeof cmd, "'%s' run -m '%s' -t 1 %s 2>/dev/null", tu_qlm_bin(), model, args);
    sh_ok(cmd, &out);
    return out;
}

static void test_llama2c_checkpoint(void **state)
{
    (void)state;
    char extra[4200];
    snprintf(extra, sizeof extra, "--tokenizer '%s'", tu_shared(STORIES "tok512.bin"));
    const char *m = convert(STORIES "stories260K.bin", "f32", extra);
    /* run.c counts 256 steps from BOS: 256 sampled tokens */
    char *out = run(m, "--temp 0 -n 256");
    char *want = tu_read(tu_shared(STORIES "reference-runc-greedy-256.txt"), NULL);
    assert_string_equal(out, want);
    free(out);
    free(want);
    out = run(m, "--sampler llama2c --temp 1 --top-p 0.9 --seed 133742 -n 256");
    want = tu_read(tu_shared(STORIES "reference-runc-t1-p0.9-s133742.txt"), NULL);
    assert_string_equal(out, want);
    free(out);
    free(want);
    remove(m);
}

/* The continuation llama-simple printed for one GGUF: the text after
 * "== NAME\n<s> " up to the blank line, plus our final newline. */
static char *llamacpp_text(const char *all, const char *name)
{
    char head[64];
    snprintf(head, sizeof head, "== %s\n<s> ", name);
    const char *s = strstr(all, head);
    if (!s)
        fail_msg("llama-simple-greedy-60.txt has no section %s", name);
    s += strlen(head);
    const char *e = strstr(s, "\n\n");
    size_t n = e ? (size_t)(e - s) : strlen(s);
    while (!e && n && s[n - 1] == '\n')
        n--;
    char *t = malloc(n + 2);
    memcpy(t, s, n);
    t[n] = '\n';
    t[n + 1] = 0;
    return t;
}

static void test_gguf_greedy(void **state)
{
    (void)state;
    static const char *gg[][2] = {{"f32", "f32"}, {"f16", "f16"}, {"bf16", "bf16"}, {"q8_0", "q8"}, {"q4_0", "q4"}};
    char *all = tu_read(tu_shared(STORIES "reference-llamacpp/llama-simple-greedy-60.txt"), NULL);
    for (size_t i = 0; i < sizeof gg / sizeof gg[0]; i++) {
        char src[128];
        snprintf(src, sizeof src, STORIES "stories260K-%s.gguf", gg[i][0]);
        const char *m = convert(src, gg[i][1], "");
        char *out = run(m, "-p 'Once upon a time' --temp 0 -n 60");
        char *want = llamacpp_text(all, gg[i][0]);
        if (strcmp(out, want) != 0)
            fail_msg("%s: got\n%s\nllama.cpp:\n%s", gg[i][0], out, want);
        free(out);
        free(want);
        remove(m);
    }
    free(all);
}

/* "[1]75.2332,[2]64.3911," from llama.cpp's summary vs ours, within 0.05%. */
static void test_ppl_first_chunks(void **state)
{
    (void)state;
    const char *m = convert(STORIES "stories260K-f32.gguf", "f32", "");
    char cmd[16384], *out;
    snprintf(cmd, sizeof cmd, "'%s' perplexity -m '%s' -f '%s' --ctx 128 --chunks 2 -t 1 2>/dev/null", tu_qlm_bin(), m,
             tu_shared("data/wikitext-2/wiki.test.raw"));
    sh_ok(cmd, &out);
    char *ref = tu_read(tu_shared(STORIES "reference-llamacpp/ppl_f32.summary.txt"), NULL);
    double a1, a2, b1, b2;
    const char *r = strstr(ref, "[1]");
    assert_non_null(r);
    assert_int_equal(sscanf(r, "[1]%lf,[2]%lf,", &b1, &b2), 2);
    assert_int_equal(sscanf(out, "[1]%lf,[2]%lf,", &a1, &a2), 2);
    print_message("chunk PPL: qlm %.4f %.4f, llama.cpp %.4f %.4f\n", a1, a2, b1, b2);
    assert_true(a1 > b1 * 0.9995 && a1 < b1 * 1.0005);
    assert_true(a2 > b2 * 0.9995 && a2 < b2 * 1.0005);
    assert_non_null(strstr(out, "Final estimate: PPL = "));
    free(out);
    free(ref);
    remove(m);
}

/* -f FILE and --batch give the same text as -p; perplexity's bad input. */
static void test_cli_paths(void **state)
{
    (void)state;
    const char *m = convert(STORIES "stories260K-q8_0.gguf", "q8", "");
    char *p = run(m, "-p 'Once upon a time' --temp 0 -n 40");
    const char *pf = tu_tmp("prompt.txt");
    tu_write(pf, "Once upon a time");
    char args[4400];
    snprintf(args, sizeof args, "-f '%s' --temp 0 -n 40", pf);
    char *q = run(m, args);
    assert_string_equal(p, q);
    free(q);
    /* --batch: the output field is the continuation alone */
    const char *bf = tu_tmp("batch.jsonl");
    tu_write(bf, "{\"prompt\": \"Once upon a time\", \"n\": 40, \"temp\": 0}\n");
    snprintf(args, sizeof args, "--batch '%s'", bf);
    q = run(m, args);
    json_doc *d;
    assert_ok(json_parse(q, strlen(q), &d));
    const char *cont = json_get_str(json_root(d), "output");
    assert_non_null(cont);
    size_t lp = strlen("Once upon a time");
    assert_int_equal(strlen(cont), strlen(p) - lp - 1); /* minus the prompt and the final newline */
    assert_memory_equal(cont, p + lp, strlen(cont));
    assert_string_equal(json_get_str(json_root(d), "prompt"), "Once upon a time");
    json_free(d);
    free(q);
    free(p);

    char cmd[16384], *out;
    snprintf(cmd, sizeof cmd, "'%s' perplexity -m '%s' -f '%s' --ctx 4096", tu_qlm_bin(), m, pf);
    assert_int_equal(tu_run(cmd, &out), 1);
    assert_non_null(strstr(out, "at least 2 x ctx"));
    free(out);
    snprintf(cmd, sizeof cmd, "'%s' perplexity -m '%s' -f '%s' --bogus", tu_qlm_bin(), m, pf);
    assert_int_equal(tu_run(cmd, &out), 2);
    assert_non_null(strstr(out, "unknown option '--bogus'"));
    free(out);
    snprintf(cmd, sizeof cmd, "'%s' perplexity -m '%s'", tu_qlm_bin(), m);
    assert_int_equal(tu_run(cmd, &out), 2);
    free(out);
    remove(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llama2c_checkpoint),
        cmocka_unit_test(test_gguf_greedy),
        cmocka_unit_test(test_ppl_first_chunks),
        cmocka_unit_test(test_cli_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
