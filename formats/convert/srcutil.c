#include "formats/convert/srcutil.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "formats/qlm/keys.h"

/* Row 2i + j of each head in interleaved order is row j*head_dim/2 + i in
 * Hugging Face order; `to_hf` picks the direction. */
static qlm_status qk_reorder(const void *src, void *dst, uint64_t n_rows, uint64_t n_head, size_t row_bytes,
                             bool to_hf)
{
    if (n_head == 0 || n_rows % n_head || (n_rows / n_head) % 2)
        return qlm_fail(QLM_E_SHAPE, "cannot %s %llu Q/K rows into %llu heads of an even size",
                        to_hf ? "un-permute" : "permute", (unsigned long long)n_rows, (unsigned long long)n_head);
    uint64_t hd = n_rows / n_head, half = hd / 2;
    const uint8_t *s = src;
    uint8_t *d = dst;
    for (uint64_t h = 0; h < n_head; h++)
        for (uint64_t i = 0; i < half; i++)
            for (uint64_t j = 0; j < 2; j++) {
                uint64_t inter = h * hd + 2 * i + j, hf = h * hd + j * half + i;
                memcpy(d + (to_hf ? hf : inter) * row_bytes, s + (to_hf ? inter : hf) * row_bytes, row_bytes);
            }
    return QLM_OK;
}

qlm_status qlm_qk_unpermute(const void *src, void *dst, uint64_t n_rows, uint64_t n_head, size_t row_bytes)
{
    return qk_reorder(src, dst, n_rows, n_head, row_bytes, true);
}

qlm_status qlm_qk_permute(const void *src, void *dst, uint64_t n_rows, uint64_t n_head, size_t row_bytes)
{
    return qk_reorder(src, dst, n_rows, n_head, row_bytes, false);
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

uint64_t qlm_gguf_qk_heads(const qlm_hfconfig *h, const char *name)
{
    if (h->arch != QLM_HF_LLAMA)
        return 0;
    size_t n = strlen(name);
    if (n > 14 && !strcmp(name + n - 14, ".attn_q.weight"))
        return (uint64_t)h->heads;
    if (n > 14 && !strcmp(name + n - 14, ".attn_k.weight"))
        return (uint64_t)h->heads_kv;
    return 0;
}
