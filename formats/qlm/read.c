/* .qlm reader: validate the whole header, metadata and directory of an image
 * before handing out anything (docs/FORMAT.md "Validation"). Every count is
 * checked against the bytes that would hold it before anything is allocated
 * from it, and every offset/size sum is overflow-checked. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "formats/common/hash.h"
#include "formats/common/utf8.h"
#include "formats/qlm/internal.h"
#include "formats/qlm/layout.h"

/* A bounded cursor over one section; `what` names the section in errors. */
typedef struct {
    const uint8_t *p;
    uint64_t left;
    const char *what;
} cursor;

static qlm_status take(cursor *c, uint64_t n, const uint8_t **out, const char *field, uint64_t idx)
{
    if (n > c->left)
        return qlm_fail(QLM_E_TRUNCATED, "%s entry %llu: %s runs past the end of the %s section",
                        c->what, (unsigned long long)idx, field, c->what);
    *out = c->p;
    c->p += n;
    c->left -= n;
    return QLM_OK;
}

static qlm_status take32(cursor *c, uint32_t *v, const char *field, uint64_t idx)
{
    const uint8_t *p = NULL;
    qlm_status st = take(c, 4, &p, field, idx);
    if (st == QLM_OK)
        *v = qlm_rd32(p);
    return st;
}

static int is_pow2(uint64_t x) { return x && !(x & (x - 1)); }

qlm_status qlm_tensor_nbytes(uint32_t dtype, uint32_t rank, const uint64_t *dims, uint64_t *nbytes)
{
    const qlm_dtype_info *di = qlm_dtype_get(dtype);
    if (!di)
        return qlm_fail(QLM_E_DTYPE, "unknown dtype %u%s", dtype,
                        qlm_dtype_is_gpu(dtype) ? " (reserved for GPU formats)" : "");
    if (rank == 0)
        return qlm_fail(QLM_E_SHAPE, "rank 0 (scalars are stored as rank 1, dims {1})");
    if (rank > QLM_MAX_RANK)
        return qlm_fail(QLM_E_OVERFLOW, "rank %u exceeds %d", rank, QLM_MAX_RANK);
    uint64_t n = 1;
    for (uint32_t i = 0; i < rank; i++) {
        if (dims[i] == 0)
            return qlm_fail(QLM_E_SHAPE, "dim %u is 0", i);
        if (n > UINT64_MAX / dims[i])
            return qlm_fail(QLM_E_OVERFLOW, "element count overflows 64 bits at dim %u", i);
        n *= dims[i];
    }
    if (dims[rank - 1] % di->block_elems)
        return qlm_fail(QLM_E_SIZE, "%s: innermost dim %llu is not a multiple of %u", di->name,
                        (unsigned long long)dims[rank - 1], di->block_elems);
    uint64_t rows = n / dims[rank - 1], bytes;
    if (__builtin_mul_overflow(n / di->block_elems, (uint64_t)di->block_bytes, &bytes) ||
        __builtin_mul_overflow(rows, (uint64_t)di->row_extra, &rows) || __builtin_add_overflow(bytes, rows, &bytes) ||
        __builtin_add_overflow(bytes, (uint64_t)di->tensor_extra, &bytes))
        return qlm_fail(QLM_E_OVERFLOW, "byte size overflows 64 bits");
    *nbytes = bytes;
    return QLM_OK;
}

/* ---- header ---------------------------------------------------------------- */

typedef struct {
    uint64_t off, size;
} section;

typedef struct {
    uint64_t file_size, n_meta, n_tensors;
    section meta, dir, data;
    uint32_t data_align, tensor_align;
} header;

static qlm_status check_section(const section *s, const char *name, uint64_t file_size,
                                uint64_t prev_end, const char *prev_name)
{
    if (s->off > file_size || s->size > file_size - s->off)
        return qlm_fail(QLM_E_BOUNDS, "header: %s section [%llu, +%llu) extends past the %llu-byte file",
                        name, (unsigned long long)s->off, (unsigned long long)s->size,
                        (unsigned long long)file_size);
    if (s->off < prev_end)
        return qlm_fail(QLM_E_OVERLAP, "header: %s_offset %llu overlaps the %s (ends at %llu)", name,
                        (unsigned long long)s->off, prev_name, (unsigned long long)prev_end);
    return QLM_OK;
}

