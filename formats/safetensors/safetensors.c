/* safetensors reader: header validation, sharded folders, name lookup. */
#include "formats/safetensors/safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/common/json.h"
#include "formats/common/mapfile.h"

struct qlm_st {
    qlm_map *maps; /* one per opened file (n_maps) */
    size_t n_maps;
    qlm_st_tensor *t;
    uint32_t *file; /* t[i] came from maps[file[i]] (or the memory image) */
    size_t n, cap;
    size_t *by_name; /* indices of t sorted by name */
    uint64_t data_bytes;
};

static const struct {
    const char *name;
    qlm_st_dtype type;
    uint32_t size;
} k_dtypes[] = {{"F32", QLM_ST_F32, 4}, {"F16", QLM_ST_F16, 2}, {"BF16", QLM_ST_BF16, 2},
                {"I8", QLM_ST_I8, 1},   {"U8", QLM_ST_U8, 1},   {"I16", QLM_ST_I16, 2},
                {"I32", QLM_ST_I32, 4}, {"U32", QLM_ST_U32, 4}, {"I64", QLM_ST_I64, 8}};

const char *qlm_st_dtype_name(qlm_st_dtype t) { return k_dtypes[t].name; }
uint32_t qlm_st_dtype_size(qlm_st_dtype t) { return k_dtypes[t].size; }
bool qlm_st_dtype_is_float(qlm_st_dtype t) { return t == QLM_ST_F32 || t == QLM_ST_F16 || t == QLM_ST_BF16; }

static uint64_t rd_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static qlm_status grow(qlm_st *st)
{
    if (st->n < st->cap)
        return QLM_OK;
    size_t cap = st->cap ? st->cap * 2 : 64;
    qlm_st_tensor *t = realloc(st->t, cap * sizeof *t);
    if (!t)
        return qlm_fail(QLM_E_NOMEM, "out of memory for the tensor list");
    st->t = t;
    uint32_t *f = realloc(st->file, cap * sizeof *f);
    if (!f)
        return qlm_fail(QLM_E_NOMEM, "out of memory for the tensor list");
    st->file = f;
    st->cap = cap;
    return QLM_OK;
}

/* A non-negative JSON integer. */
static int as_u64(const json_value *v, uint64_t *out)
{
    int64_t i;
    if (!json_as_i64(v, &i) || i < 0)
        return 0;
    *out = (uint64_t)i;
    return 1;
}

static qlm_status parse_dtype(const char *name, const json_value *e, qlm_st_dtype *type, uint32_t *size)
{
    size_t len;
    const char *s = json_as_str(json_get(e, "dtype"), &len);
    if (!s)
        return qlm_fail(QLM_E_MISSING, "tensor '%s': no \"dtype\" string", name);
    for (size_t i = 0; i < sizeof k_dtypes / sizeof k_dtypes[0]; i++) {
        if (strcmp(s, k_dtypes[i].name) == 0) {
            *type = k_dtypes[i].type;
            *size = k_dtypes[i].size;
            return QLM_OK;
        }
    }
    return qlm_fail(QLM_E_DTYPE, "tensor '%s': dtype %.32s is not supported (F32, F16, BF16, I8, U8, I16, I32, U32, I64)", name, s);
}

static qlm_status parse_shape(const char *name, const json_value *e, uint32_t esize, qlm_st_tensor *t)
{
    const json_value *shape = json_get(e, "shape");
    if (!shape || shape->type != JSON_ARRAY)
        return qlm_fail(QLM_E_MISSING, "tensor '%s': no \"shape\" array", name);
    if (shape->n > QLM_ST_MAX_RANK)
        return qlm_fail(QLM_E_OVERFLOW, "tensor '%s': rank %zu exceeds %d", name, shape->n, QLM_ST_MAX_RANK);
    t->rank = (uint32_t)shape->n;
    uint64_t n = 1;
    for (size_t i = 0; i < shape->n; i++) {
        if (!as_u64(json_at(shape, i), &t->dims[i]))
            return qlm_fail(QLM_E_VALUE, "tensor '%s': shape[%zu] is not a non-negative integer", name, i);
        if (__builtin_mul_overflow(n, t->dims[i], &n))
            return qlm_fail(QLM_E_OVERFLOW, "tensor '%s': element count overflows", name);
    }
    t->n_elems = n;
    if (__builtin_mul_overflow(n, (uint64_t)esize, &t->nbytes))
        return qlm_fail(QLM_E_OVERFLOW, "tensor '%s': byte size overflows", name);
    return QLM_OK;
}

