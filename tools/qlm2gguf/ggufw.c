#include "tools/qlm2gguf/ggufw.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "formats/gguf/gguf_int.h" /* gguf_vtype_size */

#define MAGIC "GGUF"
#define VERSION 3

static qlm_status put_str(qlm_bytebuf *b, const char *s, size_t len, const char *what)
{
    qlm_status st = qlm_bytebuf_put_u64(b, len, what);
    return st ? st : qlm_bytebuf_put(b, s, len, what);
}

/* Key and value type of the next entry; no entry may start inside an array. */
static qlm_status key(ggufw *w, const char *k, gguf_vtype type)
{
    if (w->arr_left)
        return qlm_fail(QLM_E_VALUE, "gguf metadata: %s started with %llu array elements missing", k,
                        (unsigned long long)w->arr_left);
    qlm_status st = put_str(&w->kv, k, strlen(k), k);
    if (!st)
        st = qlm_bytebuf_put_u32(&w->kv, type, k);
    if (!st)
        w->n_kv++;
    return st;
}

qlm_status ggufw_u32(ggufw *w, const char *k, uint32_t v)
{
    qlm_status st = key(w, k, GGUF_T_U32);
    return st ? st : qlm_bytebuf_put_u32(&w->kv, v, k);
}

qlm_status ggufw_f32(ggufw *w, const char *k, float v)
{
    uint32_t bits;
    memcpy(&bits, &v, 4);
    qlm_status st = key(w, k, GGUF_T_F32);
    return st ? st : qlm_bytebuf_put_u32(&w->kv, bits, k);
}

qlm_status ggufw_bool(ggufw *w, const char *k, bool v)
{
    uint8_t b = v;
    qlm_status st = key(w, k, GGUF_T_BOOL);
    return st ? st : qlm_bytebuf_put(&w->kv, &b, 1, k);
}

qlm_status ggufw_str(ggufw *w, const char *k, const char *s, size_t len)
{
    qlm_status st = key(w, k, GGUF_T_STRING);
    return st ? st : put_str(&w->kv, s, len, k);
}

static qlm_status arr_head(ggufw *w, const char *k, gguf_vtype elem, uint64_t count)
{
    qlm_status st = key(w, k, GGUF_T_ARRAY);
    if (!st)
        st = qlm_bytebuf_put_u32(&w->kv, elem, k);
    return st ? st : qlm_bytebuf_put_u64(&w->kv, count, k);
}

qlm_status ggufw_arr(ggufw *w, const char *k, gguf_vtype elem, uint64_t count, const void *data)
{
    size_t size = gguf_vtype_size(elem);
    if (!size)
        return qlm_fail(QLM_E_VALUE, "gguf metadata %s: element type %d is not fixed-size", k, (int)elem);
    if (count > SIZE_MAX / size)
        return qlm_fail(QLM_E_OVERFLOW, "gguf metadata %s: %llu elements", k, (unsigned long long)count);
    qlm_status st = arr_head(w, k, elem, count);
    return st ? st : qlm_bytebuf_put(&w->kv, data, (size_t)count * size, k);
}

qlm_status ggufw_arr_str_begin(ggufw *w, const char *k, uint64_t count)
{
    qlm_status st = arr_head(w, k, GGUF_T_STRING, count);
    if (!st)
        w->arr_left = count;
    return st;
}

qlm_status ggufw_arr_str_elem(ggufw *w, const char *s, size_t len)
{
    if (!w->arr_left)
        return qlm_fail(QLM_E_VALUE, "gguf metadata: more string array elements than declared");
    w->arr_left--;
    return put_str(&w->kv, s, len, "gguf string array");
}

static uint64_t pad_of(uint64_t n) { return (GGUFW_ALIGN - n % GGUFW_ALIGN) % GGUFW_ALIGN; }

qlm_status ggufw_tensor(ggufw *w, const char *name, uint32_t rank, const uint64_t *dims, uint32_t ggml_type,
                        uint64_t nbytes)
{
    if (rank < 1 || rank > 4)
        return qlm_fail(QLM_E_SHAPE, "gguf tensor %s: rank %u (1..4)", name, rank);
    if (nbytes > UINT64_MAX - GGUFW_ALIGN - w->data_size)
        return qlm_fail(QLM_E_OVERFLOW, "gguf tensor %s: the data section overflows", name);
    qlm_status st = put_str(&w->info, name, strlen(name), name);
    if (!st)
        st = qlm_bytebuf_put_u32(&w->info, rank, name);
    for (uint32_t i = 0; i < rank && !st; i++)
        st = qlm_bytebuf_put_u64(&w->info, dims[rank - 1 - i], name);
    if (!st)
        st = qlm_bytebuf_put_u32(&w->info, ggml_type, name);
    if (!st)
        st = qlm_bytebuf_put_u64(&w->info, w->data_size, name);
    if (!st)
        st = qlm_bytebuf_put(&w->sizes, &nbytes, sizeof nbytes, name);
    if (st)
        return st;
    w->data_size += nbytes + pad_of(nbytes);
    w->n_tensors++;
    return QLM_OK;
}

