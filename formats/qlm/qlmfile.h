/* The .qlm container: reader (mmap, validate, zero-copy views) and writer.
 * Byte-level specification: docs/FORMAT.md. Metadata keys the runtime reads:
 * formats/qlm/keys.h.
 *
 * Reader contract:
 *  - qlm_file_open() maps the file read-only and validates header, metadata
 *    and tensor directory completely before returning; after that every
 *    accessor is bounds-safe by construction. Nothing is allocated from an
 *    unchecked field. A ".qlm.zst" path is decompressed once to a cache file
 *    and that is mapped.
 *  - Tensor data pointers point into the mapping (no copies) and are aligned
 *    to at least 64 bytes.
 *  - Failures return a named qlm_status and a one-line message naming the
 *    field (see err.h).
 * Dims are row-major, PyTorch order: dims[rank-1] is contiguous; a linear
 * weight W[out][in] has dims {out, in}; Q8/Q4 blocks run along dims[rank-1].
 */
#ifndef QLM_QLMFILE_H
#define QLM_QLMFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "formats/common/err.h"
#include "formats/qlm/dtype.h"

#define QLM_MAX_RANK 4

typedef enum {
    QLM_MT_U8 = 0, QLM_MT_I32 = 1, QLM_MT_U32 = 2, QLM_MT_I64 = 3, QLM_MT_U64 = 4,
    QLM_MT_F32 = 5, QLM_MT_F64 = 6, QLM_MT_BOOL = 7, QLM_MT_STRING = 8, QLM_MT_ARRAY = 9
} qlm_meta_type;

typedef struct {
    const char *name;  /* NUL-terminated copy owned by the qlm_file */
    uint32_t dtype;    /* qlm_dtype */
    uint32_t rank;
    uint64_t dims[QLM_MAX_RANK];
    uint64_t n_elems;
    uint64_t offset;   /* absolute file offset of the data */
    uint64_t nbytes;
    uint64_t checksum; /* xxh64 of the data, seed 0 */
    const void *data;  /* into the mapping */
} qlm_tensor;

typedef struct {
    const char *key;       /* NUL-terminated */
    qlm_meta_type type;    /* scalar type, or QLM_MT_ARRAY */
    qlm_meta_type elem;    /* element type when type == QLM_MT_ARRAY */
    uint64_t count;        /* array length (1 for scalars) */
} qlm_meta_info;

typedef struct qlm_file qlm_file;

qlm_status qlm_file_open(const char *path, qlm_file **out);
/* Validate an in-memory image (fuzzing, tests). `data` must outlive the file. */
qlm_status qlm_file_open_mem(const void *data, size_t size, qlm_file **out);
void qlm_file_close(qlm_file *f);
/* Tensor bytes [p, p + n) will rarely be read again (a copy is in use):
 * qlm_map_release for a file opened from a path, nothing for an in-memory
 * image. Reads stay valid and return the same bytes. */
void qlm_file_release(const qlm_file *f, const void *p, size_t n);

uint32_t qlm_file_version(const qlm_file *f);
uint64_t qlm_file_size(const qlm_file *f);

/* Tensors */
size_t qlm_file_n_tensors(const qlm_file *f);
const qlm_tensor *qlm_file_tensor(const qlm_file *f, size_t i);
const qlm_tensor *qlm_file_find(const qlm_file *f, const char *name); /* NULL if absent */
/* Recompute checksum(s): one tensor, or all when t == NULL. QLM_E_CHECKSUM names the tensor. */
qlm_status qlm_file_verify(const qlm_file *f, const qlm_tensor *t);

/* Metadata: typed getters. Integer getters accept any integer type that fits;
 * f64 accepts f32/f64 and integers. Return QLM_E_MISSING if absent, QLM_E_VALUE
 * on a type mismatch (message names the key). */
