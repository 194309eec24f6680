/* Internals shared by gguf.c (parsing, validation, tensors) and gguf_meta.c
 * (metadata getters). Everything here has been validated by gguf_open_mem()
 * before any getter runs. */
#ifndef QLM_GGUF_INT_H
#define QLM_GGUF_INT_H

#include "formats/common/mapfile.h"
#include "formats/gguf/gguf.h"

typedef struct {
    char *key;
    gguf_vtype type;
    gguf_vtype elem;   /* arrays */
    uint64_t count;    /* arrays; 1 for scalars */
    size_t off;        /* scalar value / first array element / string length prefix */
    size_t *str_off;   /* string arrays: offset of each element's length prefix */
} gguf_kv;

/* Sorted (name, index) pairs: lookup by bsearch and duplicate detection. */
typedef struct {
    const char *name;
    size_t idx;
} name_ix;

struct gguf_file {
    qlm_map map; /* owned mapping (gguf_open) or empty (gguf_open_mem) */
    const uint8_t *base;
    size_t size;
    uint32_t version;
    uint64_t alignment;
    size_t n_kv;
    gguf_kv *kv;
    name_ix *kv_by_name;
    size_t n_tensors;
    gguf_tensor *tensors;
    name_ix *t_by_name;
};

/* Little-endian unsigned integer of n <= 8 bytes. */
uint64_t gguf_le(const uint8_t *p, unsigned n);
/* Byte size of a fixed-size value type; 0 for string/array/unknown. */
size_t gguf_vtype_size(uint32_t t);
/* Entry named `name` in the sorted index, or NULL. */
const name_ix *gguf_find_name(const name_ix *ix, size_t n, const char *name);

#endif
