/* qlm_writer_copy_meta (qlmfile.h): every metadata entry of a file into a
 * writer, for tools that rewrite a .qlm's tensors (qlm quant-error --fake). */
#include <stdlib.h>
#include <string.h>

#include "formats/qlm/internal.h"

/* Integer scalars are widened to i64 (u64 stays u64), f32 to f64: the typed
 * getters accept either, so readers see the same values. */
static qlm_status copy_scalar(qlm_writer *w, const qlm_file *f, const qlm_meta_info *m)
{
    qlm_meta_type t;
    const void *p;
    qlm_status st = qlm_meta_scalar(f, m->key, &t, &p);
    if (st)
        return st;
    union { uint8_t u8; int32_t i32; uint32_t u32; int64_t i64; uint64_t u64; float f32; double f64; } v;
    memcpy(&v, p, qlm_meta_elem_size(t));
    switch (t) {
    case QLM_MT_U8: return qlm_writer_set_i64(w, m->key, v.u8);
    case QLM_MT_I32: return qlm_writer_set_i64(w, m->key, v.i32);
    case QLM_MT_U32: return qlm_writer_set_i64(w, m->key, v.u32);
    case QLM_MT_I64: return qlm_writer_set_i64(w, m->key, v.i64);
    case QLM_MT_U64: return qlm_writer_set_u64(w, m->key, v.u64);
    case QLM_MT_F32: return qlm_writer_set_f64(w, m->key, v.f32);
    case QLM_MT_F64: return qlm_writer_set_f64(w, m->key, v.f64);
    case QLM_MT_BOOL: return qlm_writer_set_bool(w, m->key, v.u8 != 0);
    default: return qlm_fail(QLM_E_VALUE, "metadata '%s': cannot copy type %s", m->key, qlm_meta_type_name(t));
    }
}

static qlm_status copy_str_array(qlm_writer *w, const qlm_file *f, const qlm_meta_info *m)
{
    const char **s = malloc((m->count + 1) * sizeof *s);
    size_t *len = malloc((m->count + 1) * sizeof *len);
    qlm_status st = s && len ? QLM_OK : qlm_fail(QLM_E_NOMEM, "metadata '%s': out of memory", m->key);
    for (uint64_t i = 0; i < m->count && !st; i++)
        st = qlm_meta_str_at(f, m->key, i, &s[i], &len[i]);
    if (!st)
        st = qlm_writer_set_str_array(w, m->key, m->count, s, len);
    free(s);
    free(len);
    return st;
}

/* Numeric arrays are unaligned in the mapping: copied out first. */
static qlm_status copy_num_array(qlm_writer *w, const qlm_file *f, const qlm_meta_info *m)
{
    qlm_meta_type elem;
    uint64_t count;
    const void *data;
    qlm_status st = qlm_meta_array(f, m->key, &elem, &count, &data);
    if (st)
        return st;
    size_t n = (size_t)count * qlm_meta_elem_size(elem);
    void *buf = malloc(n + 1);
    if (!buf)
        return qlm_fail(QLM_E_NOMEM, "metadata '%s': out of memory", m->key);
    memcpy(buf, data, n);
    st = qlm_writer_set_array(w, m->key, elem, count, buf);
    free(buf);
    return st;
}

qlm_status qlm_writer_copy_meta(qlm_writer *w, const qlm_file *f)
{
    qlm_status st = QLM_OK;
    for (size_t i = 0; i < qlm_meta_count(f) && !st; i++) {
        const qlm_meta_info *m = qlm_meta_at(f, i);
        if (m->type == QLM_MT_STRING) {
            const char *s;
            size_t len;
            if (!(st = qlm_meta_str(f, m->key, &s, &len)))
                st = qlm_writer_set_str(w, m->key, s, len);
        } else if (m->type == QLM_MT_ARRAY) {
            st = m->elem == QLM_MT_STRING ? copy_str_array(w, f, m) : copy_num_array(w, f, m);
        } else {
            st = copy_scalar(w, f, m);
        }
    }
    return st;
}
