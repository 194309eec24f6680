/* A growable byte buffer for building file images in memory (the .qlm
 * writer's header and metadata, reference dumps). Starts zeroed ({0}); every
 * append either succeeds or leaves the buffer unchanged and fails with
 * QLM_E_NOMEM naming `what`. */
#ifndef QLM_QLM_BYTEBUF_H
#define QLM_QLM_BYTEBUF_H

#include <stddef.h>
#include <stdint.h>

#include "formats/common/err.h"

typedef struct {
    uint8_t *p;
    size_t len, cap;
} qlm_bytebuf;

/* Append n bytes (p may be NULL when n is 0). */
qlm_status qlm_bytebuf_put(qlm_bytebuf *b, const void *p, size_t n, const char *what);
/* Append little-endian integers. */
qlm_status qlm_bytebuf_put_u32(qlm_bytebuf *b, uint32_t v, const char *what);
qlm_status qlm_bytebuf_put_u64(qlm_bytebuf *b, uint64_t v, const char *what);
void qlm_bytebuf_free(qlm_bytebuf *b);

#endif