static qlm_status parse_offsets(const char *name, const json_value *e, uint64_t data_size,
                                const qlm_st_tensor *t, uint64_t *begin)
{
    const json_value *off = json_get(e, "data_offsets");
    uint64_t b, end;
    if (!off || off->type != JSON_ARRAY || off->n != 2)
        return qlm_fail(QLM_E_MISSING, "tensor '%s': no \"data_offsets\" [begin, end]", name);
    if (!as_u64(json_at(off, 0), &b) || !as_u64(json_at(off, 1), &end))
        return qlm_fail(QLM_E_VALUE, "tensor '%s': data_offsets are not non-negative integers", name);
    if (b > end)
        return qlm_fail(QLM_E_BOUNDS, "tensor '%s': data_offsets begin %llu > end %llu", name,
                        (unsigned long long)b, (unsigned long long)end);
    if (end > data_size)
        return qlm_fail(QLM_E_BOUNDS, "tensor '%s': data_offsets end %llu beyond the %llu data bytes", name,
                        (unsigned long long)end, (unsigned long long)data_size);
    if (end - b != t->nbytes)
        return qlm_fail(QLM_E_SIZE, "tensor '%s': %llu data bytes, but dtype x shape needs %llu", name,
                        (unsigned long long)(end - b), (unsigned long long)t->nbytes);
    *begin = b;
    return QLM_OK;
}

static char *dup_name(const char *s, size_t len)
{
    char *d = malloc(len + 1);
    if (d)
        memcpy(d, s, len + 1);
    return d;
}

/* One header entry -> st->t[st->n]. */
static qlm_status parse_entry(qlm_st *st, const json_member *m, const uint8_t *data, uint64_t data_size,
                              uint32_t file)
{
    if (strlen(m->key) != m->key_len)
        return qlm_fail(QLM_E_VALUE, "tensor name contains a NUL byte");
    if (m->value.type != JSON_OBJECT)
        return qlm_fail(QLM_E_JSON, "tensor '%s': entry is not an object", m->key);
    qlm_status st_ = grow(st);
    if (st_)
        return st_;
    qlm_st_tensor t = {0};
    uint32_t esize = 0;
    uint64_t begin = 0;
    if ((st_ = parse_dtype(m->key, &m->value, &t.dtype, &esize)) ||
        (st_ = parse_shape(m->key, &m->value, esize, &t)) ||
        (st_ = parse_offsets(m->key, &m->value, data_size, &t, &begin)))
        return st_;
    t.data = data + begin;
    if (!(t.name = dup_name(m->key, m->key_len)))
        return qlm_fail(QLM_E_NOMEM, "out of memory for tensor names");
    st->t[st->n] = t;
    st->file[st->n] = file;
    st->n++;
    st->data_bytes += t.nbytes;
    return QLM_OK;
}

static const qlm_st_tensor *g_sort_t; /* qsort has no context argument */

static int cmp_begin(const void *a, const void *b)
{
    const uint8_t *pa = g_sort_t[*(const size_t *)a].data, *pb = g_sort_t[*(const size_t *)b].data;
    return pa < pb ? -1 : pa > pb;
}

/* Tensors first..st->n of one file must occupy disjoint byte ranges. */
static qlm_status check_overlap(qlm_st *st, size_t first)
{
    size_t n = st->n - first;
    if (n < 2)
        return QLM_OK;
    size_t *ix = malloc(n * sizeof *ix);
    if (!ix)
        return qlm_fail(QLM_E_NOMEM, "out of memory checking overlaps");
    for (size_t i = 0; i < n; i++)
        ix[i] = first + i;
    g_sort_t = st->t;
    qsort(ix, n, sizeof *ix, cmp_begin);
    qlm_status rc = QLM_OK;
    for (size_t i = 1; i < n && !rc; i++) {
        const qlm_st_tensor *a = &st->t[ix[i - 1]], *b = &st->t[ix[i]];
        if ((const uint8_t *)a->data + a->nbytes > (const uint8_t *)b->data)
            rc = qlm_fail(QLM_E_OVERLAP, "tensors '%s' and '%s' overlap in the data section", a->name, b->name);
    }
    free(ix);
    return rc;
}

