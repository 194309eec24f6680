/* A GGUF v3 writer for tools/qlm2gguf (the inverse of formats/gguf/gguf.c's
 * reader; value and tensor type ids are that reader's, gguf.h).
 *
 * Usage, like qlm_writer: add metadata and declare every tensor (both kept in
 * memory); ggufw_begin() writes the header, metadata and tensor infos; then
 * each tensor's data, whole and in declaration order; ggufw_finish(). Tensor
 * data is aligned to GGUF's default 32 bytes (no general.alignment key). The
 * file is written as "<path>.tmp" and renamed into place by finish; abort (or
 * any failure of begin/data/finish) removes it.
 */
#ifndef QLM_TOOLS_GGUFW_H
#define QLM_TOOLS_GGUFW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "formats/common/err.h"
#include "formats/gguf/gguf.h"
#include "formats/qlm/bytebuf.h"

#define GGUFW_ALIGN 32

typedef struct {
    qlm_bytebuf kv, info;   /* the metadata and tensor-info sections */
    qlm_bytebuf sizes;      /* u64 data size of each declared tensor */
    uint64_t n_kv, n_tensors;
    uint64_t data_size;     /* data section so far, padding included */
    uint64_t arr_left;      /* elements an open string array still expects */
    FILE *out;              /* between begin and finish */
    char *path, *tmp;
    uint64_t written;       /* tensors whose data has been written */
} ggufw;

qlm_status ggufw_u32(ggufw *w, const char *key, uint32_t v);
qlm_status ggufw_f32(ggufw *w, const char *key, float v);
qlm_status ggufw_bool(ggufw *w, const char *key, bool v);
qlm_status ggufw_str(ggufw *w, const char *key, const char *s, size_t len);
/* An array of `count` fixed-size elements (GGUF_T_F32, GGUF_T_I32, ...)
 * copied from little-endian values at data. */
qlm_status ggufw_arr(ggufw *w, const char *key, gguf_vtype elem, uint64_t count, const void *data);
/* A string array: its length first, then exactly `count` elements. */
qlm_status ggufw_arr_str_begin(ggufw *w, const char *key, uint64_t count);
qlm_status ggufw_arr_str_elem(ggufw *w, const char *s, size_t len);

/* Tensor info: dims row-major (qlm order; GGUF's ne[] is written reversed),
 * nbytes the size of the data the caller will deliver. */
qlm_status ggufw_tensor(ggufw *w, const char *name, uint32_t rank, const uint64_t *dims, uint32_t ggml_type,
                        uint64_t nbytes);

qlm_status ggufw_begin(ggufw *w, const char *path);
/* The next tensor's data, exactly its declared size. */
qlm_status ggufw_data(ggufw *w, const void *p, size_t n);
/* Every tensor written: flush, fsync, rename; frees w's buffers. */
qlm_status ggufw_finish(ggufw *w);
/* Frees w's buffers and removes the temp file if one was begun. */
void ggufw_abort(ggufw *w);

#endif
