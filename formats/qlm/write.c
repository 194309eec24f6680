/* .qlm writer. Metadata is serialized into memory as it is set; the layout
 * (directory size, data offset, every tensor offset) is frozen at the first
 * tensor write, after which data goes straight to its final place with
 * pwrite(). finish() writes header + metadata + directory last, fsyncs and
 * renames "<path>.tmp" into place, so a crash never leaves a file that looks
 * complete. The writer checks everything the reader will check, so it cannot
 * produce a file the reader rejects. */
#include <stdlib.h>
#include <string.h>

#include "formats/common/hash.h"
#include "formats/common/utf8.h"
#include "formats/qlm/bytebuf.h"
#include "formats/qlm/internal.h"
#include "formats/qlm/layout.h"
#include "formats/qlm/outfile.h"

typedef struct {
    char *name;
    uint32_t dtype, rank;
    uint64_t dims[QLM_MAX_RANK];
    uint64_t nbytes, offset, checksum;
    bool written;
} wtensor;

struct qlm_writer {
    qlm_outfile out;
    qlm_bytebuf meta;
    uint64_t n_meta;
    char **keys;
    wtensor *t;
    size_t n_t, cap_t;
    bool frozen;
    qlm_bytebuf head; /* header + metadata + directory once frozen */
    uint64_t data_off, file_size;
};

static qlm_status buf_put(qlm_bytebuf *b, const void *p, size_t n)
{
    return qlm_bytebuf_put(b, p, n, "writer");
}

static qlm_status put32(qlm_bytebuf *b, uint32_t v)
{
    return qlm_bytebuf_put_u32(b, v, "writer");
}

static qlm_status put64(qlm_bytebuf *b, uint64_t v)
{
    return qlm_bytebuf_put_u64(b, v, "writer");
}

static qlm_status check_name(const char *what, const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > QLM_MAX_NAME)
        return qlm_fail(n ? QLM_E_LIMIT : QLM_E_ARG, "writer: %s '%.40s' length %zu not in [1, %d]", what, s, n,
                        QLM_MAX_NAME);
    if (!utf8_valid(s, n))
        return qlm_fail(QLM_E_UTF8, "writer: %s is not valid UTF-8", what);
    return QLM_OK;
}

static qlm_status check_str(const char *key, const char *s, size_t len)
{
    if (len > QLM_MAX_STR)
        return qlm_fail(QLM_E_LIMIT, "writer: '%s': string of %zu bytes exceeds %u", key, len, QLM_MAX_STR);
    if (!utf8_valid(s, len))
        return qlm_fail(QLM_E_UTF8, "writer: '%s': string is not valid UTF-8", key);
    return QLM_OK;
}

qlm_status qlm_writer_open(const char *path, qlm_writer **out)
{
    *out = NULL;
    qlm_writer *w = calloc(1, sizeof *w);
    if (!w)
        return qlm_fail(QLM_E_NOMEM, "writer: out of memory");
    qlm_status st = qlm_outfile_open(&w->out, path, "");
    if (st) {
        free(w);
        return st;
    }
    *out = w;
    return QLM_OK;
}

/* Start a metadata entry: checks the key and writes key + type. */
static qlm_status begin_meta(qlm_writer *w, const char *key, qlm_meta_type type)
{
    if (w->frozen)
        return qlm_fail(QLM_E_ARG, "writer: metadata '%s' set after tensor data was written", key);
    qlm_status st = check_name("metadata key", key);
    if (st)
        return st;
    for (uint64_t i = 0; i < w->n_meta; i++)
        if (strcmp(w->keys[i], key) == 0)
            return qlm_fail(QLM_E_DUPLICATE, "writer: metadata key '%s' set twice", key);
    char **k = realloc(w->keys, (size_t)(w->n_meta + 1) * sizeof *k);
    if (!k)
        return qlm_fail(QLM_E_NOMEM, "writer: out of memory");
    w->keys = k;
    if (!(k[w->n_meta] = strdup(key)))
        return qlm_fail(QLM_E_NOMEM, "writer: out of memory");
    w->n_meta++;
    size_t n = strlen(key);
    if ((st = put32(&w->meta, (uint32_t)n)) || (st = buf_put(&w->meta, key, n)))
        return st;
    return put32(&w->meta, type);
}

