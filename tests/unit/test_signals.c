/* Signals that used to crash or litter (issue #10):
 *  - a model file truncated while mapped: SIGBUS inside the mapping must
 *    become "qlm: <file> changed or was truncated while in use", exit 1
 *    (the CLI's handler, and qlm_catch_sigbus() for library users);
 *  - SIGINT/SIGTERM during `qlm convert` or `qlm synth` must leave neither
 *    the output nor its temp file. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "formats/common/mapfile.h"
#include "formats/safetensors/safetensors.h"
#include "include/qlm.h"
#include "tests/common/proc.h"
#include "tests/common/testutil.h"

static char g_model[4096];

/* stories260K as a .qlm, converted once by the CLI. */
static int setup(void **state)
{
    (void)state;
    snprintf(g_model, sizeof g_model, "%s", tu_tmp("stories.qlm"));
    char *argv[] = {(char *)tu_qlm_bin(), "convert", (char *)tu_shared("models/stories260K/stories260K.bin"),
                    "--tokenizer", (char *)tu_shared("models/stories260K/tok512.bin"), "-o", g_model, "--quiet",
                    NULL};
    tp_result r;
    tp_run(argv, &r);
    if (!WIFEXITED(r.status) || WEXITSTATUS(r.status))
        fail_msg("convert failed: %s", r.err);
    tp_free(&r);
    return 0;
}

static void copy_file(const char *from, const char *to)
{
    size_t len;
    char *b = tu_read(from, &len);
    FILE *f = fopen(to, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    free(b);
}

static void write_all(int fd, const char *s)
{
    size_t n = strlen(s);
    assert_int_equal(write(fd, s, n), (ssize_t)n);
}

/* One line of the child's stdout (blocking). */
static void read_line(int fd)
{
    char c;
    ssize_t n;
    while ((n = read(fd, &c, 1)) == 1 && c != '\n')
        ;
    assert_int_equal(n, 1);
}

/* `qlm run --batch FIFO`: the model is mapped and has answered one request
 * when we truncate it; the second request then touches the lost pages.
 * The FIFO makes the order deterministic: no timing involved. */
static void test_cli_model_truncated_while_running(void **state)
{
    (void)state;
    const char *model = tu_tmp("victim.qlm"), *fifo = tu_tmp("jobs.fifo");
    copy_file(g_model, model);
    unlink(fifo);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    char *argv[] = {(char *)tu_qlm_bin(), "run", "-m", (char *)model, "--batch", (char *)fifo,
                    "-n", "4", "--temp", "0", "-t", "1", NULL};
    int out, err;
    pid_t pid = tp_spawn(argv, &out, &err);
    int w = open(fifo, O_WRONLY); /* returns once qlm has loaded the model and opened the FIFO */
    assert_true(w >= 0);
    write_all(w, "{\"prompt\": \"Once upon\"}\n");
    read_line(out); /* the first answer: weights were read through the mapping */
    assert_int_equal(truncate(model, 0), 0);
    write_all(w, "{\"prompt\": \"a time\"}\n");
    close(w);
    tp_result r;
    tp_collect(pid, out, err, &r);
    char want[8192];
    snprintf(want, sizeof want, "qlm: %s changed or was truncated while in use\n", model);
    if (!tp_is_one_line_error(&r) || strcmp(r.err, want))
        fail_msg("status %#x, stderr: %s", r.status, r.err);
    tp_free(&r);
}

/* Library users: qlm_catch_sigbus() in a child that touches a truncated map. */
static void test_library_handler(void **state)
{
    (void)state;
    const char *path = tu_tmp("mapped.bin");
    static char page[1 << 16];
    memset(page, 7, sizeof page);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(page, 1, sizeof page, f), sizeof page);
    fclose(f);
    int pe[2];
    assert_int_equal(pipe(pe), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(pe[1], 2);
        qlm_map m;
        if (qlm_map_open(path, &m) || qlm_catch_sigbus() || truncate(path, 0))
            _exit(3);
        volatile uint8_t x = m.data[m.size - 1]; /* SIGBUS */
        (void)x;
        _exit(4);
    }
    close(pe[1]);
    char buf[8192] = {0};
    size_t len = 0;
    for (ssize_t n; (n = read(pe[0], buf + len, sizeof buf - 1 - len)) > 0;)
        len += (size_t)n;
    close(pe[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    char want[8192];
    snprintf(want, sizeof want, "qlm: %s changed or was truncated while in use\n", path);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 1);
    assert_string_equal(buf, want);
}

/* A SIGBUS that is not about a mapped file keeps the default action. */
static void test_foreign_sigbus_still_kills(void **state)
{
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (qlm_catch_sigbus())
            _exit(3);
        raise(SIGBUS);
        _exit(4);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGBUS);
}

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Interrupt a writing command as soon as its temp file `out`.tmp appears.
 * Whatever the timing, afterwards there is either a complete output (the
 * command won the race; `whole` checks it) or nothing: never a temp file,
 * never a partial output. On this machine both commands take far longer
 * than our 1 ms poll, so they are almost always interrupted; the test
 * requires that to happen at least once. */
