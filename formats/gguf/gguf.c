/* GGUF v2/v3 reader. Layout (all little-endian):
 *   "GGUF" u32 version, u64 n_tensors, u64 n_kv,
 *   n_kv x { string key, u32 type, value },
 *   n_tensors x { string name, u32 n_dims, u64 ne[n_dims], u32 ggml_type, u64 offset },
 *   padding to general.alignment, tensor data (offsets relative to here).
 * A string is u64 length + bytes; an array is u32 elem type, u64 count, elements.
 *
 * Everything is validated in gguf_open_mem() before it returns: after that the
 * getters only index structures whose bounds are known. No allocation is sized
 * from a count before that count was checked against the bytes left in the file.
 */
#include "formats/gguf/gguf_int.h"

#include <stdlib.h>
#include <string.h>

#include "formats/common/utf8.h"

#define GGUF_MAGIC "GGUF"
#define GGUF_DEFAULT_ALIGN 32
#define GGUF_MAX_NAME 256    /* ggml itself caps tensor names at 64 bytes */
#define GGUF_MAX_KEY 65536
#define GGUF_MAX_DIMS 4
/* Smallest encodings: a kv is key length + type + 1-byte value; a tensor info
 * is name length + n_dims + one ne + type + offset. Counts beyond what the
 * remaining bytes could hold are rejected before anything is allocated. */
#define GGUF_MIN_KV 13
#define GGUF_MIN_TENSOR 32

/* ---- bounded little-endian cursor ---- */

typedef struct {
    const uint8_t *p;
    size_t size;
    size_t pos;
} cursor;

uint64_t gguf_le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static size_t left(const cursor *c) { return c->size - c->pos; }

static qlm_status need(const cursor *c, size_t n, const char *what)
{
    if (left(c) < n)
        return qlm_fail(QLM_E_TRUNCATED, "gguf: file ends inside %s (offset %zu, need %zu bytes, %zu left)",
                        what, c->pos, n, left(c));
    return QLM_OK;
}

static qlm_status rd_u32(cursor *c, uint32_t *v, const char *what)
{
    qlm_status st = need(c, 4, what);
    if (st)
        return st;
    *v = (uint32_t)gguf_le(c->p + c->pos, 4);
    c->pos += 4;
    return QLM_OK;
}

static qlm_status rd_u64(cursor *c, uint64_t *v, const char *what)
{
    qlm_status st = need(c, 8, what);
    if (st)
        return st;
    *v = gguf_le(c->p + c->pos, 8);
    c->pos += 8;
    return QLM_OK;
}

/* Skips a string, returning where its bytes start and its length. */
static qlm_status rd_str(cursor *c, size_t *start, uint64_t *len, const char *what)
{
    qlm_status st = rd_u64(c, len, what);
    if (st)
        return st;
    if (*len > left(c))
        return qlm_fail(QLM_E_TRUNCATED, "gguf: %s of %llu bytes runs past the end of the file (offset %zu)",
                        what, (unsigned long long)*len, c->pos);
    *start = c->pos;
    c->pos += (size_t)*len;
    return QLM_OK;
}

/* A NUL-terminated copy of a name that must be valid UTF-8 and not too long. */
static qlm_status rd_name(cursor *c, uint64_t max, char **out, const char *what)
{
    size_t start;
    uint64_t len;
    qlm_status st = rd_str(c, &start, &len, what);
    if (st)
        return st;
    if (len > max)
        return qlm_fail(QLM_E_LIMIT, "gguf: %s at offset %zu is %llu bytes long (limit %llu)", what, start,
                        (unsigned long long)len, (unsigned long long)max);
    if (!utf8_valid((const char *)c->p + start, (size_t)len))
        return qlm_fail(QLM_E_UTF8, "gguf: %s at offset %zu is not valid UTF-8", what, start);
    if (memchr(c->p + start, 0, (size_t)len))
        return qlm_fail(QLM_E_VALUE, "gguf: %s at offset %zu contains a NUL byte", what, start);
    char *s = malloc((size_t)len + 1);
    if (!s)
        return qlm_fail(QLM_E_NOMEM, "gguf: out of memory");
    memcpy(s, c->p + start, (size_t)len);
    s[len] = 0;
    *out = s;
    return QLM_OK;
}