static qlm_status out(ggufw *w, const void *p, size_t n)
{
    if (n && fwrite(p, 1, n, w->out) != n)
        return qlm_fail(QLM_E_IO, "%s: write failed: %s", w->tmp, strerror(errno));
    return QLM_OK;
}

static qlm_status pad(ggufw *w, uint64_t n)
{
    static const uint8_t zeros[GGUFW_ALIGN];
    return out(w, zeros, (size_t)pad_of(n));
}

static void release(ggufw *w)
{
    qlm_bytebuf_free(&w->kv);
    qlm_bytebuf_free(&w->info);
    qlm_bytebuf_free(&w->sizes);
    free(w->path);
    free(w->tmp);
    w->path = w->tmp = NULL;
}

void ggufw_abort(ggufw *w)
{
    if (w->out) {
        fclose(w->out);
        w->out = NULL;
        remove(w->tmp);
    }
    release(w);
}

qlm_status ggufw_begin(ggufw *w, const char *path)
{
    qlm_status st;
    if (w->arr_left)
        st = qlm_fail(QLM_E_VALUE, "gguf metadata: a string array lacks %llu elements", (unsigned long long)w->arr_left);
    else if (!(w->path = strdup(path)) || !(w->tmp = malloc(strlen(path) + 5)))
        st = qlm_fail(QLM_E_NOMEM, "out of memory");
    else if (sprintf(w->tmp, "%s.tmp", path), !(w->out = fopen(w->tmp, "wb")))
        st = qlm_fail(QLM_E_IO, "%s: cannot create: %s", w->tmp, strerror(errno));
    else {
        qlm_bytebuf head = {0};
        if (!(st = qlm_bytebuf_put(&head, MAGIC, 4, "gguf header")) &&
            !(st = qlm_bytebuf_put_u32(&head, VERSION, "gguf header")) &&
            !(st = qlm_bytebuf_put_u64(&head, w->n_tensors, "gguf header")) &&
            !(st = qlm_bytebuf_put_u64(&head, w->n_kv, "gguf header")) && !(st = out(w, head.p, head.len)) &&
            !(st = out(w, w->kv.p, w->kv.len)) && !(st = out(w, w->info.p, w->info.len)))
            st = pad(w, head.len + w->kv.len + w->info.len);
        qlm_bytebuf_free(&head);
    }
    if (st)
        ggufw_abort(w);
    return st;
}

qlm_status ggufw_data(ggufw *w, const void *p, size_t n)
{
    uint64_t want;
    qlm_status st;
    if (w->written >= w->n_tensors)
        st = qlm_fail(QLM_E_VALUE, "%s: more tensor data than the %llu tensors declared", w->tmp,
                      (unsigned long long)w->n_tensors);
    else if (memcpy(&want, w->sizes.p + w->written * sizeof want, sizeof want), want != n)
        st = qlm_fail(QLM_E_SIZE, "%s: tensor %llu has %zu bytes of data, %llu declared", w->tmp,
                      (unsigned long long)w->written, n, (unsigned long long)want);
    else if (!(st = out(w, p, n)))
        st = pad(w, n);
    if (st) {
        ggufw_abort(w);
        return st;
    }
    w->written++;
    return QLM_OK;
}

qlm_status ggufw_finish(ggufw *w)
{
    qlm_status st = QLM_OK;
    if (w->written != w->n_tensors)
        st = qlm_fail(QLM_E_VALUE, "%s: %llu of %llu tensors written", w->tmp, (unsigned long long)w->written,
                      (unsigned long long)w->n_tensors);
    else if (fflush(w->out) || fsync(fileno(w->out)))
        st = qlm_fail(QLM_E_IO, "%s: write failed: %s", w->tmp, strerror(errno));
    if (st) {
        ggufw_abort(w);
        return st;
    }
    FILE *f = w->out;
    w->out = NULL;
    if (fclose(f) || rename(w->tmp, w->path)) {
        st = qlm_fail(QLM_E_IO, "%s: cannot write: %s", w->path, strerror(errno));
        remove(w->tmp);
    }
    release(w);
    return st;
}
