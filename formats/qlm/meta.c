/* Typed metadata getters over a validated qlm_file (read.c has checked every
 * length and bound, so these only interpret bytes). */
#include <stdlib.h>
#include <string.h>

#include "formats/qlm/internal.h"
#include "formats/qlm/layout.h"

size_t qlm_meta_elem_size(qlm_meta_type t)
{
    switch (t) {
    case QLM_MT_U8: case QLM_MT_BOOL: return 1;
    case QLM_MT_I32: case QLM_MT_U32: case QLM_MT_F32: return 4;
    case QLM_MT_I64: case QLM_MT_U64: case QLM_MT_F64: return 8;
    default: return 0;
    }
}

static int cmp_key(const void *key, const void *elem)
{
    return strcmp(key, (*(qlm_meta_entry *const *)elem)->info.key);
}

const qlm_meta_entry *qlm_meta_find(const qlm_file *f, const char *key)
{
    qlm_meta_entry *const *e = bsearch(key, f->meta_by_key, f->n_meta, sizeof *e, cmp_key);
    return e ? *e : NULL;
}

size_t qlm_meta_count(const qlm_file *f) { return f->n_meta; }

const qlm_meta_info *qlm_meta_at(const qlm_file *f, size_t i)
{
    return i < f->n_meta ? &f->meta[i].info : NULL;
}

bool qlm_meta_has(const qlm_file *f, const char *key) { return qlm_meta_find(f, key) != NULL; }

static const char *const k_type_names[] = {"u8", "i32", "u32", "i64", "u64", "f32", "f64", "bool", "str", "array"};

const char *qlm_meta_type_name(qlm_meta_type t)
{
    return (unsigned)t <= QLM_MT_ARRAY ? k_type_names[t] : "?";
}

/* Entry of scalar type satisfying `ok`, else QLM_E_MISSING / QLM_E_VALUE. */
static qlm_status find_scalar(const qlm_file *f, const char *key, const char *want, bool (*ok)(qlm_meta_type),
                              const qlm_meta_entry **out)
{
    const qlm_meta_entry *e = qlm_meta_find(f, key);
    if (!e)
        return qlm_fail(QLM_E_MISSING, "metadata key '%s' is missing", key);
    if (e->info.type == QLM_MT_ARRAY || !ok(e->info.type))
        return qlm_fail(QLM_E_VALUE, "metadata '%s' is %s, expected %s", key, qlm_meta_type_name(e->info.type), want);
    *out = e;
    return QLM_OK;
}

static bool is_int(qlm_meta_type t)
{
    return t == QLM_MT_U8 || t == QLM_MT_I32 || t == QLM_MT_U32 || t == QLM_MT_I64 || t == QLM_MT_U64;
}
static bool is_num(qlm_meta_type t) { return is_int(t) || t == QLM_MT_F32 || t == QLM_MT_F64; }
static bool is_bool(qlm_meta_type t) { return t == QLM_MT_BOOL; }
static bool is_num_or_bool(qlm_meta_type t) { return is_num(t) || is_bool(t); }
static bool is_str(qlm_meta_type t) { return t == QLM_MT_STRING; }

qlm_status qlm_meta_i64(const qlm_file *f, const char *key, int64_t *out)
{
    const qlm_meta_entry *e = NULL;
    qlm_status st = find_scalar(f, key, "an integer", is_int, &e);
    if (st)
        return st;
    const uint8_t *p = e->val;
    switch (e->info.type) {
    case QLM_MT_U8: *out = p[0]; break;
    case QLM_MT_I32: *out = (int32_t)qlm_rd32(p); break;
    case QLM_MT_U32: *out = qlm_rd32(p); break;
    case QLM_MT_I64: *out = (int64_t)qlm_rd64(p); break;
    default:
        if (qlm_rd64(p) > INT64_MAX)
            return qlm_fail(QLM_E_VALUE, "metadata '%s' = %llu does not fit int64", key,
                            (unsigned long long)qlm_rd64(p));
        *out = (int64_t)qlm_rd64(p);
    }
    return QLM_OK;
}