/* ---- metadata values ---- */

size_t gguf_vtype_size(uint32_t t)
{
    switch (t) {
    case GGUF_T_U8: case GGUF_T_I8: case GGUF_T_BOOL: return 1;
    case GGUF_T_U16: case GGUF_T_I16: return 2;
    case GGUF_T_U32: case GGUF_T_I32: case GGUF_T_F32: return 4;
    case GGUF_T_U64: case GGUF_T_I64: case GGUF_T_F64: return 8;
    default: return 0;
    }
}

static bool vtype_known(uint32_t t) { return t <= GGUF_T_F64; }

static qlm_status parse_array(cursor *c, gguf_kv *kv)
{
    uint32_t elem;
    qlm_status st = rd_u32(c, &elem, "array element type");
    if (st)
        return st;
    if (!vtype_known(elem))
        return qlm_fail(QLM_E_DTYPE, "gguf: key '%s': unknown array element type %u", kv->key, elem);
    if (elem == GGUF_T_ARRAY)
        return qlm_fail(QLM_E_UNSUPPORTED, "gguf: key '%s': arrays of arrays are not supported", kv->key);
    if ((st = rd_u64(c, &kv->count, "array length")))
        return st;
    kv->elem = (gguf_vtype)elem;
    kv->off = c->pos;
    size_t es = gguf_vtype_size(elem);
    if (es) {
        if (kv->count > left(c) / es)
            return qlm_fail(QLM_E_TRUNCATED, "gguf: key '%s': array of %llu elements runs past the end of the file",
                            kv->key, (unsigned long long)kv->count);
        c->pos += (size_t)kv->count * es;
        return QLM_OK;
    }
    if (kv->count > left(c) / 8) /* every string has an 8-byte length */
        return qlm_fail(QLM_E_TRUNCATED, "gguf: key '%s': array of %llu strings runs past the end of the file",
                        kv->key, (unsigned long long)kv->count);
    kv->str_off = malloc((size_t)(kv->count ? kv->count : 1) * sizeof *kv->str_off);
    if (!kv->str_off)
        return qlm_fail(QLM_E_NOMEM, "gguf: out of memory");
    for (uint64_t i = 0; i < kv->count; i++) {
        size_t start;
        uint64_t len;
        kv->str_off[i] = c->pos;
        if ((st = rd_str(c, &start, &len, "array string")))
            return qlm_fail_context(st, "gguf: key '%s' element %llu", kv->key, (unsigned long long)i);
    }
    return QLM_OK;
}

static qlm_status parse_kv(cursor *c, gguf_kv *kv)
{
    qlm_status st = rd_name(c, GGUF_MAX_KEY, &kv->key, "metadata key");
    if (st)
        return st;
    uint32_t type;
    if ((st = rd_u32(c, &type, "metadata value type")))
        return st;
    if (!vtype_known(type))
        return qlm_fail(QLM_E_DTYPE, "gguf: key '%s': unknown value type %u", kv->key, type);
    kv->type = (gguf_vtype)type;
    kv->count = 1;
    kv->off = c->pos;
    if (type == GGUF_T_ARRAY)
        return parse_array(c, kv);
    if (type == GGUF_T_STRING) {
        size_t start;
        uint64_t len;
        return rd_str(c, &start, &len, "string value");
    }
    size_t n = gguf_vtype_size(type);
    if ((st = need(c, n, "metadata value")))
        return st;
    c->pos += n;
    return QLM_OK;
}

/* ---- name index: sorted (name, idx) pairs for lookup and duplicate checks ---- */

static int cmp_name(const void *a, const void *b)
{
    return strcmp(((const name_ix *)a)->name, ((const name_ix *)b)->name);
}

