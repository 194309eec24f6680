#include "tests/common/ggufbuild.h"

#include <stdlib.h>
#include <string.h>

#include "tests/common/testutil.h"

void gb_free(gb_buf *b)
{
    free(b->buf);
    *b = (gb_buf){0};
}

void gb_bytes(gb_buf *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *nb = realloc(b->buf, cap);
        if (!nb)
            fail_msg("gb_bytes: out of memory");
        b->buf = nb;
        b->cap = cap;
    }
    if (n)
        memcpy(b->buf + b->len, p, n);
    b->len += n;
}

static void gb_le(gb_buf *b, uint64_t v, unsigned n)
{
    uint8_t t[8];
    for (unsigned i = 0; i < n; i++)
        t[i] = (uint8_t)(v >> (8 * i));
    gb_bytes(b, t, n);
}

void gb_u32(gb_buf *b, uint32_t v) { gb_le(b, v, 4); }
void gb_u64(gb_buf *b, uint64_t v) { gb_le(b, v, 8); }

void gb_str(gb_buf *b, const char *s)
{
    gb_u64(b, strlen(s));
    gb_bytes(b, s, strlen(s));
}

void gb_header(gb_buf *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv)
{
    gb_bytes(b, "GGUF", 4);
    gb_u32(b, version);
    gb_u64(b, n_tensors);
    gb_u64(b, n_kv);
}

void gb_key(gb_buf *b, const char *key, uint32_t type)
{
    gb_str(b, key);
    gb_u32(b, type);
}

void gb_kv_u32(gb_buf *b, const char *key, uint32_t v)
{
    gb_key(b, key, 4);
    gb_u32(b, v);
}

void gb_kv_f32(gb_buf *b, const char *key, float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    gb_key(b, key, 6);
    gb_u32(b, u);
}

void gb_kv_str(gb_buf *b, const char *key, const char *v)
{
    gb_key(b, key, 8);
    gb_str(b, v);
}

void gb_tensor(gb_buf *b, const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type,
               uint64_t offset)
{
    gb_str(b, name);
    gb_u32(b, n_dims);
    for (uint32_t i = 0; i < n_dims; i++)
        gb_u64(b, ne[i]);
    gb_u32(b, type);
    gb_u64(b, offset);
}

void gb_pad(gb_buf *b, size_t align)
{
    static const uint8_t zero[64];
    while (b->len % align)
        gb_bytes(b, zero, align - b->len % align > 64 ? 64 : align - b->len % align);
}
