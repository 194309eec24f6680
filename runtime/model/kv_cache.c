/* The KV cache of a context: f32 rows, or Q8 blocks (model.h, qlm_kv_type).
 *
 * A Q8 cache keeps codes and scales in separate arrays (codes in the f32
 * cache's layout, one byte per value) so a head's codes are contiguous.
 * Attention does not get integer kernels: it asks for up to KEY_BLOCK rows of
 * one head at a time, dequantized into per-thread scratch, and runs the f32
 * kernels on them. Dequantization (d * q) is exact, so the scores and
 * outputs are the f32 contract's on the rounded K and V, on every kernel set,
 * thread count and batching; and the scratch is one block, not a second copy
 * of the cache. */
#include <stdlib.h>

#include "runtime/model/ctx_int.h"
#include "simd/ref/ref.h"

/* Values per scale: blocks of 32 when head_dim allows, else the whole head
 * (a block never spans two heads: each head's scale follows its own range). */
static int64_t block_len(int64_t hd) { return hd % 32 == 0 ? 32 : hd; }

/* Bytes of one position of one layer's K (or V) cache. */
static uint64_t row_bytes(const qlm_hparams *hp, qlm_kv_type kv)
{
    uint64_t kvd = (uint64_t)hp->n_kv_heads * (uint64_t)hp->head_dim;
    if (kv == QLM_CACHE_F32)
        return kvd * sizeof(float);
    return kvd + kvd / (uint64_t)block_len(hp->head_dim) * sizeof(float);
}

uint64_t qlm_kv_bytes(const qlm_hparams *hp, qlm_kv_type kv, int64_t n_ctx)
{
    return 2u * (uint64_t)hp->n_layers * (uint64_t)n_ctx * row_bytes(hp, kv);
}

uint64_t qlm_ctx_kv_bytes(const qlm_ctx *c) { return qlm_kv_bytes(&c->m->hp, c->kv, c->n_ctx); }

static void *alloc_n(int64_t n, size_t size, qlm_status *st)
{
    if (*st != QLM_OK)
        return NULL;
    void *p = calloc((size_t)n, size);
    if (!p)
        *st = qlm_fail(QLM_E_NOMEM, "out of memory allocating %.0f MiB for the KV cache",
                       (double)n * (double)size / 1048576.0);
    return p;
}

qlm_status qlm_kv_alloc(qlm_ctx *c)
{
    const qlm_hparams *hp = &c->m->hp;
    int64_t hd = hp->head_dim, kvd = hp->n_kv_heads * hd, rows = hp->n_layers * c->n_ctx;
    qlm_status st = QLM_OK;
    if (c->kv == QLM_CACHE_F32) {
        c->kc = alloc_n(rows * kvd, sizeof(float), &st);
        c->vc = alloc_n(rows * kvd, sizeof(float), &st);
        return st;
    }
    int64_t ns = kvd / block_len(hd);
    c->kq = alloc_n(rows * kvd, 1, &st);
    c->vq = alloc_n(rows * kvd, 1, &st);
    c->ks = alloc_n(rows * ns, sizeof(float), &st);
    c->vs = alloc_n(rows * ns, sizeof(float), &st);
    c->kn = alloc_n(c->n_batch * kvd, sizeof(float), &st);
    c->vn = alloc_n(c->n_batch * kvd, sizeof(float), &st);
    c->kvs = alloc_n((int64_t)c->n_threads * KEY_BLOCK * hd, sizeof(float), &st);
    return st;
}

void qlm_kv_free(qlm_ctx *c)
{
    free(c->kc);
    free(c->vc);
    free(c->kq);
    free(c->vq);
    free(c->ks);
    free(c->vs);
    free(c->kn);
    free(c->vn);
    free(c->kvs);
}

/* nt rows of kvd values -> codes q and scales s at rows pos0.. of layer l. */
static void quantize_rows(const qlm_ctx *c, int64_t l, const float *x, int8_t *q, float *s, int64_t nt,
                          int64_t pos0)
{
    const qlm_hparams *hp = &c->m->hp;
    int64_t kvd = hp->n_kv_heads * hp->head_dim, bl = block_len(hp->head_dim), ns = kvd / bl;
    int64_t r0 = l * c->n_ctx + pos0;
    for (int64_t t = 0; t < nt; t++)
        for (int64_t b = 0; b < ns; b++)
            s[(r0 + t) * ns + b] = qlm_ref_quant_block(x + t * kvd + b * bl, bl, q + (r0 + t) * kvd + b * bl);
}

void qlm_kv_store(const qlm_ctx *c, int64_t l, const float *k, const float *v, int64_t nt, int64_t pos0)
{
    if (c->kv == QLM_CACHE_F32)
        return; /* the projections wrote into the cache itself */
    quantize_rows(c, l, k, c->kq, c->ks, nt, pos0);
    quantize_rows(c, l, v, c->vq, c->vs, nt, pos0);
}

/* o[i] = d * q[i]. restrict and the constant trip count of a block of 32
 * let the compiler vectorize it (int8 pointers may alias anything). */
static void dequant(float *restrict o, const int8_t *restrict q, float d, int64_t n)
{
    if (n == 32)
        for (int i = 0; i < 32; i++)
            o[i] = d * (float)q[i];
    else
        for (int64_t i = 0; i < n; i++)
            o[i] = d * (float)q[i];
}

const float *qlm_kv_rows(const qlm_ctx *c, int v, int64_t l, int64_t h, int64_t j0, int64_t n, float *scratch,
                         int64_t *ld)
{
    const qlm_hparams *hp = &c->m->hp;
    int64_t hd = hp->head_dim, kvd = hp->n_kv_heads * hd, r0 = l * c->n_ctx + j0;
    if (c->kv == QLM_CACHE_F32) {
        *ld = kvd;
        return (v ? c->vc : c->kc) + r0 * kvd + h * hd;
    }
    int64_t bl = block_len(hd), ns = kvd / bl;
    const int8_t *q = (v ? c->vq : c->kq) + r0 * kvd + h * hd;
    const float *s = (v ? c->vs : c->ks) + r0 * ns + h * (hd / bl);
    for (int64_t j = 0; j < n; j++)
        for (int64_t b = 0; b < hd; b += bl)
            dequant(scratch + j * hd + b, q + j * kvd + b, s[j * ns + b / bl], bl);
    *ld = hd;
    return scratch;
}

int qlm_kv_parts(const qlm_ctx *c, qlm_kv_part parts[4])
{
    const qlm_hparams *hp = &c->m->hp;
    size_t kvd = (size_t)(hp->n_kv_heads * hp->head_dim);
    if (c->kv == QLM_CACHE_F32) {
        parts[0] = (qlm_kv_part){c->kc, kvd * sizeof(float)};
        parts[1] = (qlm_kv_part){c->vc, kvd * sizeof(float)};
        return 2;
    }
    size_t ns = kvd / (size_t)block_len(hp->head_dim);
    parts[0] = (qlm_kv_part){c->kq, kvd};
    parts[1] = (qlm_kv_part){c->ks, ns * sizeof(float)};
    parts[2] = (qlm_kv_part){c->vq, kvd};
    parts[3] = (qlm_kv_part){c->vs, ns * sizeof(float)};
    return 4;
}
