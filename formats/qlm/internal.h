/* The qlm_file object shared by the reader (read.c, meta.c) and the zstd
 * cache (zst.c). Not an interface for other layers. */
#ifndef QLM_QLM_INTERNAL_H
#define QLM_QLM_INTERNAL_H

#include "formats/common/mapfile.h"
#include "formats/qlm/qlmfile.h"

typedef struct {
    qlm_meta_info info;
    const uint8_t *val;  /* scalar value / first array element, in the image */
    uint64_t *str_off;   /* string arrays: offset of element i's u32 length from val */
} qlm_meta_entry;

struct qlm_file {
    qlm_map map;         /* owned mapping when opened from a path (else empty) */
    const uint8_t *base;
    uint64_t size;
    uint32_t version;
    size_t n_meta;
    qlm_meta_entry *meta;
    qlm_meta_entry **meta_by_key;  /* sorted by key */
    size_t n_tensors;
    qlm_tensor *tensors;
    qlm_tensor **tensor_by_name;   /* sorted by name */
    char *names;                   /* pool for keys and tensor names */
};

/* Bytes of one element of a scalar metadata type; 0 for STRING/ARRAY/unknown. */
size_t qlm_meta_elem_size(qlm_meta_type t);
const qlm_meta_entry *qlm_meta_find(const qlm_file *f, const char *key);

/* True if the mapping starts with the zstd frame magic. zst.c. */
int qlm_is_zstd(const qlm_map *m);
/* Decompress a .qlm.zst into the cache (once) and return the cached path
 * (malloc'd). zst.c. */
qlm_status qlm_zst_cached(const char *path, char **cache_path);

#endif
