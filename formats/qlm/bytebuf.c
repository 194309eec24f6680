#include "formats/qlm/bytebuf.h"

#include <stdlib.h>
#include <string.h>

#include "formats/qlm/layout.h"

qlm_status qlm_bytebuf_put(qlm_bytebuf *b, const void *p, size_t n, const char *what)
{
    if (n == 0)
        return QLM_OK;
    if (n > b->cap - b->len) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap - b->len < n) {
            if (cap > SIZE_MAX / 2)
                return qlm_fail(QLM_E_NOMEM, "%s: buffer too large", what);
            cap *= 2;
        }
        uint8_t *q = realloc(b->p, cap);
        if (!q)
            return qlm_fail(QLM_E_NOMEM, "%s: out of memory (%zu bytes)", what, cap);
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    return QLM_OK;
}

qlm_status qlm_bytebuf_put_u32(qlm_bytebuf *b, uint32_t v, const char *what)
{
    uint8_t x[4];
    qlm_wr32(x, v);
    return qlm_bytebuf_put(b, x, 4, what);
}

qlm_status qlm_bytebuf_put_u64(qlm_bytebuf *b, uint64_t v, const char *what)
{
    uint8_t x[8];
    qlm_wr64(x, v);
    return qlm_bytebuf_put(b, x, 8, what);
}

void qlm_bytebuf_free(qlm_bytebuf *b)
{
    free(b->p);
    *b = (qlm_bytebuf){0};
}
