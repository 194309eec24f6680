/* .qref.zst: the per-layer tensors of one forward pass (qlm ref), for GPU
 * kernel authors. Layout (docs/GPU-NUMERICS.md section 6), all little-endian,
 * the whole stream compressed as one zstd frame that records its size:
 *
 *   "QLMREF1\n"                         8-byte magic
 *   u32 meta_len, meta_len bytes        JSON object (model, path, tokens, ...)
 *   entries until the end of the stream:
 *     u32 name_len (1..256), name       UTF-8
 *     u32 dtype                         0 f32, 1 f16, 2 bf16, 16 E4M3 (1 byte)
 *     u64 rows, u64 cols                row-major, rows = tokens
 *     rows * cols * size bytes
 *
 * The reader checks every length against what is left of the stream
 * (overflow-safe) and fails with a named status and the entry's index. */
#ifndef QLM_QREF_H
#define QLM_QREF_H

#include <stddef.h>
#include <stdint.h>

#include "formats/common/err.h"

#define QLM_QREF_MAGIC "QLMREF1\n"
#define QLM_QREF_E4M3 16
#define QLM_QREF_MAX_BYTES (1ull << 34) /* decompressed size limit: 16 GiB */

typedef struct qlm_qref_writer qlm_qref_writer;

/* Collects the stream in memory; meta is a JSON object text. */
qlm_status qlm_qref_writer_new(const char *meta, qlm_qref_writer **out);
/* Appends one tensor; a failure is remembered and reported by finish. */
void qlm_qref_add(qlm_qref_writer *w, const char *name, uint32_t dtype, uint64_t rows, uint64_t cols,
                  const void *data);
/* Compresses (zstd level 3) and writes path atomically; frees w. */
qlm_status qlm_qref_finish(qlm_qref_writer *w, const char *path);
void qlm_qref_writer_free(qlm_qref_writer *w);

typedef struct {
    const char *name;  /* NUL-terminated copy */
    uint32_t dtype;
    uint64_t rows, cols;
    const void *data;  /* into the decompressed stream */
} qlm_qref_tensor;

typedef struct {
    char *meta;        /* NUL-terminated JSON */
    qlm_qref_tensor *t;
    size_t n;
    void *buf;         /* the decompressed stream */
} qlm_qref;

/* Element size of a dtype (0 for an unknown one). */
size_t qlm_qref_elem_size(uint32_t dtype);
/* "f32", "f16", "bf16", "e4m3", or "?". */
const char *qlm_qref_dtype_name(uint32_t dtype);

qlm_status qlm_qref_read(const char *path, qlm_qref *out);
/* Parse a decompressed stream in place (buf must outlive r; not freed). */
qlm_status qlm_qref_parse(void *buf, size_t size, qlm_qref *out);
void qlm_qref_free(qlm_qref *r);

#endif