const name_ix *gguf_find_name(const name_ix *ix, size_t n, const char *name)
{
    if (!n)
        return NULL;
    name_ix key = {name, 0};
    return bsearch(&key, ix, n, sizeof *ix, cmp_name);
}

/* Sorts ix; a name that occurs twice is QLM_E_DUPLICATE. */
static qlm_status sort_unique(name_ix *ix, size_t n, const char *what)
{
    if (n > 1)
        qsort(ix, n, sizeof *ix, cmp_name);
    for (size_t i = 1; i < n; i++)
        if (!strcmp(ix[i - 1].name, ix[i].name))
            return qlm_fail(QLM_E_DUPLICATE, "gguf: duplicate %s '%s'", what, ix[i].name);
    return QLM_OK;
}

/* ---- tensors ---- */

/* Elements per block and bytes per block of the ggml types qlm imports. */
static bool ggml_geometry(uint32_t type, uint64_t *blk, uint64_t *bytes)
{
    switch (type) {
    case GGML_F32: *blk = 1; *bytes = 4; return true;
    case GGML_F16: *blk = 1; *bytes = 2; return true;
    case GGML_BF16: *blk = 1; *bytes = 2; return true;
    case GGML_Q8_0: *blk = 32; *bytes = 34; return true;
    case GGML_Q4_0: *blk = 32; *bytes = 18; return true;
    default: return false;
    }
}

static qlm_status parse_tensor_info(cursor *c, gguf_tensor *t, uint64_t *offset)
{
    char *name = NULL;
    qlm_status st = rd_name(c, GGUF_MAX_NAME, &name, "tensor name");
    if (st)
        return st;
    t->name = name;
    uint32_t n_dims;
    if ((st = rd_u32(c, &n_dims, "tensor rank")))
        return st;
    if (n_dims == 0 || n_dims > GGUF_MAX_DIMS)
        return qlm_fail(n_dims ? QLM_E_OVERFLOW : QLM_E_SHAPE, "gguf: tensor '%s': rank %u (must be 1..%d)",
                        name, n_dims, GGUF_MAX_DIMS);
    t->rank = n_dims;
    uint64_t ne[GGUF_MAX_DIMS], n = 1;
    for (uint32_t i = 0; i < n_dims; i++) {
        if ((st = rd_u64(c, &ne[i], "tensor dims")))
            return st;
        if (ne[i] == 0)
            return qlm_fail(QLM_E_SHAPE, "gguf: tensor '%s': dimension %u is 0", name, i);
        if (ne[i] > (UINT64_MAX >> 2) / n) /* keeps n*4 and n*34/32 below 2^64 */
            return qlm_fail(QLM_E_OVERFLOW, "gguf: tensor '%s': element count overflows", name);
        n *= ne[i];
        t->dims[n_dims - 1 - i] = ne[i]; /* row-major: ne[0] is innermost */
    }
    t->n_elems = n;
    if ((st = rd_u32(c, &t->ggml_type, "tensor type")) || (st = rd_u64(c, offset, "tensor offset")))
        return st;
    uint64_t blk, bytes;
    if (ggml_geometry(t->ggml_type, &blk, &bytes)) {
        if (ne[0] % blk)
            return qlm_fail(QLM_E_SIZE, "gguf: tensor '%s': row of %llu elements is not a multiple of the %llu-element block of type %u",
                            name, (unsigned long long)ne[0], (unsigned long long)blk, t->ggml_type);
        t->nbytes = n / blk * bytes;
    }
    return QLM_OK;
}

static int cmp_u64_pair(const void *a, const void *b)
{
    const uint64_t *x = a, *y = b;
    return (x[0] > y[0]) - (x[0] < y[0]);
}

/* Offsets (relative to the data section) must be aligned, inside the file and
 * disjoint. pairs[2*i] = offset, pairs[2*i+1] = tensor index. */