static qlm_status set_scalar(qlm_writer *w, const char *key, qlm_meta_type type, const void *v, size_t n)
{
    qlm_status st = begin_meta(w, key, type);
    return st ? st : buf_put(&w->meta, v, n);
}

qlm_status qlm_writer_set_i64(qlm_writer *w, const char *key, int64_t v)
{
    return set_scalar(w, key, QLM_MT_I64, &v, 8);
}

qlm_status qlm_writer_set_u64(qlm_writer *w, const char *key, uint64_t v)
{
    return set_scalar(w, key, QLM_MT_U64, &v, 8);
}

qlm_status qlm_writer_set_f64(qlm_writer *w, const char *key, double v)
{
    return set_scalar(w, key, QLM_MT_F64, &v, 8);
}

qlm_status qlm_writer_set_bool(qlm_writer *w, const char *key, bool v)
{
    uint8_t b = v ? 1 : 0;
    return set_scalar(w, key, QLM_MT_BOOL, &b, 1);
}

qlm_status qlm_writer_set_str(qlm_writer *w, const char *key, const char *s, size_t len)
{
    qlm_status st = check_str(key, s, len);
    if (st || (st = begin_meta(w, key, QLM_MT_STRING)) || (st = put32(&w->meta, (uint32_t)len)))
        return st;
    return buf_put(&w->meta, s, len);
}

qlm_status qlm_writer_set_array(qlm_writer *w, const char *key, qlm_meta_type elem, uint64_t count,
                                const void *data)
{
    size_t es = elem < QLM_MT_STRING ? qlm_meta_elem_size(elem) : 0;
    if (!es)
        return qlm_fail(QLM_E_ARG, "writer: '%s': array element type %d is not numeric", key, (int)elem);
    if (count > SIZE_MAX / es)
        return qlm_fail(QLM_E_OVERFLOW, "writer: '%s': array too large", key);
    if (elem == QLM_MT_BOOL)
        for (uint64_t i = 0; i < count; i++)
            if (((const uint8_t *)data)[i] > 1)
                return qlm_fail(QLM_E_ARG, "writer: '%s': bool element %llu is not 0 or 1", key,
                                (unsigned long long)i);
    qlm_status st = begin_meta(w, key, QLM_MT_ARRAY);
    if (st || (st = put32(&w->meta, elem)) || (st = put64(&w->meta, count)))
        return st;
    return buf_put(&w->meta, data, (size_t)count * es);
}

qlm_status qlm_writer_set_str_array(qlm_writer *w, const char *key, uint64_t count, const char *const *strs,
                                    const size_t *lens)
{
    qlm_status st;
    for (uint64_t i = 0; i < count; i++)
        if ((st = check_str(key, strs[i], lens[i])))
            return st;
    if ((st = begin_meta(w, key, QLM_MT_ARRAY)) || (st = put32(&w->meta, QLM_MT_STRING)) ||
        (st = put64(&w->meta, count)))
        return st;
    for (uint64_t i = 0; i < count; i++)
        if ((st = put32(&w->meta, (uint32_t)lens[i])) || (st = buf_put(&w->meta, strs[i], lens[i])))
            return st;
    return QLM_OK;
}