static qlm_status parse_image(qlm_st *st, const uint8_t *data, size_t size, uint32_t file)
{
    if (size < 8)
        return qlm_fail(QLM_E_TRUNCATED, "safetensors: %zu bytes, too short for the header length", size);
    uint64_t hlen = rd_le64(data);
    if (hlen > size - 8)
        return qlm_fail(QLM_E_TRUNCATED, "safetensors: header length %llu exceeds the file (%zu bytes)",
                        (unsigned long long)hlen, size);
    if (hlen > QLM_ST_MAX_HEADER)
        return qlm_fail(QLM_E_LIMIT, "safetensors: header length %llu exceeds %u bytes",
                        (unsigned long long)hlen, QLM_ST_MAX_HEADER);
    json_doc *doc;
    qlm_status rc = json_parse((const char *)data + 8, (size_t)hlen, &doc);
    if (rc)
        return qlm_fail_context(rc, "safetensors header");
    const json_value *root = json_root(doc);
    size_t first = st->n;
    if (root->type != JSON_OBJECT)
        rc = qlm_fail(QLM_E_JSON, "safetensors: header is not a JSON object");
    for (size_t i = 0; !rc && root->type == JSON_OBJECT && i < root->n; i++) {
        const json_member *m = &root->u.members[i];
        if (strcmp(m->key, "__metadata__") == 0) {
            if (m->value.type != JSON_OBJECT)
                rc = qlm_fail(QLM_E_JSON, "safetensors: __metadata__ is not an object");
            continue;
        }
        rc = parse_entry(st, m, data + 8 + hlen, size - 8 - hlen, file);
    }
    json_free(doc);
    return rc ? rc : check_overlap(st, first);
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(g_sort_t[*(const size_t *)a].name, g_sort_t[*(const size_t *)b].name);
}

/* Sort the name index and reject duplicates (also across shards). */
static qlm_status index_names(qlm_st *st)
{
    st->by_name = malloc((st->n ? st->n : 1) * sizeof *st->by_name);
    if (!st->by_name)
        return qlm_fail(QLM_E_NOMEM, "out of memory for the name index");
    for (size_t i = 0; i < st->n; i++)
        st->by_name[i] = i;
    g_sort_t = st->t;
    qsort(st->by_name, st->n, sizeof *st->by_name, cmp_name);
    for (size_t i = 1; i < st->n; i++)
        if (strcmp(st->t[st->by_name[i - 1]].name, st->t[st->by_name[i]].name) == 0)
            return qlm_fail(QLM_E_DUPLICATE, "tensor '%s' appears twice", st->t[st->by_name[i]].name);
    return QLM_OK;
}

static qlm_st *st_new(void) { return calloc(1, sizeof(qlm_st)); }

void qlm_st_close(qlm_st *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->n; i++)
        free((char *)st->t[i].name);
    for (size_t i = 0; i < st->n_maps; i++)
        qlm_map_close(&st->maps[i]);
    free(st->maps);
    free(st->t);
    free(st->file);
    free(st->by_name);
    free(st);
}

static qlm_status finish_open(qlm_st *st, qlm_status rc, qlm_st **out)
{
    if (!rc)
        rc = index_names(st);
    if (rc) {
        qlm_st_close(st);
        return rc;
    }
    *out = st;
    return QLM_OK;
}

qlm_status qlm_st_open_mem(const void *data, size_t size, qlm_st **out)
{
    qlm_st *st = st_new();
    if (!st)
        return qlm_fail(QLM_E_NOMEM, "out of memory");
    return finish_open(st, parse_image(st, data, size, 0), out);
}

/* Map one more file into st and parse it. */
static qlm_status add_file(qlm_st *st, const char *path)
{
    qlm_map *maps = realloc(st->maps, (st->n_maps + 1) * sizeof *maps);
    if (!maps)
        return qlm_fail(QLM_E_NOMEM, "out of memory");
    st->maps = maps;
    qlm_status rc = qlm_map_open(path, &st->maps[st->n_maps]);
    if (rc)
        return rc;
    qlm_map *m = &st->maps[st->n_maps++];
    rc = parse_image(st, m->data, m->size, (uint32_t)(st->n_maps - 1));
    return rc ? qlm_fail_context(rc, "%s", path) : QLM_OK;
}

