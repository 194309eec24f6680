/* .qref.zst writer and reader (layout in qref.h). */
#include "formats/qref/qref.h"
#include "formats/qlm/bytebuf.h"

#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "formats/common/mapfile.h"
#include "formats/common/utf8.h"
#include "formats/qlm/layout.h"
#include "formats/qlm/outfile.h"

struct qlm_qref_writer {
    qlm_bytebuf b;
    qlm_status err; /* first failure of qlm_qref_add */
};

size_t qlm_qref_elem_size(uint32_t dtype)
{
    switch (dtype) {
    case 0: return 4;
    case 1: case 2: return 2;
    case QLM_QREF_E4M3: return 1;
    default: return 0;
    }
}

const char *qlm_qref_dtype_name(uint32_t dtype)
{
    switch (dtype) {
    case 0: return "f32";
    case 1: return "f16";
    case 2: return "bf16";
    case QLM_QREF_E4M3: return "e4m3";
    default: return "?";
    }
}

static qlm_status put(qlm_qref_writer *w, const void *p, size_t n)
{
    if (n > QLM_QREF_MAX_BYTES - w->b.len)
        return qlm_fail(QLM_E_LIMIT, "reference dump exceeds %llu bytes", (unsigned long long)QLM_QREF_MAX_BYTES);
    return qlm_bytebuf_put(&w->b, p, n, "reference dump");
}

static qlm_status put_u32(qlm_qref_writer *w, uint32_t v)
{
    uint8_t b[4];
    qlm_wr32(b, v);
    return put(w, b, 4);
}

static qlm_status put_u64(qlm_qref_writer *w, uint64_t v)
{
    uint8_t b[8];
    qlm_wr64(b, v);
    return put(w, b, 8);
}

qlm_status qlm_qref_writer_new(const char *meta, qlm_qref_writer **out)
{
    qlm_qref_writer *w = calloc(1, sizeof *w);
    if (!w)
        return qlm_fail(QLM_E_NOMEM, "out of memory");
    qlm_status st = put(w, QLM_QREF_MAGIC, 8);
    if (!st)
        st = put_u32(w, (uint32_t)strlen(meta));
    if (!st)
        st = put(w, meta, strlen(meta));
    if (st) {
        qlm_qref_writer_free(w);
        return st;
    }
    *out = w;
    return QLM_OK;
}

void qlm_qref_add(qlm_qref_writer *w, const char *name, uint32_t dtype, uint64_t rows, uint64_t cols,
                  const void *data)
{
    if (w->err)
        return;
    size_t n = strlen(name);
    uint64_t bytes = rows * cols * qlm_qref_elem_size(dtype); /* small: tokens x layer width */
    qlm_status st = put_u32(w, (uint32_t)n);
    if (!st)
        st = put(w, name, n);
    if (!st)
        st = put_u32(w, dtype);
    if (!st)
        st = put_u64(w, rows);
    if (!st)
        st = put_u64(w, cols);
    if (!st)
        st = put(w, data, (size_t)bytes);
    w->err = st;
}

void qlm_qref_writer_free(qlm_qref_writer *w)
{
    if (!w)
        return;
    qlm_bytebuf_free(&w->b);
    free(w);
}

qlm_status qlm_qref_finish(qlm_qref_writer *w, const char *path)
{
    qlm_status st = w->err;
    size_t bound = ZSTD_compressBound(w->b.len);
    void *z = st ? NULL : malloc(bound);
    if (!st && !z)
        st = qlm_fail(QLM_E_NOMEM, "out of memory compressing the reference dump");
    size_t zn = 0;
    if (!st) {
        zn = ZSTD_compress(z, bound, w->b.p, w->b.len, 3); /* one frame; records the content size */
        if (ZSTD_isError(zn))
            st = qlm_fail(QLM_E_ZSTD, "zstd: %s", ZSTD_getErrorName(zn));
    }
    qlm_outfile o;
    if (!st && !(st = qlm_outfile_open(&o, path, ""))) {
        st = qlm_outfile_pwrite(&o, z, zn, 0);
        if (st)
            qlm_outfile_abort(&o);
        else
            st = qlm_outfile_commit(&o, zn);
    }
    free(z);
    qlm_qref_writer_free(w);
    return st;
}

/* ---- reader ---- */

typedef struct {
    const uint8_t *p;
    size_t left;
    size_t entry;
} cursor;

static qlm_status take(cursor *c, size_t n, const uint8_t **out, const char *what)
{
    if (n > c->left)
        return qlm_fail(QLM_E_TRUNCATED, "qref entry %zu: %s runs past the end of the stream", c->entry, what);
    *out = c->p;
    c->p += n;
    c->left -= n;
    return QLM_OK;
}

static qlm_status push(qlm_qref *r, const qlm_qref_tensor *t, size_t *cap)
{
    if (r->n == *cap) {
        size_t nc = *cap ? 2 * *cap : 64;
        qlm_qref_tensor *nt = realloc(r->t, nc * sizeof *nt);
        if (!nt)
            return qlm_fail(QLM_E_NOMEM, "out of memory");
        r->t = nt;
        *cap = nc;
    }
    r->t[r->n++] = *t;
    return QLM_OK;
}

