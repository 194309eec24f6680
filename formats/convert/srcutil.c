#include "formats/convert/srcutil.h"

#include <stdlib.h>
#include <string.h>

#include "formats/qlm/keys.h"

qlm_status qlm_qk_unpermute(const void *src, void *dst, uint64_t n_rows, uint64_t n_head, size_t row_bytes)
{
    if (n_head == 0 || n_rows % n_head || (n_rows / n_head) % 2)
        return qlm_fail(QLM_E_SHAPE, "cannot un-permute %llu Q/K rows into %llu heads of an even size",
                        (unsigned long long)n_rows, (unsigned long long)n_head);
    uint64_t hd = n_rows / n_head, half = hd / 2;
    const uint8_t *s = src;
    uint8_t *d = dst;
    for (uint64_t h = 0; h < n_head; h++)
        for (uint64_t i = 0; i < half; i++)
            for (uint64_t j = 0; j < 2; j++)
                memcpy(d + (h * hd + j * half + i) * row_bytes, s + (h * hd + 2 * i + j) * row_bytes, row_bytes);
    return QLM_OK;
}

qlm_status qlm_emit_hf_order(qlm_emitter *e, const char *name, const void *data, size_t nbytes, uint64_t n_rows,
                             uint64_t n_head)
{
    if (!n_head)
        return qlm_emit_data(e, name, data, nbytes);
    if (!n_rows || nbytes % n_rows)
        return qlm_fail(QLM_E_SHAPE, "%s: %zu bytes do not split into %llu rows", name, nbytes,
                        (unsigned long long)n_rows);
    void *buf = malloc(nbytes ? nbytes : 1);
    if (!buf)
        return qlm_fail(QLM_E_NOMEM, "%s: out of memory for %zu bytes", name, nbytes);
    qlm_status st = qlm_qk_unpermute(data, buf, n_rows, n_head, nbytes / n_rows);
    if (st)
        qlm_fail_context(st, "%s", name);
    else
        st = qlm_emit_data(e, name, buf, nbytes);
    free(buf);
    return st;
}

qlm_status qlm_write_name_from_path(qlm_writer *w, const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    size_t len = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    return qlm_writer_set_str(w, QLM_K_NAME, base, len);
}
