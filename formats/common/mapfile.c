#include "formats/common/mapfile.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Live mappings, for the SIGBUS handler. Writers hold the lock; the handler
 * reads without it (it may interrupt a writer), which is safe because a
 * slot's path and size are written before its base is published, and base is
 * cleared before the slot is reused. */
typedef struct {
    const uint8_t *_Atomic base;
    size_t size;
    char path[256];
} map_slot;

static map_slot g_slots[QLM_MAP_MAX_TRACKED];
static pthread_mutex_t g_slots_lock = PTHREAD_MUTEX_INITIALIZER;

static void track(const uint8_t *base, size_t size, const char *path)
{
    pthread_mutex_lock(&g_slots_lock);
    for (size_t i = 0; i < QLM_MAP_MAX_TRACKED; i++)
        if (!g_slots[i].base) {
            g_slots[i].size = size;
            snprintf(g_slots[i].path, sizeof g_slots[i].path, "%s", path);
            g_slots[i].base = base;
            break;
        }
    pthread_mutex_unlock(&g_slots_lock);
}

static void untrack(const uint8_t *base)
{
    pthread_mutex_lock(&g_slots_lock);
    for (size_t i = 0; i < QLM_MAP_MAX_TRACKED; i++)
        if (g_slots[i].base == base)
            g_slots[i].base = NULL;
    pthread_mutex_unlock(&g_slots_lock);
}

static void say(const char *s) /* async-signal-safe */
{
    for (size_t n = strlen(s); n;) {
        ssize_t w = write(STDERR_FILENO, s, n);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    const uint8_t *a = si->si_addr;
    for (size_t i = 0; i < QLM_MAP_MAX_TRACKED; i++) {
        const uint8_t *b = g_slots[i].base;
        if (b && a >= b && a < b + g_slots[i].size) {
            say("qlm: ");
            say(g_slots[i].path);
            say(" changed or was truncated while in use\n");
            _exit(1);
        }
    }
    /* Not a file we mapped: the default action. A fault re-runs the access
     * when we return; a signal sent by kill() must be raised again. */
    signal(sig, SIG_DFL);
    if (si->si_code <= 0)
        raise(sig);
}

qlm_status qlm_map_catch_sigbus(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGBUS, &sa, NULL) != 0)
        return qlm_fail(QLM_E_IO, "cannot install the SIGBUS handler: %s", strerror(errno));
    return QLM_OK;
}

qlm_status qlm_map_open(const char *path, qlm_map *m)
{
    m->data = NULL;
    m->size = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return qlm_fail(QLM_E_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return qlm_fail(QLM_E_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return qlm_fail(QLM_E_IO, "%s: not a regular file", path);
    }
    if (st.st_size == 0) {
        close(fd);
        return QLM_OK;
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (p == MAP_FAILED)
        return qlm_fail(QLM_E_IO, "%s: cannot mmap: %s", path, strerror(e));
    m->data = p;
    m->size = (size_t)st.st_size;
    track(m->data, m->size, path);
    return QLM_OK;
}

void qlm_map_close(qlm_map *m)
{
    if (m->data) {
        untrack(m->data);
        munmap((void *)m->data, m->size);
    }
    m->data = NULL;
    m->size = 0;
}

void qlm_map_release(const qlm_map *m, const void *p, size_t n)
{
    uintptr_t lo = (uintptr_t)p, hi = lo + n, page = (uintptr_t)sysconf(_SC_PAGESIZE);
    if (!m->data || lo < (uintptr_t)m->data || n > m->size || hi > (uintptr_t)m->data + m->size)
        return;
    lo = (lo + page - 1) & ~(page - 1);
    hi &= ~(page - 1);
    if (lo < hi) /* advice only: on failure the pages simply stay */
        (void)madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

qlm_status qlm_read_file(const char *path, size_t max_bytes, char **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return qlm_fail(QLM_E_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return qlm_fail(QLM_E_IO, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > max_bytes) {
        fclose(f);
        return qlm_fail(QLM_E_LIMIT, "%s: file too large (%lld bytes, limit %zu)", path,
                        (long long)st.st_size, max_bytes);
    }
    size_t n = (size_t)st.st_size;
    char *b = malloc(n + 1);
    if (!b) {
        fclose(f);
        return qlm_fail(QLM_E_NOMEM, "%s: out of memory", path);
    }
    size_t got = fread(b, 1, n, f);
    fclose(f);
    if (got != n) {
        free(b);
        return qlm_fail(QLM_E_IO, "%s: short read", path);
    }
    b[n] = 0;
    *buf = b;
    *len = n;
    return QLM_OK;
}

int qlm_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int qlm_is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

qlm_status qlm_path_join(char *buf, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(buf, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap)
        return qlm_fail(QLM_E_ARG, "path too long: %s/%s", dir, name);
    return QLM_OK;
}
