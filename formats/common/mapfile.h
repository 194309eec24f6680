/* Read-only file access: whole-file mmap for model data, bounded reads for
 * small text files (JSON, templates). */
#ifndef QLM_MAPFILE_H
#define QLM_MAPFILE_H

#include <stddef.h>
#include <stdint.h>

#include "formats/common/err.h"

typedef struct {
    const uint8_t *data; /* NULL for an empty file */
    size_t size;
} qlm_map;

/* mmap `path` read-only (MAP_PRIVATE). QLM_E_IO with the OS reason on failure.
 * Open mappings are registered (address range and path, up to
 * QLM_MAP_MAX_TRACKED at once) so the SIGBUS handler below can name the file. */
qlm_status qlm_map_open(const char *path, qlm_map *m);
void qlm_map_close(qlm_map *m);
/* Drop this process's pages of [p, p + n) (inside m; the whole pages within
 * the range only): resident memory shrinks, and a later read faults the
 * bytes back in from the file, unchanged. For data the process has copied
 * and will rarely read again. */
void qlm_map_release(const qlm_map *m, const void *p, size_t n);

#define QLM_MAP_MAX_TRACKED 64

/* A mapped file that shrinks (truncated, or rewritten in place) while mapped
 * makes every access to its lost pages raise SIGBUS; no bounds check can
 * prevent that. This installs a process-wide SIGBUS handler: a fault inside
 * a registered mapping writes "qlm: <path> changed or was truncated while in
 * use" to stderr and ends the process with _exit(1); any other SIGBUS gets
 * the default action (a crash, as before). The CLI installs it at start;
 * libqlm exposes it as qlm_catch_sigbus() (include/qlm.h).
 * QLM_E_IO if sigaction fails. */
qlm_status qlm_map_catch_sigbus(void);

/* Read a whole file into a NUL-terminated malloc'd buffer; files larger than
 * max_bytes are QLM_E_LIMIT. */
qlm_status qlm_read_file(const char *path, size_t max_bytes, char **buf, size_t *len);

/* "dir/name" into buf (cap bytes); QLM_E_ARG naming the path if it does not fit. */
qlm_status qlm_path_join(char *buf, size_t cap, const char *dir, const char *name);

/* True if path exists and is a directory / a regular file. */
int qlm_is_dir(const char *path);
int qlm_is_file(const char *path);

#endif