qlm_status qlm_meta_f64(const qlm_file *f, const char *key, double *out)
{
    const qlm_meta_entry *e = NULL;
    qlm_status st = find_scalar(f, key, "a number", is_num, &e);
    if (st)
        return st;
    if (e->info.type == QLM_MT_F32) {
        uint32_t u = qlm_rd32(e->val);
        float x;
        memcpy(&x, &u, 4);
        *out = x;
    } else if (e->info.type == QLM_MT_F64) {
        uint64_t u = qlm_rd64(e->val);
        memcpy(out, &u, 8);
    } else if (e->info.type == QLM_MT_U64) {
        *out = (double)qlm_rd64(e->val);
    } else {
        int64_t i;
        qlm_meta_i64(f, key, &i);
        *out = (double)i;
    }
    return QLM_OK;
}

qlm_status qlm_meta_bool(const qlm_file *f, const char *key, bool *out)
{
    const qlm_meta_entry *e = NULL;
    qlm_status st = find_scalar(f, key, "a bool", is_bool, &e);
    if (st == QLM_OK)
        *out = e->val[0] != 0;
    return st;
}

qlm_status qlm_meta_str(const qlm_file *f, const char *key, const char **s, size_t *len)
{
    const qlm_meta_entry *e = NULL;
    qlm_status st = find_scalar(f, key, "a string", is_str, &e);
    if (st == QLM_OK) {
        *len = qlm_rd32(e->val);
        *s = (const char *)e->val + 4;
    }
    return st;
}

qlm_status qlm_meta_scalar(const qlm_file *f, const char *key, qlm_meta_type *type, const void **data)
{
    const qlm_meta_entry *e = NULL;
    qlm_status st = find_scalar(f, key, "a number or bool", is_num_or_bool, &e);
    if (st == QLM_OK) {
        *type = e->info.type;
        *data = e->val;
    }
    return st;
}

/* Array entry whose elements are (want_str ? strings : numbers). */
static qlm_status find_array(const qlm_file *f, const char *key, bool want_str, const qlm_meta_entry **out)
{
    const qlm_meta_entry *e = qlm_meta_find(f, key);
    if (!e)
        return qlm_fail(QLM_E_MISSING, "metadata key '%s' is missing", key);
    if (e->info.type != QLM_MT_ARRAY || (e->info.elem == QLM_MT_STRING) != want_str)
        return qlm_fail(QLM_E_VALUE, "metadata '%s' is %s%s, expected an array of %s", key,
                        qlm_meta_type_name(e->info.type), e->info.type == QLM_MT_ARRAY ? " (other element type)" : "",
                        want_str ? "strings" : "numbers");
    *out = e;
    return QLM_OK;
}

qlm_status qlm_meta_array(const qlm_file *f, const char *key, qlm_meta_type *elem, uint64_t *count,
                          const void **data)
{
    const qlm_meta_entry *e = NULL;
    qlm_status st = find_array(f, key, false, &e);
    if (st == QLM_OK) {
        *elem = e->info.elem;
        *count = e->info.count;
        *data = e->val;
    }
    return st;
}

qlm_status qlm_meta_str_array_len(const qlm_file *f, const char *key, uint64_t *count)
{
    const qlm_meta_entry *e = NULL;
    qlm_status st = find_array(f, key, true, &e);
    if (st == QLM_OK)
        *count = e->info.count;
    return st;
}

qlm_status qlm_meta_str_at(const qlm_file *f, const char *key, uint64_t i, const char **s, size_t *len)
{
    const qlm_meta_entry *e = NULL;
    qlm_status st = find_array(f, key, true, &e);
    if (st)
        return st;
    if (i >= e->info.count)
        return qlm_fail(QLM_E_ARG, "metadata '%s': index %llu out of range (%llu strings)", key,
                        (unsigned long long)i, (unsigned long long)e->info.count);
    const uint8_t *p = e->val + e->str_off[i];
    *len = qlm_rd32(p);
    *s = (const char *)p + 4;
    return QLM_OK;
}

int64_t qlm_meta_i64_or(const qlm_file *f, const char *key, int64_t def)
{
    int64_t v;
    return qlm_meta_i64(f, key, &v) == QLM_OK ? v : def;
}

double qlm_meta_f64_or(const qlm_file *f, const char *key, double def)
{
    double v;
    return qlm_meta_f64(f, key, &v) == QLM_OK ? v : def;
}

bool qlm_meta_bool_or(const qlm_file *f, const char *key, bool def)
{
    bool v;
    return qlm_meta_bool(f, key, &v) == QLM_OK ? v : def;
}