static qlm_status parse_header(const uint8_t *b, uint64_t size, header *h)
{
    size_t cmp = size < QLM_MAGIC_LEN ? (size_t)size : QLM_MAGIC_LEN;
    if (memcmp(b, QLM_MAGIC, cmp) != 0)
        return qlm_fail(QLM_E_MAGIC, "not a .qlm file (bad magic)");
    if (size < QLM_HEADER_SIZE)
        return qlm_fail(QLM_E_TRUNCATED, "file is %llu bytes, shorter than the %d-byte header",
                        (unsigned long long)size, QLM_HEADER_SIZE);
    uint32_t version = qlm_rd32(b + QLM_H_VERSION);
    if (version != QLM_VERSION)
        return qlm_fail(QLM_E_VERSION, "header: format version %u is not supported (this reader reads %d)",
                        version, QLM_VERSION);
    uint64_t sum = qlm_xxh64(b, QLM_H_HEADER_SUM, 0);
    if (sum != qlm_rd64(b + QLM_H_HEADER_SUM))
        return qlm_fail(QLM_E_CHECKSUM, "header: header_checksum mismatch (stored %016llx, computed %016llx)",
                        (unsigned long long)qlm_rd64(b + QLM_H_HEADER_SUM), (unsigned long long)sum);
    uint32_t flags = qlm_rd32(b + QLM_H_FLAGS);
    if (flags)
        return qlm_fail(QLM_E_UNSUPPORTED, "header: flags 0x%x are not supported (must be 0)", flags);
    if (qlm_rd64(b + QLM_H_RESERVED))
        return qlm_fail(QLM_E_VALUE, "header: reserved field is not 0");

    h->file_size = qlm_rd64(b + QLM_H_FILE_SIZE);
    if (h->file_size > size)
        return qlm_fail(QLM_E_TRUNCATED, "file is %llu bytes but header.file_size says %llu",
                        (unsigned long long)size, (unsigned long long)h->file_size);
    if (h->file_size < size)
        return qlm_fail(QLM_E_SIZE, "file is %llu bytes but header.file_size says %llu (trailing bytes)",
                        (unsigned long long)size, (unsigned long long)h->file_size);
    h->data_align = qlm_rd32(b + QLM_H_DATA_ALIGN);
    h->tensor_align = qlm_rd32(b + QLM_H_TENSOR_ALIGN);
    if (!is_pow2(h->data_align) || h->data_align < QLM_DATA_ALIGN || h->data_align > QLM_MAX_DATA_ALIGN)
        return qlm_fail(QLM_E_ALIGN, "header: data_align %u is not a power of two in [%d, %u]",
                        h->data_align, QLM_DATA_ALIGN, QLM_MAX_DATA_ALIGN);
    if (!is_pow2(h->tensor_align) || h->tensor_align < QLM_TENSOR_ALIGN || h->tensor_align > h->data_align)
        return qlm_fail(QLM_E_ALIGN, "header: tensor_align %u is not a power of two in [%d, data_align]",
                        h->tensor_align, QLM_TENSOR_ALIGN);

    h->n_meta = qlm_rd64(b + QLM_H_N_META);
    h->n_tensors = qlm_rd64(b + QLM_H_N_TENSORS);
    h->meta = (section){qlm_rd64(b + QLM_H_META_OFF), qlm_rd64(b + QLM_H_META_SIZE)};
    h->dir = (section){qlm_rd64(b + QLM_H_DIR_OFF), qlm_rd64(b + QLM_H_DIR_SIZE)};
    h->data = (section){qlm_rd64(b + QLM_H_DATA_OFF), qlm_rd64(b + QLM_H_DATA_SIZE)};
    qlm_status st;
    if ((st = check_section(&h->meta, "meta", size, QLM_HEADER_SIZE, "header")) ||
        (st = check_section(&h->dir, "dir", size, h->meta.off + h->meta.size, "metadata section")) ||
        (st = check_section(&h->data, "data", size, h->dir.off + h->dir.size, "directory section")))
        return st;
    if (h->data.off % h->data_align)
        return qlm_fail(QLM_E_ALIGN, "header: data_offset %llu is not a multiple of data_align %u",
                        (unsigned long long)h->data.off, h->data_align);
    if (h->data.off + h->data.size != size)
        return qlm_fail(QLM_E_SIZE, "header: data section ends at %llu, not at the end of the file (%llu)",
                        (unsigned long long)(h->data.off + h->data.size), (unsigned long long)size);
    if (h->n_meta > h->meta.size / QLM_META_MIN_ENTRY)
        return qlm_fail(QLM_E_BOUNDS, "header: n_meta %llu cannot fit in the %llu-byte metadata section",
                        (unsigned long long)h->n_meta, (unsigned long long)h->meta.size);
    if (h->n_tensors > h->dir.size / QLM_DIR_MIN_ENTRY)
        return qlm_fail(QLM_E_BOUNDS, "header: n_tensors %llu cannot fit in the %llu-byte directory",
                        (unsigned long long)h->n_tensors, (unsigned long long)h->dir.size);
    if (qlm_xxh64(b + h->meta.off, h->meta.size, 0) != qlm_rd64(b + QLM_H_META_SUM))
        return qlm_fail(QLM_E_CHECKSUM, "header: metadata section checksum mismatch");
    if (qlm_xxh64(b + h->dir.off, h->dir.size, 0) != qlm_rd64(b + QLM_H_DIR_SUM))
        return qlm_fail(QLM_E_CHECKSUM, "header: directory section checksum mismatch");
    return QLM_OK;
}