qlm_status qlm_writer_add_tensor(qlm_writer *w, const char *name, qlm_dtype dtype, uint32_t rank,
                                 const uint64_t *dims, size_t *idx)
{
    if (w->frozen)
        return qlm_fail(QLM_E_ARG, "writer: tensor '%s' declared after tensor data was written", name);
    qlm_status st = check_name("tensor name", name);
    if (st)
        return st;
    uint64_t nbytes;
    if ((st = qlm_tensor_nbytes(dtype, rank, dims, &nbytes)))
        return qlm_fail_context(st, "writer: tensor '%s'", name);
    for (size_t i = 0; i < w->n_t; i++)
        if (strcmp(w->t[i].name, name) == 0)
            return qlm_fail(QLM_E_DUPLICATE, "writer: tensor '%s' declared twice", name);
    if (w->n_t == w->cap_t) {
        size_t cap = w->cap_t ? 2 * w->cap_t : 64;
        wtensor *t = realloc(w->t, cap * sizeof *t);
        if (!t)
            return qlm_fail(QLM_E_NOMEM, "writer: out of memory");
        w->t = t;
        w->cap_t = cap;
    }
    wtensor *t = &w->t[w->n_t];
    memset(t, 0, sizeof *t);
    if (!(t->name = strdup(name)))
        return qlm_fail(QLM_E_NOMEM, "writer: out of memory");
    t->dtype = dtype;
    t->rank = rank;
    memcpy(t->dims, dims, rank * sizeof *dims);
    t->nbytes = nbytes;
    *idx = w->n_t++;
    return QLM_OK;
}

static uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

/* Fix the layout: header, metadata, directory, then 64-byte aligned tensors
 * from the first 4096-byte boundary after the directory, in declaration order. */
static void freeze(qlm_writer *w)
{
    uint64_t dir_size = 0;
    for (size_t i = 0; i < w->n_t; i++)
        dir_size += 4 + strlen(w->t[i].name) + QLM_D_TAIL;
    w->data_off = align_up(QLM_HEADER_SIZE + w->meta.len + dir_size, QLM_DATA_ALIGN);
    uint64_t pos = w->data_off;
    for (size_t i = 0; i < w->n_t; i++) {
        w->t[i].offset = align_up(pos, QLM_TENSOR_ALIGN);
        pos = w->t[i].offset + w->t[i].nbytes;
    }
    w->file_size = pos;
    w->frozen = true;
}

qlm_status qlm_writer_write_tensor(qlm_writer *w, size_t idx, const void *data, size_t nbytes)
{
    if (idx >= w->n_t)
        return qlm_fail(QLM_E_ARG, "writer: tensor index %zu out of range (%zu declared)", idx, w->n_t);
    wtensor *t = &w->t[idx];
    if (t->written)
        return qlm_fail(QLM_E_ARG, "writer: tensor '%s' written twice", t->name);
    if (nbytes != t->nbytes)
        return qlm_fail(QLM_E_SIZE, "writer: tensor '%s': got %zu bytes, shape needs %llu", t->name, nbytes,
                        (unsigned long long)t->nbytes);
    if (!w->frozen)
        freeze(w);
    qlm_status st = qlm_outfile_pwrite(&w->out, data, nbytes, t->offset);
    if (st)
        return st;
    t->checksum = qlm_xxh64(data, nbytes, 0);
    t->written = true;
    return QLM_OK;
}

void qlm_layout_seal(uint8_t *img, size_t size)
{
    uint64_t mo = qlm_rd64(img + QLM_H_META_OFF), ms = qlm_rd64(img + QLM_H_META_SIZE);
    uint64_t d_o = qlm_rd64(img + QLM_H_DIR_OFF), ds = qlm_rd64(img + QLM_H_DIR_SIZE);
    if (mo <= size && ms <= size - mo)
        qlm_wr64(img + QLM_H_META_SUM, qlm_xxh64(img + mo, ms, 0));
    if (d_o <= size && ds <= size - d_o)
        qlm_wr64(img + QLM_H_DIR_SUM, qlm_xxh64(img + d_o, ds, 0));
    qlm_wr64(img + QLM_H_HEADER_SUM, qlm_xxh64(img, QLM_H_HEADER_SUM, 0));
}

