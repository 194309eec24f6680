/* make soak: 2,000 scripted turns of qlm chat on stories260K in a 64-token
 * context (every turn overflows it), then resident memory after turn 2,000
 * must be within 2 MiB of what it was after turn 100: nothing leaks or grows
 * with the length of the conversation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/common/testutil.h"

#define TURNS 2000

static long rss_after(const char *out, int which)
{
    const char *p = out;
    long kib = -1;
    for (int k = 0; k <= which; k++) {
        p = strstr(p, ", rss ");
        if (!p)
            fail_msg("no /stats line #%d in the output", which + 1);
        p += 6;
        kib = strtol(p, NULL, 10);
    }
    return kib;
}

static void test_soak(void **state)
{
    (void)state;
    char cmd[16384], *out = NULL;
    const char *model = tu_tmp("stories260K.qlm");
    snprintf(cmd, sizeof cmd, "'%s' convert '%s' -o '%s' --quiet --threads 1", tu_qlm_bin(),
             tu_shared("models/stories260K/stories260K-f32.gguf"), model);
    if (tu_run(cmd, &out) != 0)
        fail_msg("conversion failed: %s", out);
    free(out);
    const char *in = tu_tmp("turns.txt");
    FILE *f = fopen(in, "w");
    assert_non_null(f);
    for (int i = 1; i <= TURNS; i++) {
        fprintf(f, "Turn %d: a dog ran\n", i);
        if (i == 100 || i == TURNS)
            fputs("/stats\n", f);
    }
    fclose(f);
    snprintf(cmd, sizeof cmd,
             "QLM_THREADS=1 QLM_HISTORY='%s' '%s' chat -m '%s' --template chatml --ctx 64 -n 4 "
             "--temp 0.8 --seed 3 < '%s' 2>&1 >/dev/null",
             tu_tmp("history"), tu_qlm_bin(), model, in);
    int rc = tu_run(cmd, &out);
    if (rc != 0)
        fail_msg("qlm chat exited %d:\n%.2000s", rc, out);
    long a = rss_after(out, 0), b = rss_after(out, 1);
    printf("rss after turn 100: %ld KiB, after turn %d: %ld KiB\n", a, TURNS, b);
    assert_true(a > 0 && b > 0);
    if (labs(b - a) > 2048)
        fail_msg("resident memory moved by %ld KiB between turn 100 and turn %d", b - a, TURNS);
    assert_non_null(strstr(out, "[context full"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_soak)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