/* ---- names ----------------------------------------------------------------- */

/* A key or tensor name: u32 length (1..QLM_MAX_NAME), UTF-8 without NUL.
 * Copied NUL-terminated into *pool. */
static qlm_status read_name(cursor *c, uint64_t idx, char **pool, const char **name)
{
    uint32_t len;
    const uint8_t *p = NULL;
    qlm_status st = take32(c, &len, "name length", idx);
    if (st)
        return st;
    if (len == 0 || len > QLM_MAX_NAME)
        return qlm_fail(len ? QLM_E_LIMIT : QLM_E_VALUE, "%s entry %llu: name length %u not in [1, %d]",
                        c->what, (unsigned long long)idx, len, QLM_MAX_NAME);
    if ((st = take(c, len, &p, "name", idx)))
        return st;
    if (!utf8_valid((const char *)p, len) || memchr(p, 0, len))
        return qlm_fail(QLM_E_UTF8, "%s entry %llu: name is not valid UTF-8 (or contains NUL)", c->what,
                        (unsigned long long)idx);
    memcpy(*pool, p, len);
    (*pool)[len] = 0;
    *name = *pool;
    *pool += len + 1;
    return QLM_OK;
}

/* ---- metadata ---------------------------------------------------------------- */

static qlm_status read_string(cursor *c, uint64_t idx, const char *key)
{
    uint32_t len;
    const uint8_t *p = NULL;
    qlm_status st = take32(c, &len, "string length", idx);
    if (st)
        return st;
    if (len > QLM_MAX_STR)
        return qlm_fail(QLM_E_LIMIT, "metadata '%s': string of %u bytes exceeds the %u-byte limit", key,
                        len, QLM_MAX_STR);
    if ((st = take(c, len, &p, "string", idx)))
        return st;
    if (!utf8_valid((const char *)p, len))
        return qlm_fail(QLM_E_UTF8, "metadata '%s': string is not valid UTF-8", key);
    return QLM_OK;
}

static qlm_status check_bools(const uint8_t *p, uint64_t n, const char *key)
{
    for (uint64_t i = 0; i < n; i++)
        if (p[i] > 1)
            return qlm_fail(QLM_E_VALUE, "metadata '%s': bool value %u is not 0 or 1", key, p[i]);
    return QLM_OK;
}

static qlm_status read_array(cursor *c, uint64_t idx, qlm_meta_entry *e)
{
    uint32_t elem;
    const uint8_t *p = NULL;
    qlm_status st = take32(c, &elem, "array element type", idx);
    if (st || (st = take(c, 8, &p, "array count", idx)))
        return st;
    uint64_t count = qlm_rd64(p);
    const char *key = e->info.key;
    if (elem == QLM_MT_ARRAY || elem > QLM_MT_ARRAY)
        return qlm_fail(QLM_E_DTYPE, "metadata '%s': array element type %u not allowed", key, elem);
    e->info.elem = (qlm_meta_type)elem;
    e->info.count = count;
    e->val = c->p;
    if (elem != QLM_MT_STRING) {
        size_t es = qlm_meta_elem_size((qlm_meta_type)elem);
        if (count > c->left / es)
            return qlm_fail(QLM_E_TRUNCATED, "metadata '%s': %llu-element array runs past the section", key,
                            (unsigned long long)count);
        take(c, count * es, &p, "array", idx);
        return elem == QLM_MT_BOOL ? check_bools(p, count, key) : QLM_OK;
    }
    if (count > c->left / 4) /* every string needs at least its length field */
        return qlm_fail(QLM_E_TRUNCATED, "metadata '%s': %llu-string array runs past the section", key,
                        (unsigned long long)count);
    e->str_off = malloc((count ? count : 1) * sizeof *e->str_off);
    if (!e->str_off)
        return qlm_fail(QLM_E_NOMEM, "metadata '%s': out of memory", key);
    for (uint64_t i = 0; i < count; i++) {
        e->str_off[i] = (uint64_t)(c->p - e->val);
        if ((st = read_string(c, idx, key)))
            return st;
    }
    return QLM_OK;
}

