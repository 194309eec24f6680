/* safetensors reader (single files and sharded Hugging Face checkpoints) and a
 * small streaming writer (used by `qlm synth`).
 *
 * File layout: u64 little-endian header length N, N bytes of JSON
 * {"name": {"dtype": "BF16", "shape": [..], "data_offsets": [begin, end]}, ...,
 *  "__metadata__": {str: str}}, then the data section; offsets are relative to
 * the start of the data section.
 *
 * Reader contract:
 *  - the file is mmapped; qlm_st_open() validates everything before returning:
 *    header length within the file, JSON well-formed, every tensor entry has a
 *    known dtype (F32/F16/BF16, and the integer types of quantized
 *    checkpoints I8/U8/I16/I32/U32/I64; others are QLM_E_DTYPE naming dtype
 *    and tensor), rank <= QLM_ST_MAX_RANK, begin <= end <= data size, end - begin
 *    == element size x product(shape) (computed with overflow checks), no two
 *    tensors overlap, no duplicate names. Tensor data pointers are then safe.
 *  - a directory is opened through model.safetensors.index.json ("weight_map":
 *    name -> shard file; every shard listed must contain the tensors mapped to
 *    it and shard names may not leave the folder) or, without an index,
 *    model.safetensors. A tensor present in two shards is QLM_E_DUPLICATE.
 */
#ifndef QLM_SAFETENSORS_H
#define QLM_SAFETENSORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "formats/common/err.h"

#define QLM_ST_MAX_RANK 8
/* A header larger than this is refused (QLM_E_LIMIT) before it is parsed. */
#define QLM_ST_MAX_HEADER (256u << 20)

typedef enum {
    QLM_ST_F32, QLM_ST_F16, QLM_ST_BF16,
    /* integers: GPTQ/AWQ/Marlin packed codes, zero points and g_idx */
    QLM_ST_I8, QLM_ST_U8, QLM_ST_I16, QLM_ST_I32, QLM_ST_U32, QLM_ST_I64
} qlm_st_dtype;

typedef struct {
    const char *name;
    qlm_st_dtype dtype;
    uint32_t rank;
    uint64_t dims[QLM_ST_MAX_RANK];
    uint64_t n_elems;
    const void *data; /* into the mapping; not necessarily aligned */
    uint64_t nbytes;
} qlm_st_tensor;

typedef struct qlm_st qlm_st;

/* One .safetensors file. */
qlm_status qlm_st_open(const char *path, qlm_st **out);
/* Validate an in-memory image (fuzzing, tests); `data` must outlive the result. */
qlm_status qlm_st_open_mem(const void *data, size_t size, qlm_st **out);
/* A Hugging Face folder: index + shards, or model.safetensors. */
qlm_status qlm_st_open_dir(const char *dir, qlm_st **out);
void qlm_st_close(qlm_st *st);

size_t qlm_st_count(const qlm_st *st);
const qlm_st_tensor *qlm_st_at(const qlm_st *st, size_t i);
const qlm_st_tensor *qlm_st_find(const qlm_st *st, const char *name); /* NULL if absent */
/* Total bytes of tensor data (for the conversion summary). */
uint64_t qlm_st_data_bytes(const qlm_st *st);

const char *qlm_st_dtype_name(qlm_st_dtype t); /* "F32", "F16", "BF16", "I32", ... */
uint32_t qlm_st_dtype_size(qlm_st_dtype t);    /* bytes per element */
bool qlm_st_dtype_is_float(qlm_st_dtype t);    /* F32, F16, BF16 */

/* ---- Writer ----
 * Declare every tensor (in file order), then write their bytes in the same
 * order, in as many pieces as convenient; finish checks every byte arrived.
 * The header is padded with spaces to a multiple of 8 bytes so the data of
 * 2-byte types stays aligned in the file. */
typedef struct qlm_st_writer qlm_st_writer;

qlm_status qlm_st_writer_open(const char *path, qlm_st_writer **out);
qlm_status qlm_st_writer_add(qlm_st_writer *w, const char *name, qlm_st_dtype dtype, uint32_t rank,
                             const uint64_t *dims);
qlm_status qlm_st_writer_data(qlm_st_writer *w, const void *data, size_t nbytes);
qlm_status qlm_st_writer_finish(qlm_st_writer *w); /* frees w */
void qlm_st_writer_abort(qlm_st_writer *w);          /* frees w, removes the file */

#endif