static void interrupt_writer(char **argv, const char *out, int sig, void (*whole)(const char *out))
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", out);
    int interrupted = 0;
    for (int attempt = 0; attempt < 10 && !interrupted; attempt++) {
        unlink(out);
        unlink(tmp);
        int o, e;
        pid_t pid = tp_spawn(argv, &o, &e);
        for (int waited = 0; !exists(tmp) && waited < 60000; waited++)
            sleep_ms(1);
        kill(pid, sig);
        tp_result r;
        tp_collect(pid, o, e, &r);
        assert_false(exists(tmp));
        if (WIFSIGNALED(r.status)) {
            assert_int_equal(WTERMSIG(r.status), sig);
            assert_false(exists(out));
            interrupted = 1;
        } else {
            assert_true(WIFEXITED(r.status));
            assert_int_equal(WEXITSTATUS(r.status), 0); /* finished first: a whole file */
            whole(out);
        }
        tp_free(&r);
    }
    unlink(out);
    assert_true(interrupted);
}

static void whole_qlm(const char *out)
{
    qlm_lm *lm;
    assert_int_equal(qlm_lm_open(out, &lm), QLM_OK);
    qlm_lm_close(lm);
}

static void interrupt_convert(int sig)
{
    const char *out = tu_tmp("interrupted.qlm");
    char *argv[] = {(char *)tu_qlm_bin(), "convert",
                    (char *)tu_shared("models/stories260K/stories260K-f32.gguf"), "-o", (char *)out,
                    "--type", "q4", "--threads", "1", "--quiet", NULL};
    interrupt_writer(argv, out, sig, whole_qlm);
}

static void test_sigint_during_convert(void **state)
{
    (void)state;
    interrupt_convert(SIGINT);
}

static void test_sigterm_during_convert(void **state)
{
    (void)state;
    interrupt_convert(SIGTERM);
}

static void whole_safetensors(const char *out)
{
    qlm_st *st;
    assert_int_equal(qlm_st_open(out, &st), QLM_OK);
    qlm_st_close(st);
}

/* `qlm synth` writes a 270 MB model.safetensors for smollm2-135m: time
 * enough to be interrupted in the middle of it. */
static void interrupt_synth(int sig)
{
    char config[4200], out[4200];
    snprintf(config, sizeof config, "%s#smollm2-135m", tu_shared("golden/synth.json"));
    const char *dir = tu_tmp("interrupted-synth");
    snprintf(out, sizeof out, "%s/model.safetensors", dir);
    char *argv[] = {(char *)tu_qlm_bin(), "synth", "--config", config, "--tokenizer",
                    (char *)tu_shared("models/tokenizers/smollm2-135m-instruct"), "-o", (char *)dir,
                    "--threads", "1", NULL};
    interrupt_writer(argv, out, sig, whole_safetensors);
}

static void test_sigint_during_synth(void **state)
{
    (void)state;
    interrupt_synth(SIGINT);
}

static void test_sigterm_during_synth(void **state)
{
    (void)state;
    interrupt_synth(SIGTERM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_model_truncated_while_running),
        cmocka_unit_test(test_library_handler),
        cmocka_unit_test(test_foreign_sigbus_still_kills),
        cmocka_unit_test(test_sigint_during_convert),
        cmocka_unit_test(test_sigterm_during_convert),
        cmocka_unit_test(test_sigint_during_synth),
        cmocka_unit_test(test_sigterm_during_synth),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
