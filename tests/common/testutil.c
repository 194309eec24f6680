#include "tests/common/testutil.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char g_bufs[8][4096];
static int g_next;

static char *rot(void)
{
    char *b = g_bufs[g_next];
    g_next = (g_next + 1) % 8;
    return b;
}

const char *tu_shared(const char *rel)
{
    const char *root = getenv("QLM_SHARED");
    if (!root || !*root)
        root = QLM_SHARED_DEFAULT;
    char *b = rot();
    snprintf(b, 4096, "%s/%s", root, rel);
    if (access(b, R_OK) != 0)
        fail_msg("reference file missing: %s (set QLM_SHARED to the shared/ data folder)", b);
    return b;
}

const char *tu_source(const char *rel)
{
    char *b = rot();
    snprintf(b, 4096, "%s/%s", QLM_SOURCE_DIR, rel);
    if (access(b, F_OK) != 0)
        fail_msg("source file missing: %s", b);
    return b;
}

static char g_tmpdir[1024];
static pid_t g_tmpdir_owner;

/* Converted models are large: remove the scratch directory when the test
 * binary exits normally (QLM_KEEP_TMP=1 keeps it for debugging). Only the
 * process that created it removes it, so forked children exiting early (pty
 * tests) cannot pull it from under the parent. */
static void remove_tmpdir(void)
{
    const char *keep = getenv("QLM_KEEP_TMP");
    if (getpid() != g_tmpdir_owner || (keep && *keep && strcmp(keep, "0") != 0))
        return;
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "warning: could not remove %s\n", g_tmpdir);
}

const char *tu_tmpdir(void)
{
    if (!g_tmpdir[0]) {
        snprintf(g_tmpdir, sizeof g_tmpdir, "%.900s/tmp/t%ld", QLM_BUILD_DIR, (long)getpid());
        char cmd[1100];
        snprintf(cmd, sizeof cmd, "mkdir -p '%s'", g_tmpdir);
        if (system(cmd) != 0)
            fail_msg("cannot create %s", g_tmpdir);
        g_tmpdir_owner = getpid();
        atexit(remove_tmpdir);
    }
    return g_tmpdir;
}

const char *tu_tmp(const char *name)
{
    char *b = rot();
    snprintf(b, 4096, "%s/%s", tu_tmpdir(), name);
    return b;
}

const char *tu_source_dir(void) { return QLM_SOURCE_DIR; }

const char *tu_qlm_bin(void)
{
    const char *b = getenv("QLM_BIN");
    if (!b || !*b)
        fail_msg("QLM_BIN not set (run through ctest)");
    return b;
}

char *tu_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n)
        fail_msg("cannot read %s", path);
    fclose(f);
    buf[n] = 0;
    if (len)
        *len = (size_t)n;
    return buf;
}

void tu_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        fail_msg("cannot create %s: %s", path, strerror(errno));
    int bad = fputs(text, f) < 0;
    if (fclose(f) != 0 || bad)
        fail_msg("cannot write %s", path);
}

int tu_qlm(char **output, const char *fmt, ...)
{
    char args[3000], cmd[4200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "'%s' %s", tu_qlm_bin(), args);
    return tu_run(cmd, output);
}

int tu_run(const char *cmd, char **output)
{
    char full[8192];
    snprintf(full, sizeof full, "(%s) 2>&1", cmd);
    FILE *p = popen(full, "r");
    if (!p)
        fail_msg("popen failed: %s", cmd);
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n - 1, p)) > 0) {
        n += got;
        if (cap - n < 1024) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    buf[n] = 0;
    int rc = pclose(p);
    if (output)
        *output = buf;
    else
        free(buf);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}
