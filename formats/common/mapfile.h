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

/* mmap `path` read-only (MAP_PRIVATE). QLM_E_IO with the OS reason on failure. */
qlm_status qlm_map_open(const char *path, qlm_map *m);
void qlm_map_close(qlm_map *m);

/* Read a whole file into a NUL-terminated malloc'd buffer; files larger than
 * max_bytes are QLM_E_LIMIT. */
qlm_status qlm_read_file(const char *path, size_t max_bytes, char **buf, size_t *len);

/* "dir/name" into buf (cap bytes); QLM_E_ARG naming the path if it does not fit. */
qlm_status qlm_path_join(char *buf, size_t cap, const char *dir, const char *name);

/* True if path exists and is a directory / a regular file. */
int qlm_is_dir(const char *path);
int qlm_is_file(const char *path);

#endif