static qlm_status parse_entry(cursor *c, qlm_qref_tensor *t)
{
    const uint8_t *p = NULL;
    qlm_status st = take(c, 4, &p, "name length");
    if (st)
        return st;
    uint32_t nl = qlm_rd32(p);
    if (nl == 0 || nl > 256)
        return qlm_fail(QLM_E_VALUE, "qref entry %zu: name length %u is not in 1..256", c->entry, nl);
    if ((st = take(c, nl, &p, "name")))
        return st;
    if (!utf8_valid((const char *)p, nl) || memchr(p, 0, nl))
        return qlm_fail(QLM_E_UTF8, "qref entry %zu: name is not valid UTF-8", c->entry);
    char *name = malloc(nl + 1);
    if (!name)
        return qlm_fail(QLM_E_NOMEM, "out of memory");
    memcpy(name, p, nl);
    name[nl] = 0;
    t->name = name;
    if ((st = take(c, 20, &p, "header")))
        return st;
    t->dtype = qlm_rd32(p);
    t->rows = qlm_rd64(p + 4);
    t->cols = qlm_rd64(p + 12);
    size_t es = qlm_qref_elem_size(t->dtype);
    if (!es)
        return qlm_fail(QLM_E_DTYPE, "qref entry %zu (%s): unknown dtype %u", c->entry, name, t->dtype);
    uint64_t bytes;
    if (__builtin_mul_overflow(t->rows, t->cols, &bytes) || __builtin_mul_overflow(bytes, (uint64_t)es, &bytes) ||
        bytes > c->left)
        return qlm_fail(QLM_E_TRUNCATED, "qref entry %zu (%s): %llu x %llu %s runs past the end of the stream",
                        c->entry, name, (unsigned long long)t->rows, (unsigned long long)t->cols,
                        qlm_qref_dtype_name(t->dtype));
    return take(c, (size_t)bytes, (const uint8_t **)&t->data, "data");
}

qlm_status qlm_qref_parse(void *buf, size_t size, qlm_qref *out)
{
    memset(out, 0, sizeof *out);
    cursor c = {buf, size, 0};
    const uint8_t *p = NULL;
    if (size < 8 || memcmp(buf, QLM_QREF_MAGIC, 8) != 0)
        return qlm_fail(QLM_E_MAGIC, "not a qlm reference dump (magic)");
    c.p += 8;
    c.left -= 8;
    qlm_status st = take(&c, 4, &p, "metadata length");
    uint32_t ml = st ? 0 : qlm_rd32(p);
    if (!st && !(st = take(&c, ml, &p, "metadata"))) {
        if (!(out->meta = malloc((size_t)ml + 1)))
            st = qlm_fail(QLM_E_NOMEM, "out of memory");
        else {
            memcpy(out->meta, p, ml);
            out->meta[ml] = 0;
        }
    }
    size_t cap = 0;
    while (!st && c.left > 0) {
        qlm_qref_tensor t = {0};
        st = parse_entry(&c, &t);
        if (!st)
            st = push(out, &t, &cap);
        if (st)
            free((char *)t.name);
        c.entry++;
    }
    if (st)
        qlm_qref_free(out);
    return st;
}

qlm_status qlm_qref_read(const char *path, qlm_qref *out)
{
    memset(out, 0, sizeof *out);
    qlm_map m;
    qlm_status st = qlm_map_open(path, &m);
    if (st)
        return st;
    unsigned long long n = ZSTD_getFrameContentSize(m.data, m.size);
    void *buf = NULL;
    if (n == ZSTD_CONTENTSIZE_ERROR || n == ZSTD_CONTENTSIZE_UNKNOWN)
        st = qlm_fail(QLM_E_ZSTD, "not a zstd frame with a recorded size");
    else if (n > QLM_QREF_MAX_BYTES)
        st = qlm_fail(QLM_E_LIMIT, "%llu bytes decompressed exceed the limit", n);
    else if (!(buf = malloc(n ? (size_t)n : 1)))
        st = qlm_fail(QLM_E_NOMEM, "out of memory (%llu bytes)", n);
    if (!st) {
        size_t got = ZSTD_decompress(buf, (size_t)n, m.data, m.size);
        if (ZSTD_isError(got) || got != n)
            st = qlm_fail(QLM_E_ZSTD, "%s", ZSTD_isError(got) ? ZSTD_getErrorName(got) : "short frame");
    }
    qlm_map_close(&m);
    if (!st && !(st = qlm_qref_parse(buf, (size_t)n, out)))
        out->buf = buf;
    else
        free(buf);
    return st ? qlm_fail_context(st, "%s", path) : QLM_OK;
}

void qlm_qref_free(qlm_qref *r)
{
    for (size_t i = 0; i < r->n; i++)
        free((char *)r->t[i].name);
    free(r->t);
    free(r->meta);
    free(r->buf);
    memset(r, 0, sizeof *r);
}
