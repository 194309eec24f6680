/* A minimal GGUF writer for tests: builds files field by field (including
 * deliberately malformed ones) in a growable buffer. It is written from the
 * GGUF specification independently of formats/gguf/gguf.c, so tests that read
 * its output back check the reader against a second implementation. */
#ifndef QLM_TESTS_GGUFBUILD_H
#define QLM_TESTS_GGUFBUILD_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t *buf;
    size_t len, cap;
} gb_buf;

void gb_free(gb_buf *b);
void gb_bytes(gb_buf *b, const void *p, size_t n);
void gb_u32(gb_buf *b, uint32_t v);
void gb_u64(gb_buf *b, uint64_t v);
void gb_str(gb_buf *b, const char *s); /* u64 length + bytes */
/* "GGUF", version, n_tensors, n_kv. */
void gb_header(gb_buf *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv);
/* Key + value type id; the caller appends the value. */
void gb_key(gb_buf *b, const char *key, uint32_t type);
void gb_kv_u32(gb_buf *b, const char *key, uint32_t v);
void gb_kv_f32(gb_buf *b, const char *key, float v);
void gb_kv_str(gb_buf *b, const char *key, const char *v);
/* Tensor info with ne[] given in GGUF order (innermost first). */
void gb_tensor(gb_buf *b, const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type,
               uint64_t offset);
/* Zero bytes up to the next multiple of align. */
void gb_pad(gb_buf *b, size_t align);

#endif
