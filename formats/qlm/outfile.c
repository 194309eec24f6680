#include "formats/qlm/outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Temp paths the signal handler removes. A slot is published (used = 1)
 * only after its path is complete, and cleared before it is reused. */
typedef struct {
    _Atomic int used;
    char tmp[PATH_MAX];
} tmp_slot;

static tmp_slot g_tmps[QLM_OUTFILE_MAX_TRACKED];
static pthread_mutex_t g_tmps_lock = PTHREAD_MUTEX_INITIALIZER;

/* A temp path too long for a slot is simply not removed on a signal. */
static void track(const char *tmp)
{
    if (strlen(tmp) >= PATH_MAX)
        return;
    pthread_mutex_lock(&g_tmps_lock);
    for (size_t i = 0; i < QLM_OUTFILE_MAX_TRACKED; i++)
        if (!g_tmps[i].used) {
            strcpy(g_tmps[i].tmp, tmp);
            g_tmps[i].used = 1;
            break;
        }
    pthread_mutex_unlock(&g_tmps_lock);
}

static void untrack(const char *tmp)
{
    pthread_mutex_lock(&g_tmps_lock);
    for (size_t i = 0; i < QLM_OUTFILE_MAX_TRACKED; i++)
        if (g_tmps[i].used && !strcmp(g_tmps[i].tmp, tmp))
            g_tmps[i].used = 0;
    pthread_mutex_unlock(&g_tmps_lock);
}

static void on_signal(int sig)
{
    for (size_t i = 0; i < QLM_OUTFILE_MAX_TRACKED; i++)
        if (g_tmps[i].used)
            unlink(g_tmps[i].tmp);
    signal(sig, SIG_DFL);
    raise(sig);
}

qlm_status qlm_outfile_catch_signals(void)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaddset(&sa.sa_mask, sigs[i]); /* one cleanup at a time */
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        if (sigaction(sigs[i], &sa, NULL) != 0)
            return qlm_fail(QLM_E_IO, "cannot install a signal handler: %s", strerror(errno));
    return QLM_OK;
}

qlm_status qlm_outfile_open(qlm_outfile *o, const char *path, const char *suffix)
{
    size_t n = strlen(path), s = strlen(suffix);
    o->fd = -1;
    o->path = strdup(path);
    o->tmp = malloc(n + 4 + s + 1);
    if (!o->path || !o->tmp) {
        qlm_outfile_abort(o);
        return qlm_fail(QLM_E_NOMEM, "%s: out of memory", path);
    }
    memcpy(o->tmp, path, n);
    memcpy(o->tmp + n, ".tmp", 4);
    memcpy(o->tmp + n + 4, suffix, s + 1);
    track(o->tmp); /* before the file exists, so a signal cannot miss it */
    o->fd = open(o->tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (o->fd < 0) {
        qlm_status st = qlm_fail(QLM_E_IO, "%s: cannot create: %s", o->tmp, strerror(errno));
        untrack(o->tmp);
        free(o->tmp);
        o->tmp = NULL; /* nothing to unlink */
        qlm_outfile_abort(o);
        return st;
    }
    return QLM_OK;
}

qlm_status qlm_outfile_pwrite(qlm_outfile *o, const void *data, size_t n, uint64_t off)
{
    const uint8_t *p = data;
    while (n) {
        ssize_t k = pwrite(o->fd, p, n > (1u << 30) ? (1u << 30) : n, (off_t)off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return qlm_fail(QLM_E_IO, "%s: write failed: %s", o->tmp, k < 0 ? strerror(errno) : "no progress");
        p += k;
        n -= (size_t)k;
        off += (uint64_t)k;
    }
    return QLM_OK;
}

/* fsync the directory holding `path` so the rename itself is durable. */
static void sync_parent(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(copy);
}

qlm_status qlm_outfile_commit(qlm_outfile *o, uint64_t size)
{
    qlm_status st = QLM_OK;
    if (ftruncate(o->fd, (off_t)size) != 0)
        st = qlm_fail(QLM_E_IO, "%s: cannot set size: %s", o->tmp, strerror(errno));
    if (!st && fsync(o->fd) != 0)
        st = qlm_fail(QLM_E_IO, "%s: fsync failed: %s", o->tmp, strerror(errno));
    int rc = close(o->fd);
    o->fd = -1;
    if (!st && rc != 0)
        st = qlm_fail(QLM_E_IO, "%s: close failed: %s", o->tmp, strerror(errno));
    if (!st && rename(o->tmp, o->path) != 0)
        st = qlm_fail(QLM_E_IO, "%s: cannot rename to %s: %s", o->tmp, o->path, strerror(errno));
    if (st) {
        qlm_outfile_abort(o);
        return st;
    }
    untrack(o->tmp);
    sync_parent(o->path);
    free(o->tmp);
    free(o->path);
    o->tmp = o->path = NULL;
    return QLM_OK;
}

void qlm_outfile_abort(qlm_outfile *o)
{
    if (o->fd >= 0)
        close(o->fd);
    if (o->tmp) {
        unlink(o->tmp);
        untrack(o->tmp);
    }
    free(o->tmp);
    free(o->path);
    o->fd = -1;
    o->tmp = o->path = NULL;
}