static qlm_status read_meta_entry(cursor *c, uint64_t idx, char **pool, qlm_meta_entry *e)
{
    uint32_t type;
    qlm_status st = read_name(c, idx, pool, &e->info.key);
    if (st || (st = take32(c, &type, "type", idx)))
        return st;
    if (type > QLM_MT_ARRAY)
        return qlm_fail(QLM_E_DTYPE, "metadata '%s': unknown type %u", e->info.key, type);
    e->info.type = e->info.elem = (qlm_meta_type)type;
    e->info.count = 1;
    e->val = c->p;
    if (type == QLM_MT_ARRAY)
        return read_array(c, idx, e);
    if (type == QLM_MT_STRING)
        return read_string(c, idx, e->info.key);
    const uint8_t *p = NULL;
    if ((st = take(c, qlm_meta_elem_size((qlm_meta_type)type), &p, "value", idx)))
        return st;
    return type == QLM_MT_BOOL ? check_bools(p, 1, e->info.key) : QLM_OK;
}

/* ---- tensors ----------------------------------------------------------------- */

static qlm_status read_tensor(cursor *c, uint64_t idx, char **pool, const header *h, const uint8_t *base,
                              qlm_tensor *t)
{
    const uint8_t *p = NULL;
    qlm_status st = read_name(c, idx, pool, &t->name);
    if (st || (st = take(c, QLM_D_TAIL, &p, "fixed fields", idx)))
        return st;
    t->dtype = qlm_rd32(p + QLM_D_DTYPE);
    t->rank = qlm_rd32(p + QLM_D_RANK);
    for (int i = 0; i < QLM_MAX_RANK; i++)
        t->dims[i] = qlm_rd64(p + QLM_D_DIMS + 8 * i);
    t->offset = qlm_rd64(p + QLM_D_OFFSET);
    t->nbytes = qlm_rd64(p + QLM_D_NBYTES);
    t->checksum = qlm_rd64(p + QLM_D_CHECKSUM);
    uint64_t want;
    if ((st = qlm_tensor_nbytes(t->dtype, t->rank, t->dims, &want)))
        return qlm_fail_context(st, "tensor '%s'", t->name);
    for (uint32_t i = t->rank; i < QLM_MAX_RANK; i++)
        if (t->dims[i])
            return qlm_fail(QLM_E_SHAPE, "tensor '%s': unused dim %u is not 0", t->name, i);
    t->n_elems = 1;
    for (uint32_t i = 0; i < t->rank; i++)
        t->n_elems *= t->dims[i]; /* cannot overflow: checked by qlm_tensor_nbytes */
    if (t->nbytes != want)
        return qlm_fail(QLM_E_SIZE, "tensor '%s': nbytes %llu, but %s x shape needs %llu", t->name,
                        (unsigned long long)t->nbytes, qlm_dtype_get(t->dtype)->name,
                        (unsigned long long)want);
    if (t->offset % h->tensor_align)
        return qlm_fail(QLM_E_ALIGN, "tensor '%s': offset %llu is not a multiple of %u", t->name,
                        (unsigned long long)t->offset, h->tensor_align);
    if (t->offset < h->dir.off + h->dir.size)
        return qlm_fail(QLM_E_OVERLAP, "tensor '%s': offset %llu overlaps the header/metadata/directory",
                        t->name, (unsigned long long)t->offset);
    if (t->offset < h->data.off || t->offset > h->file_size || t->nbytes > h->file_size - t->offset)
        return qlm_fail(QLM_E_BOUNDS, "tensor '%s': [%llu, +%llu) is outside the data section [%llu, %llu)",
                        t->name, (unsigned long long)t->offset, (unsigned long long)t->nbytes,
                        (unsigned long long)h->data.off, (unsigned long long)h->file_size);
    t->data = base + t->offset;
    return QLM_OK;
}

