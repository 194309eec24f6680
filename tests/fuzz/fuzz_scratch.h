/* A private scratch folder for the fuzz targets that need files on disk
 * (fuzz_cli, fuzz_qlmzst, fuzz_repl): /tmp/qlm-fuzz-NAME.PID. Nothing may
 * stay behind in /tmp, however the process ends:
 *
 * - normal exit (libFuzzer after -runs or -max_total_time, the replay
 *   tests): removed with everything in it by an atexit handler;
 * - SIGINT, SIGTERM, SIGHUP (Ctrl-C, `timeout`, libFuzzer -fork stopping
 *   its workers): a handler removes it and then passes the signal on to the
 *   handler that was there before (libFuzzer's, which prints its final
 *   stats, or the default action). It is installed at the first input,
 *   after libFuzzer has installed its own: installed earlier, it would make
 *   libFuzzer keep ours and skip its own (libFuzzer never replaces a
 *   handler it finds);
 * - a crash or SIGKILL: the next fuzz_scratch_make() of any target removes
 *   every /tmp/qlm-fuzz-*.PID of ours whose process is gone.
 *
 * Removal from the signal handler uses only system calls (open, getdents64,
 * unlinkat), which are async-signal-safe, so it works whatever the
 * interrupted code was doing. Header-only: each target is one .c file. */
#ifndef QLM_FUZZ_SCRATCH_H
#define QLM_FUZZ_SCRATCH_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static char g_scratch[64];
static pid_t g_scratch_owner;
static struct sigaction g_scratch_old[3];
static const int g_scratch_sigs[3] = {SIGINT, SIGTERM, SIGHUP};

/* Everything below the open folder `dir`; depth-limited like the folders
 * the targets make (a cache subfolder at most). Async-signal-safe. */
static inline void fuzz_scratch_empty(int dir, int depth)
{
    char buf[4096] __attribute__((aligned(8)));
    for (int pass = 0; pass < 64; pass++) { /* entries removed while reading may hide others: rescan */
        int removed = 0;
        long n;
        lseek(dir, 0, SEEK_SET);
        while ((n = syscall(SYS_getdents64, dir, buf, sizeof buf)) > 0)
            for (long off = 0; off < n;) {
                struct {
                    unsigned long long ino;
                    long long off;
                    unsigned short reclen;
                    unsigned char type;
                    char name[];
                } *e = (void *)(buf + off);
                off += e->reclen;
                if (!strcmp(e->name, ".") || !strcmp(e->name, ".."))
                    continue;
                if (e->type == DT_DIR && depth > 0) {
                    int sub = openat(dir, e->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                    if (sub >= 0) {
                        fuzz_scratch_empty(sub, depth - 1);
                        close(sub);
                    }
                    removed += unlinkat(dir, e->name, AT_REMOVEDIR) == 0;
                } else {
                    removed += unlinkat(dir, e->name, 0) == 0;
                }
            }
        if (!removed)
            return;
    }
}

static inline void fuzz_scratch_remove_path(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return;
    fuzz_scratch_empty(fd, 4);
    close(fd);
    rmdir(path);
}

static inline void fuzz_scratch_remove(void)
{
    /* A child made by fork (none of ours do) inherits the atexit handler. */
    if (g_scratch[0] && getpid() == g_scratch_owner)
        fuzz_scratch_remove_path(g_scratch);
}

static inline void fuzz_scratch_on_signal(int sig, siginfo_t *info, void *ctx)
{
    fuzz_scratch_remove();
    for (int i = 0; i < 3; i++) {
        if (g_scratch_sigs[i] != sig)
            continue;
        const struct sigaction *old = &g_scratch_old[i];
        if (old->sa_flags & SA_SIGINFO) {
            old->sa_sigaction(sig, info, ctx);
        } else if (old->sa_handler != SIG_IGN && old->sa_handler != SIG_DFL) {
            old->sa_handler(sig);
        } else if (old->sa_handler == SIG_DFL) {
            sigaction(sig, old, NULL);
            raise(sig);
        }
    }
}

/* Folders /tmp/qlm-fuzz-*.PID of this user whose process no longer exists. */
static inline void fuzz_scratch_sweep(void)
{
    DIR *d = opendir("/tmp");
    if (!d)
        return;
    for (struct dirent *e; (e = readdir(d));) {
        const char *dot = strrchr(e->d_name, '.');
        char *end;
        if (strncmp(e->d_name, "qlm-fuzz-", 9) || !dot)
            continue;
        long pid = strtol(dot + 1, &end, 10);
        char path[300];
        struct stat st;
        snprintf(path, sizeof path, "/tmp/%s", e->d_name);
        if (*end || pid <= 0 || lstat(path, &st) || !S_ISDIR(st.st_mode) || st.st_uid != getuid())
            continue;
        if (kill((pid_t)pid, 0) && errno == ESRCH)
            fuzz_scratch_remove_path(path);
    }
    closedir(d);
}

/* Creates the folder (call once, at the first input) and returns its path. */
static inline const char *fuzz_scratch_make(const char *name)
{
    fuzz_scratch_sweep();
    snprintf(g_scratch, sizeof g_scratch, "/tmp/qlm-fuzz-%s.%ld", name, (long)getpid());
    fuzz_scratch_remove_path(g_scratch); /* left by a dead process that had our pid */
    if (mkdir(g_scratch, 0700)) {
        fprintf(stderr, "fuzz: cannot create %s\n", g_scratch);
        abort();
    }
    g_scratch_owner = getpid();
    atexit(fuzz_scratch_remove);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = fuzz_scratch_on_signal;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < 3; i++)
        if (sigaction(g_scratch_sigs[i], &sa, &g_scratch_old[i]))
            abort();
    return g_scratch;
}

#endif
