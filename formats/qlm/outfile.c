#include "formats/qlm/outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    o->fd = open(o->tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (o->fd < 0) {
        qlm_status st = qlm_fail(QLM_E_IO, "%s: cannot create: %s", o->tmp, strerror(errno));
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
    if (o->tmp)
        unlink(o->tmp);
    free(o->tmp);
    free(o->path);
    o->fd = -1;
    o->tmp = o->path = NULL;
}
