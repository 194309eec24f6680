/* GGUF metadata getters (gguf.h): typed access to entries validated at open. */
#include <string.h>

#include "formats/gguf/gguf_int.h"

size_t gguf_n_kv(const gguf_file *g) { return g->n_kv; }

const char *gguf_kv_key(const gguf_file *g, size_t i) { return i < g->n_kv ? g->kv[i].key : NULL; }

static const gguf_kv *find_kv(const gguf_file *g, const char *key)
{
    const name_ix *p = gguf_find_name(g->kv_by_name, g->n_kv, key);
    return p ? &g->kv[p->idx] : NULL;
}

bool gguf_has(const gguf_file *g, const char *key) { return find_kv(g, key) != NULL; }

static qlm_status lookup(const gguf_file *g, const char *key, const gguf_kv **kv)
{
    *kv = find_kv(g, key);
    if (!*kv)
        return qlm_fail(QLM_E_MISSING, "gguf: metadata key '%s' is missing", key);
    return QLM_OK;
}

static bool is_int_type(gguf_vtype t) { return t <= GGUF_T_I32 || t == GGUF_T_U64 || t == GGUF_T_I64; }

/* Integer value of type t at p; false if it does not fit in int64. */
static bool num_i64(gguf_vtype t, const uint8_t *p, int64_t *out)
{
    uint64_t u = gguf_le(p, (unsigned)gguf_vtype_size(t));
    switch (t) {
    case GGUF_T_I8: *out = (int8_t)u; return true;
    case GGUF_T_I16: *out = (int16_t)u; return true;
    case GGUF_T_I32: *out = (int32_t)u; return true;
    case GGUF_T_I64: memcpy(out, &u, 8); return true;
    case GGUF_T_U64: *out = (int64_t)u; return u <= INT64_MAX;
    default: *out = (int64_t)u; return true; /* u8, u16, u32, bool */
    }
}

static bool num_f64(gguf_vtype t, const uint8_t *p, double *out)
{
    if (t == GGUF_T_F32) {
        uint32_t u = (uint32_t)gguf_le(p, 4);
        float f;
        memcpy(&f, &u, 4);
        *out = f;
        return true;
    }
    if (t == GGUF_T_F64) {
        uint64_t u = gguf_le(p, 8);
        memcpy(out, &u, 8);
        return true;
    }
    int64_t i;
    if (t == GGUF_T_U64) {
        *out = (double)gguf_le(p, 8);
        return true;
    }
    if (!is_int_type(t) || !num_i64(t, p, &i))
        return false;
    *out = (double)i;
    return true;
}

static qlm_status type_error(const char *key, const char *want)
{
    return qlm_fail(QLM_E_VALUE, "gguf: metadata key '%s' is not %s", key, want);
}

qlm_status gguf_get_i64(const gguf_file *g, const char *key, int64_t *out)
{
    const gguf_kv *kv;
    qlm_status st = lookup(g, key, &kv);
    if (st)
        return st;
    if (!is_int_type(kv->type) || !num_i64(kv->type, g->base + kv->off, out))
        return type_error(key, "an integer that fits in int64");
    return QLM_OK;
}

qlm_status gguf_get_f64(const gguf_file *g, const char *key, double *out)
{
    const gguf_kv *kv;
    qlm_status st = lookup(g, key, &kv);
    if (st)
        return st;
    if (kv->type == GGUF_T_BOOL || !gguf_vtype_size(kv->type) || !num_f64(kv->type, g->base + kv->off, out))
        return type_error(key, "a number");
    return QLM_OK;
}

qlm_status gguf_get_bool(const gguf_file *g, const char *key, bool *out)
{
    const gguf_kv *kv;
    qlm_status st = lookup(g, key, &kv);
    if (st)
        return st;
    if (kv->type != GGUF_T_BOOL)
        return type_error(key, "a bool");
    *out = g->base[kv->off] != 0;
    return QLM_OK;
}

/* String whose u64 length prefix is at off (validated at open). */
static void str_at(const gguf_file *g, size_t off, const char **s, size_t *len)
{
    *len = (size_t)gguf_le(g->base + off, 8);
    *s = (const char *)g->base + off + 8;
}

qlm_status gguf_get_str(const gguf_file *g, const char *key, const char **s, size_t *len)
{
    const gguf_kv *kv;
    qlm_status st = lookup(g, key, &kv);
    if (st)
        return st;
    if (kv->type != GGUF_T_STRING)
        return type_error(key, "a string");
    str_at(g, kv->off, s, len);
    return QLM_OK;
}

qlm_status gguf_get_arr_info(const gguf_file *g, const char *key, gguf_vtype *elem, uint64_t *count)
{
    const gguf_kv *kv;
    qlm_status st = lookup(g, key, &kv);
    if (st)
        return st;
    if (kv->type != GGUF_T_ARRAY)
        return type_error(key, "an array");
    *elem = kv->elem;
    *count = kv->count;
    return QLM_OK;
}

/* Array kv and bounds check of element i. */
static qlm_status arr_elem(const gguf_file *g, const char *key, uint64_t i, const gguf_kv **kv)
{
    qlm_status st = lookup(g, key, kv);
    if (st)
        return st;
    if ((*kv)->type != GGUF_T_ARRAY)
        return type_error(key, "an array");
    if (i >= (*kv)->count)
        return qlm_fail(QLM_E_BOUNDS, "gguf: index %llu past the end of array '%s' (%llu elements)",
                        (unsigned long long)i, key, (unsigned long long)(*kv)->count);
    return QLM_OK;
}

qlm_status gguf_get_arr_i64(const gguf_file *g, const char *key, uint64_t i, int64_t *out)
{
    const gguf_kv *kv;
    qlm_status st = arr_elem(g, key, i, &kv);
    if (st)
        return st;
    gguf_vtype t = kv->elem;
    if (!is_int_type(t) && t != GGUF_T_BOOL)
        return type_error(key, "an integer array");
    if (!num_i64(t, g->base + kv->off + (size_t)i * gguf_vtype_size(t), out))
        return qlm_fail(QLM_E_VALUE, "gguf: '%s'[%llu] does not fit in int64", key, (unsigned long long)i);
    return QLM_OK;
}

qlm_status gguf_get_arr_f64(const gguf_file *g, const char *key, uint64_t i, double *out)
{
    const gguf_kv *kv;
    qlm_status st = arr_elem(g, key, i, &kv);
    if (st)
        return st;
    gguf_vtype t = kv->elem;
    if (t == GGUF_T_BOOL || !gguf_vtype_size(t) || !num_f64(t, g->base + kv->off + (size_t)i * gguf_vtype_size(t), out))
        return type_error(key, "a numeric array");
    return QLM_OK;
}

qlm_status gguf_get_arr_str(const gguf_file *g, const char *key, uint64_t i, const char **s, size_t *len)
{
    const gguf_kv *kv;
    qlm_status st = arr_elem(g, key, i, &kv);
    if (st)
        return st;
    if (kv->elem != GGUF_T_STRING)
        return type_error(key, "a string array");
    str_at(g, kv->str_off[i], s, len);
    return QLM_OK;
}