static qlm_status place_tensors(gguf_file *g, size_t data_start, uint64_t *pairs)
{
    uint64_t data_size = data_start <= g->size ? g->size - data_start : 0;
    size_t n_known = 0;
    for (size_t i = 0; i < g->n_tensors; i++) {
        gguf_tensor *t = &g->tensors[i];
        uint64_t off = pairs[2 * i];
        if (off % g->alignment)
            return qlm_fail(QLM_E_ALIGN, "gguf: tensor '%s': offset %llu is not a multiple of the alignment %llu",
                            t->name, (unsigned long long)off, (unsigned long long)g->alignment);
        if (off > data_size || t->nbytes > data_size - off)
            return qlm_fail(QLM_E_BOUNDS, "gguf: tensor '%s': data [%llu, +%llu) lies outside the %llu-byte data section",
                            t->name, (unsigned long long)off, (unsigned long long)t->nbytes,
                            (unsigned long long)data_size);
        if (t->nbytes) {
            t->data = g->base + data_start + off;
            pairs[2 * n_known] = off;
            pairs[2 * n_known + 1] = i;
            n_known++;
        }
    }
    qsort(pairs, n_known, 2 * sizeof *pairs, cmp_u64_pair);
    for (size_t k = 1; k < n_known; k++) {
        const gguf_tensor *a = &g->tensors[pairs[2 * k - 1]], *b = &g->tensors[pairs[2 * k + 1]];
        if (pairs[2 * (k - 1)] + a->nbytes > pairs[2 * k])
            return qlm_fail(QLM_E_OVERLAP, "gguf: tensors '%s' and '%s' overlap", a->name, b->name);
    }
    return QLM_OK;
}

static qlm_status read_alignment(gguf_file *g)
{
    g->alignment = GGUF_DEFAULT_ALIGN;
    if (!gguf_has(g, "general.alignment"))
        return QLM_OK;
    int64_t a;
    qlm_status st = gguf_get_i64(g, "general.alignment", &a);
    if (st)
        return st;
    /* The spec requires a multiple of 8; a power of two keeps align-up exact. */
    if (a < 8 || a > (1 << 30) || (a & (a - 1)))
        return qlm_fail(QLM_E_ALIGN, "gguf: general.alignment %lld is not a power of two in [8, 2^30]", (long long)a);
    g->alignment = (uint64_t)a;
    return QLM_OK;
}

static qlm_status parse_header(gguf_file *g, cursor *c, uint64_t *n_tensors, uint64_t *n_kv)
{
    if (c->size < 4)
        return qlm_fail(QLM_E_TRUNCATED, "gguf: file of %zu bytes is too short for a header", c->size);
    if (memcmp(c->p, GGUF_MAGIC, 4))
        return qlm_fail(QLM_E_MAGIC, "gguf: bad magic (not a GGUF file)");
    c->pos = 4;
    qlm_status st = rd_u32(c, &g->version, "header");
    if (st)
        return st;
    if (g->version != 2 && g->version != 3) {
        if (g->version >= 0x01000000u)
            return qlm_fail(QLM_E_VERSION, "gguf: big-endian GGUF files are not supported");
        return qlm_fail(QLM_E_VERSION, "gguf: version %u not supported (only 2 and 3)", g->version);
    }
    if ((st = rd_u64(c, n_tensors, "header")) || (st = rd_u64(c, n_kv, "header")))
        return st;
    if (*n_kv > left(c) / GGUF_MIN_KV)
        return qlm_fail(QLM_E_TRUNCATED, "gguf: header declares %llu metadata entries, more than the file can hold",
                        (unsigned long long)*n_kv);
    if (*n_tensors > left(c) / GGUF_MIN_TENSOR)
        return qlm_fail(QLM_E_TRUNCATED, "gguf: header declares %llu tensors, more than the file can hold",
                        (unsigned long long)*n_tensors);
    return QLM_OK;
}