/* Header + metadata + directory, sealed. */
static qlm_status build_head(qlm_writer *w)
{
    qlm_bytebuf *b = &w->head;
    uint8_t h[QLM_HEADER_SIZE] = {0};
    qlm_status st = buf_put(b, h, sizeof h);
    if (st || (st = buf_put(b, w->meta.p, w->meta.len)))
        return st;
    for (size_t i = 0; i < w->n_t && !st; i++) {
        const wtensor *t = &w->t[i];
        uint8_t tail[QLM_D_TAIL] = {0};
        qlm_wr32(tail + QLM_D_DTYPE, t->dtype);
        qlm_wr32(tail + QLM_D_RANK, t->rank);
        for (uint32_t d = 0; d < t->rank; d++)
            qlm_wr64(tail + QLM_D_DIMS + 8 * d, t->dims[d]);
        qlm_wr64(tail + QLM_D_OFFSET, t->offset);
        qlm_wr64(tail + QLM_D_NBYTES, t->nbytes);
        qlm_wr64(tail + QLM_D_CHECKSUM, t->checksum);
        size_t n = strlen(t->name);
        if (!(st = put32(b, (uint32_t)n)) && !(st = buf_put(b, t->name, n)))
            st = buf_put(b, tail, sizeof tail);
    }
    if (st)
        return st;
    uint8_t *p = b->p;
    uint64_t meta_end = QLM_HEADER_SIZE + w->meta.len;
    memcpy(p, QLM_MAGIC, QLM_MAGIC_LEN);
    qlm_wr32(p + QLM_H_VERSION, QLM_VERSION);
    qlm_wr64(p + QLM_H_FILE_SIZE, w->file_size);
    qlm_wr64(p + QLM_H_N_META, w->n_meta);
    qlm_wr64(p + QLM_H_N_TENSORS, w->n_t);
    qlm_wr64(p + QLM_H_META_OFF, QLM_HEADER_SIZE);
    qlm_wr64(p + QLM_H_META_SIZE, w->meta.len);
    qlm_wr64(p + QLM_H_DIR_OFF, meta_end);
    qlm_wr64(p + QLM_H_DIR_SIZE, b->len - meta_end);
    qlm_wr64(p + QLM_H_DATA_OFF, w->data_off);
    qlm_wr64(p + QLM_H_DATA_SIZE, w->file_size - w->data_off);
    qlm_wr32(p + QLM_H_DATA_ALIGN, QLM_DATA_ALIGN);
    qlm_wr32(p + QLM_H_TENSOR_ALIGN, QLM_TENSOR_ALIGN);
    qlm_layout_seal(p, b->len);
    return QLM_OK;
}

static void writer_free(qlm_writer *w)
{
    for (size_t i = 0; i < w->n_t; i++)
        free(w->t[i].name);
    for (uint64_t i = 0; i < w->n_meta; i++)
        free(w->keys[i]);
    free(w->keys);
    free(w->t);
    qlm_bytebuf_free(&w->meta);
    qlm_bytebuf_free(&w->head);
    free(w);
}

qlm_status qlm_writer_finish(qlm_writer *w)
{
    qlm_status st = QLM_OK;
    for (size_t i = 0; i < w->n_t && !st; i++)
        if (!w->t[i].written)
            st = qlm_fail(QLM_E_MISSING, "writer: tensor '%s' was declared but never written", w->t[i].name);
    if (!st) {
        if (!w->frozen)
            freeze(w);
        st = build_head(w);
    }
    if (!st)
        st = qlm_outfile_pwrite(&w->out, w->head.p, w->head.len, 0);
    if (st)
        qlm_outfile_abort(&w->out);
    else
        st = qlm_outfile_commit(&w->out, w->file_size);
    writer_free(w);
    return st;
}

void qlm_writer_abort(qlm_writer *w)
{
    if (!w)
        return;
    qlm_outfile_abort(&w->out);
    writer_free(w);
}