/* ---- cross checks -------------------------------------------------------------- */

static int cmp_meta_key(const void *a, const void *b)
{
    return strcmp((*(qlm_meta_entry *const *)a)->info.key, (*(qlm_meta_entry *const *)b)->info.key);
}

static int cmp_tensor_name(const void *a, const void *b)
{
    return strcmp((*(qlm_tensor *const *)a)->name, (*(qlm_tensor *const *)b)->name);
}

static int cmp_tensor_offset(const void *a, const void *b)
{
    uint64_t x = (*(qlm_tensor *const *)a)->offset, y = (*(qlm_tensor *const *)b)->offset;
    return (x > y) - (x < y);
}

static qlm_status check_overlaps(qlm_tensor **by_off, size_t n)
{
    qsort(by_off, n, sizeof *by_off, cmp_tensor_offset);
    for (size_t i = 1; i < n; i++)
        if (by_off[i - 1]->offset + by_off[i - 1]->nbytes > by_off[i]->offset)
            return qlm_fail(QLM_E_OVERLAP, "tensors '%s' and '%s' overlap", by_off[i - 1]->name,
                            by_off[i]->name);
    return QLM_OK;
}

/* ---- open ------------------------------------------------------------------- */

static qlm_status parse_meta(qlm_file *f, const header *h, char **pool)
{
    cursor c = {f->base + h->meta.off, h->meta.size, "metadata"};
    f->n_meta = (size_t)h->n_meta;
    f->meta = calloc(f->n_meta ? f->n_meta : 1, sizeof *f->meta);
    f->meta_by_key = malloc((f->n_meta ? f->n_meta : 1) * sizeof *f->meta_by_key);
    if (!f->meta || !f->meta_by_key)
        return qlm_fail(QLM_E_NOMEM, "metadata: out of memory");
    for (size_t i = 0; i < f->n_meta; i++) {
        qlm_status st = read_meta_entry(&c, i, pool, &f->meta[i]);
        if (st)
            return st;
        f->meta_by_key[i] = &f->meta[i];
    }
    if (c.left)
        return qlm_fail(QLM_E_SIZE, "metadata section has %llu bytes after its %zu entries",
                        (unsigned long long)c.left, f->n_meta);
    qsort(f->meta_by_key, f->n_meta, sizeof *f->meta_by_key, cmp_meta_key);
    for (size_t i = 1; i < f->n_meta; i++)
        if (strcmp(f->meta_by_key[i - 1]->info.key, f->meta_by_key[i]->info.key) == 0)
            return qlm_fail(QLM_E_DUPLICATE, "metadata key '%s' appears twice", f->meta_by_key[i]->info.key);
    return QLM_OK;
}

static qlm_status parse_dir(qlm_file *f, const header *h, char **pool)
{
    cursor c = {f->base + h->dir.off, h->dir.size, "directory"};
    size_t n = f->n_tensors = (size_t)h->n_tensors;
    f->tensors = calloc(n ? n : 1, sizeof *f->tensors);
    f->tensor_by_name = malloc((n ? n : 1) * sizeof *f->tensor_by_name);
    qlm_tensor **by_off = malloc((n ? n : 1) * sizeof *by_off);
    qlm_status st = QLM_OK;
    if (!f->tensors || !f->tensor_by_name || !by_off)
        st = qlm_fail(QLM_E_NOMEM, "directory: out of memory");
    for (size_t i = 0; i < n && !st; i++) {
        st = read_tensor(&c, i, pool, h, f->base, &f->tensors[i]);
        f->tensor_by_name[i] = by_off[i] = &f->tensors[i];
    }
    if (!st && c.left)
        st = qlm_fail(QLM_E_SIZE, "directory section has %llu bytes after its %zu entries",
                      (unsigned long long)c.left, n);
    if (!st) {
        qsort(f->tensor_by_name, n, sizeof *f->tensor_by_name, cmp_tensor_name);
        for (size_t i = 1; i < n && !st; i++)
            if (strcmp(f->tensor_by_name[i - 1]->name, f->tensor_by_name[i]->name) == 0)
                st = qlm_fail(QLM_E_DUPLICATE, "tensor name '%s' appears twice", f->tensor_by_name[i]->name);
    }
    if (!st)
        st = check_overlaps(by_off, n);
    free(by_off);
    return st;
}