static qlm_status parse_all(gguf_file *g)
{
    cursor c = {g->base, g->size, 0};
    uint64_t n_tensors, n_kv;
    qlm_status st = parse_header(g, &c, &n_tensors, &n_kv);
    if (st)
        return st;

    g->kv = calloc((size_t)n_kv + 1, sizeof *g->kv);
    g->kv_by_name = calloc((size_t)n_kv + 1, sizeof *g->kv_by_name);
    if (!g->kv || !g->kv_by_name)
        return qlm_fail(QLM_E_NOMEM, "gguf: out of memory");
    for (size_t i = 0; i < n_kv; i++) {
        g->n_kv = i + 1; /* so gguf_close frees a partly parsed entry */
        if ((st = parse_kv(&c, &g->kv[i])))
            return qlm_fail_context(st, "gguf: metadata entry %zu", i);
        g->kv_by_name[i] = (name_ix){g->kv[i].key, i};
    }
    if ((st = sort_unique(g->kv_by_name, g->n_kv, "metadata key")) || (st = read_alignment(g)))
        return st;

    g->tensors = calloc((size_t)n_tensors + 1, sizeof *g->tensors);
    g->t_by_name = calloc((size_t)n_tensors + 1, sizeof *g->t_by_name);
    uint64_t *pairs = calloc(2 * (size_t)n_tensors + 1, sizeof *pairs);
    if (!g->tensors || !g->t_by_name || !pairs) {
        free(pairs);
        return qlm_fail(QLM_E_NOMEM, "gguf: out of memory");
    }
    for (size_t i = 0; i < n_tensors && !st; i++) {
        g->n_tensors = i + 1;
        if ((st = parse_tensor_info(&c, &g->tensors[i], &pairs[2 * i])))
            qlm_fail_context(st, "gguf: tensor info %zu", i);
        else
            g->t_by_name[i] = (name_ix){g->tensors[i].name, i};
    }
    if (!st)
        st = sort_unique(g->t_by_name, g->n_tensors, "tensor name");
    if (!st) {
        size_t data_start = c.pos + (size_t)((g->alignment - c.pos % g->alignment) % g->alignment);
        st = place_tensors(g, data_start, pairs);
    }
    free(pairs);
    return st;
}

qlm_status gguf_open_mem(const void *data, size_t size, gguf_file **out)
{
    *out = NULL;
    gguf_file *g = calloc(1, sizeof *g);
    if (!g)
        return qlm_fail(QLM_E_NOMEM, "gguf: out of memory");
    g->base = data;
    g->size = data ? size : 0;
    qlm_status st = parse_all(g);
    if (st) {
        gguf_close(g);
        return st;
    }
    *out = g;
    return QLM_OK;
}

qlm_status gguf_open(const char *path, gguf_file **out)
{
    *out = NULL;
    qlm_map m;
    qlm_status st = qlm_map_open(path, &m);
    if (st)
        return st;
    if ((st = gguf_open_mem(m.data, m.size, out))) {
        qlm_map_close(&m);
        return qlm_fail_context(st, "%s", path);
    }
    (*out)->map = m;
    return QLM_OK;
}

void gguf_close(gguf_file *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n_kv; i++) {
        free(g->kv[i].key);
        free(g->kv[i].str_off);
    }
    for (size_t i = 0; i < g->n_tensors; i++)
        free((char *)g->tensors[i].name);
    free(g->kv);
    free(g->kv_by_name);
    free(g->tensors);
    free(g->t_by_name);
    qlm_map_close(&g->map);
    free(g);
}

uint32_t gguf_version(const gguf_file *g) { return g->version; }
size_t gguf_n_tensors(const gguf_file *g) { return g->n_tensors; }

const gguf_tensor *gguf_tensor_at(const gguf_file *g, size_t i)
{
    return i < g->n_tensors ? &g->tensors[i] : NULL;
}

const gguf_tensor *gguf_find_tensor(const gguf_file *g, const char *name)
{
    const name_ix *p = gguf_find_name(g->t_by_name, g->n_tensors, name);
    return p ? &g->tensors[p->idx] : NULL;
}