qlm_status qlm_st_open(const char *path, qlm_st **out)
{
    qlm_st *st = st_new();
    if (!st)
        return qlm_fail(QLM_E_NOMEM, "out of memory");
    return finish_open(st, add_file(st, path), out);
}

size_t qlm_st_count(const qlm_st *st) { return st->n; }
const qlm_st_tensor *qlm_st_at(const qlm_st *st, size_t i) { return i < st->n ? &st->t[i] : NULL; }
uint64_t qlm_st_data_bytes(const qlm_st *st) { return st->data_bytes; }

const qlm_st_tensor *qlm_st_find(const qlm_st *st, const char *name)
{
    size_t lo = 0, hi = st->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(st->t[st->by_name[mid]].name, name);
        if (c == 0)
            return &st->t[st->by_name[mid]];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Shard file names come from the index: they must stay inside the folder. */
static qlm_status check_shard_name(const char *s, size_t len)
{
    if (len == 0 || strlen(s) != len || strchr(s, '/') || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return qlm_fail(QLM_E_VALUE, "weight_map: shard file name '%.64s' is not a plain file name", s);
    return QLM_OK;
}

/* Open every shard the weight_map names (once each), in order of first use. */
static qlm_status open_shards(qlm_st *st, const char *dir, const json_value *wm, const char **shards)
{
    char path[4096];
    size_t n_shards = 0;
    for (size_t i = 0; i < wm->n; i++) {
        size_t len;
        const char *s = json_as_str(&wm->u.members[i].value, &len);
        if (!s)
            return qlm_fail(QLM_E_JSON, "weight_map['%s'] is not a string", wm->u.members[i].key);
        qlm_status rc = check_shard_name(s, len);
        if (rc)
            return rc;
        size_t k = 0;
        while (k < n_shards && strcmp(shards[k], s) != 0)
            k++;
        if (k < n_shards)
            continue;
        shards[n_shards++] = s;
        if ((rc = qlm_path_join(path, sizeof path, dir, s)) || (rc = add_file(st, path)))
            return rc;
    }
    return QLM_OK;
}

/* Every tensor the weight_map names must be in the shard it names. */
static qlm_status check_weight_map(const qlm_st *st, const json_value *wm, const char **shards)
{
    for (size_t i = 0; i < wm->n; i++) {
        const json_member *m = &wm->u.members[i];
        const char *s = json_as_str(&m->value, NULL);
        const qlm_st_tensor *t = qlm_st_find(st, m->key);
        if (!t || strcmp(shards[st->file[t - st->t]], s) != 0)
            return qlm_fail(QLM_E_MISSING, "tensor '%s': not found in shard %s named by the index", m->key, s);
    }
    return QLM_OK;
}

static qlm_status open_index(qlm_st *st, const char *dir, const char *index)
{
    json_doc *doc;
    qlm_status rc = json_parse_file(index, 64u << 20, &doc);
    if (rc)
        return rc;
    const json_value *wm = json_get(json_root(doc), "weight_map");
    const char **shards = NULL;
    if (!wm || wm->type != JSON_OBJECT)
        rc = qlm_fail(QLM_E_MISSING, "%s: no \"weight_map\" object", index);
    else if (!(shards = malloc((wm->n ? wm->n : 1) * sizeof *shards)))
        rc = qlm_fail(QLM_E_NOMEM, "out of memory");
    if (!rc)
        rc = open_shards(st, dir, wm, shards);
    if (!rc)
        rc = index_names(st);
    if (!rc)
        rc = check_weight_map(st, wm, shards);
    free(shards);
    json_free(doc);
    return rc;
}

qlm_status qlm_st_open_dir(const char *dir, qlm_st **out)
{
    char path[4096];
    qlm_status rc = qlm_path_join(path, sizeof path, dir, "model.safetensors.index.json");
    if (rc)
        return rc;
    if (!qlm_is_file(path)) {
        if ((rc = qlm_path_join(path, sizeof path, dir, "model.safetensors")))
            return rc;
        if (!qlm_is_file(path))
            return qlm_fail(QLM_E_MISSING, "%s: neither model.safetensors.index.json nor model.safetensors", dir);
        return qlm_st_open(path, out);
    }
    qlm_st *st = st_new();
    if (!st)
        return qlm_fail(QLM_E_NOMEM, "out of memory");
    rc = open_index(st, dir, path);
    if (rc) {
        qlm_st_close(st);
        return rc;
    }
    *out = st;
    return QLM_OK;
}