/* Bytes for the NUL-terminated copies of every key and tensor name: at most
 * QLM_MAX_NAME + 1 per entry, and never more than the section bytes plus one
 * NUL per entry (the counts are already checked against the sections, and the
 * sections against the file, so nothing here can overflow). Tokenizer arrays
 * make the metadata section large; this keeps them out of the estimate. */
static size_t name_pool_size(const header *h)
{
    uint64_t m = h->n_meta * QLM_MAX_NAME, t = h->n_tensors * QLM_MAX_NAME;
    m = m < h->meta.size ? m : h->meta.size;
    t = t < h->dir.size ? t : h->dir.size;
    return (size_t)(m + h->n_meta + t + h->n_tensors + 1);
}

qlm_status qlm_file_open_mem(const void *data, size_t size, qlm_file **out)
{
    *out = NULL;
    header h = {0};
    qlm_status st = parse_header(data, size, &h);
    if (st)
        return st;
    qlm_file *f = calloc(1, sizeof *f);
    char *pool = f ? malloc(name_pool_size(&h)) : NULL;
    if (!pool) {
        free(f);
        return qlm_fail(QLM_E_NOMEM, "out of memory");
    }
    f->names = pool;
    f->base = data;
    f->size = size;
    f->version = QLM_VERSION;
    if ((st = parse_meta(f, &h, &pool)) || (st = parse_dir(f, &h, &pool))) {
        qlm_file_close(f);
        return st;
    }
    *out = f;
    return QLM_OK;
}

qlm_status qlm_file_open(const char *path, qlm_file **out)
{
    *out = NULL;
    qlm_map m;
    qlm_status st = qlm_map_open(path, &m);
    if (st)
        return st;
    if (qlm_is_zstd(&m)) {
        qlm_map_close(&m);
        char *cached;
        if ((st = qlm_zst_cached(path, &cached)))
            return st;
        st = qlm_file_open(cached, out);
        if (st && st != QLM_E_IO)
            unlink(cached); /* a sound frame holding a bad .qlm: do not keep it */
        free(cached);
        return st ? qlm_fail_context(st, "%s (decompressed)", path) : QLM_OK;
    }
    static const uint8_t empty[1];
    if ((st = qlm_file_open_mem(m.data ? m.data : empty, m.size, out))) {
        qlm_map_close(&m);
        return qlm_fail_context(st, "%s", path);
    }
    (*out)->map = m;
    return QLM_OK;
}

void qlm_file_release(const qlm_file *f, const void *p, size_t n) { qlm_map_release(&f->map, p, n); }

void qlm_file_close(qlm_file *f)
{
    if (!f)
        return;
    for (size_t i = 0; f->meta && i < f->n_meta; i++)
        free(f->meta[i].str_off);
    free(f->meta);
    free(f->meta_by_key);
    free(f->tensors);
    free(f->tensor_by_name);
    free(f->names);
    qlm_map_close(&f->map);
    free(f);
}

uint32_t qlm_file_version(const qlm_file *f) { return f->version; }
uint64_t qlm_file_size(const qlm_file *f) { return f->size; }
size_t qlm_file_n_tensors(const qlm_file *f) { return f->n_tensors; }

const qlm_tensor *qlm_file_tensor(const qlm_file *f, size_t i)
{
    return i < f->n_tensors ? &f->tensors[i] : NULL;
}

static int cmp_name_key(const void *key, const void *elem)
{
    return strcmp(key, (*(qlm_tensor *const *)elem)->name);
}

const qlm_tensor *qlm_file_find(const qlm_file *f, const char *name)
{
    qlm_tensor *const *t = bsearch(name, f->tensor_by_name, f->n_tensors, sizeof *t, cmp_name_key);
    return t ? *t : NULL;
}

qlm_status qlm_file_verify(const qlm_file *f, const qlm_tensor *t)
{
    if (t) {
        uint64_t sum = qlm_xxh64(t->data, (size_t)t->nbytes, 0);
        if (sum != t->checksum)
            return qlm_fail(QLM_E_CHECKSUM, "tensor '%s': data checksum mismatch (stored %016llx, computed %016llx)",
                            t->name, (unsigned long long)t->checksum, (unsigned long long)sum);
        return QLM_OK;
    }
    for (size_t i = 0; i < f->n_tensors; i++) {
        qlm_status st = qlm_file_verify(f, &f->tensors[i]);
        if (st)
            return st;
    }
    return QLM_OK;
}