/* "u8", "i32", "u32", "i64", "u64", "f32", "f64", "bool", "str", "array"; "?" otherwise. */
const char *qlm_meta_type_name(qlm_meta_type t);
size_t qlm_meta_count(const qlm_file *f);
const qlm_meta_info *qlm_meta_at(const qlm_file *f, size_t i);
bool qlm_meta_has(const qlm_file *f, const char *key);
qlm_status qlm_meta_i64(const qlm_file *f, const char *key, int64_t *out);
qlm_status qlm_meta_f64(const qlm_file *f, const char *key, double *out);
qlm_status qlm_meta_bool(const qlm_file *f, const char *key, bool *out);
/* String (not NUL-terminated in the mapping: use len). */
qlm_status qlm_meta_str(const qlm_file *f, const char *key, const char **s, size_t *len);
/* Numeric arrays: pointer to `count` little-endian elements of `elem` in the mapping
 * (may be unaligned for 8-byte types; read with memcpy). */
qlm_status qlm_meta_array(const qlm_file *f, const char *key, qlm_meta_type *elem,
                          uint64_t *count, const void **data);
/* Any numeric/bool scalar: its type and a pointer to its little-endian bytes
 * in the mapping (unaligned; read with memcpy). For tools that print every
 * entry (qlm inspect); the runtime uses the typed getters above. */
qlm_status qlm_meta_scalar(const qlm_file *f, const char *key, qlm_meta_type *type, const void **data);
/* String arrays: element i as (ptr,len). */
qlm_status qlm_meta_str_array_len(const qlm_file *f, const char *key, uint64_t *count);
qlm_status qlm_meta_str_at(const qlm_file *f, const char *key, uint64_t i, const char **s, size_t *len);
/* Convenience with defaults (no error when absent). */
int64_t qlm_meta_i64_or(const qlm_file *f, const char *key, int64_t def);
double qlm_meta_f64_or(const qlm_file *f, const char *key, double def);
bool qlm_meta_bool_or(const qlm_file *f, const char *key, bool def);

/* ---- Writer ----
 * Usage: open; set metadata; declare every tensor; then write each tensor's
 * data exactly once (any order); finish. The file is written to "<path>.tmp"
 * and renamed into place by finish (after fsync); abort removes it, so an
 * interrupted conversion never leaves a half-written model. */
typedef struct qlm_writer qlm_writer;

qlm_status qlm_writer_open(const char *path, qlm_writer **out);
qlm_status qlm_writer_set_i64(qlm_writer *w, const char *key, int64_t v);
qlm_status qlm_writer_set_u64(qlm_writer *w, const char *key, uint64_t v);
qlm_status qlm_writer_set_f64(qlm_writer *w, const char *key, double v);
qlm_status qlm_writer_set_bool(qlm_writer *w, const char *key, bool v);
qlm_status qlm_writer_set_str(qlm_writer *w, const char *key, const char *s, size_t len);
/* Numeric array of `count` elements of type `elem` (host little-endian values). */
qlm_status qlm_writer_set_array(qlm_writer *w, const char *key, qlm_meta_type elem,
                                uint64_t count, const void *data);
qlm_status qlm_writer_set_str_array(qlm_writer *w, const char *key, uint64_t count,
                                    const char *const *strs, const size_t *lens);
/* Declares a tensor; returns its index in *idx. */
qlm_status qlm_writer_add_tensor(qlm_writer *w, const char *name, qlm_dtype dtype, uint32_t rank,
                                 const uint64_t *dims, size_t *idx);
/* Data for tensor idx: exactly its byte size. May be called from one thread at a time. */
qlm_status qlm_writer_write_tensor(qlm_writer *w, size_t idx, const void *data, size_t nbytes);
qlm_status qlm_writer_finish(qlm_writer *w); /* frees w */
void qlm_writer_abort(qlm_writer *w);          /* frees w, removes the temp file */
/* Every metadata entry of f into w (integer scalars as i64/u64, f32 as f64). */
qlm_status qlm_writer_copy_meta(qlm_writer *w, const qlm_file *f);

/* Bytes a tensor of this dtype and shape occupies; QLM_E_OVERFLOW / QLM_E_SIZE
 * (innermost dim not a multiple of the block) / QLM_E_DTYPE. */
qlm_status qlm_tensor_nbytes(uint32_t dtype, uint32_t rank, const uint64_t *dims, uint64_t *nbytes);

#endif
