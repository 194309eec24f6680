/* A context: the KV cache of one sequence (kv_cache.c) plus scratch buffers sized for
 * one batch of tokens. Allocated once; eval never allocates. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "formats/common/log.h"
#include "formats/common/mem.h"
#include "runtime/model/ctx_int.h"

/* Physical cores: one per distinct thread_siblings_list (SMT siblings share
 * one); falls back to the online CPU count. */
static int physical_cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        return 1;
    if (n > 1024)
        n = 1024;
    char seen[64][64];
    int n_seen = 0;
    for (long i = 0; i < n && n_seen < 64; i++) {
        char path[128], buf[64] = {0};
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%ld/topology/thread_siblings_list", i);
        FILE *f = fopen(path, "r");
        if (!f)
            return (int)n;
        size_t len = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[len] = 0;
        int dup = 0;
        for (int j = 0; j < n_seen && !dup; j++)
            dup = strcmp(seen[j], buf) == 0;
        if (!dup)
            memcpy(seen[n_seen++], buf, sizeof buf);
    }
    return n_seen > 0 ? n_seen : (int)n;
}

int qlm_default_threads(void)
{
    const char *e = getenv("QLM_THREADS");
    if (e && *e) {
        char *end;
        long v = strtol(e, &end, 10);
        if (!*end && v >= 1 && v <= QLM_MAX_THREADS)
            return (int)v;
    }
    int n = physical_cores();
    return n > QLM_MAX_THREADS ? QLM_MAX_THREADS : n;
}

/* Bytes a context allocates: the KV cache (kv_cache.c) and attention
 * scores grow with n_ctx, the activation buffers (and a Q8 cache's scratch)
 * with the batch, which is at most n_ctx. An upper bound: the gather buffer
 * of act-order weights is counted whether or not the model has them. Every
 * factor is a validated model size or a parameter capped at QLM_MAX_CTX, far
 * from overflowing 64 bits. */
static uint64_t ctx_bytes(const qlm_hparams *hp, qlm_kv_type kv, int64_t n_ctx, int64_t n_batch, int n_threads)
{
    uint64_t B = (uint64_t)(n_batch < n_ctx ? n_batch : n_ctx), D = (uint64_t)hp->dim, F = (uint64_t)hp->ffn;
    uint64_t hd = (uint64_t)hp->head_dim, qd = (uint64_t)hp->n_heads * hd, kvd = (uint64_t)hp->n_kv_heads * hd;
    uint64_t widest = D > F ? D : F;
    widest = qd > widest ? qd : widest;
    uint64_t floats = (uint64_t)n_threads * ATT_ROWS * (uint64_t)n_ctx +     /* scores */
                      B * (3 * D + 2 * qd + 2 * F + hd + widest);          /* activations, xp */
    if (kv == QLM_CACHE_Q8)
        floats += 2 * B * kvd + (uint64_t)n_threads * KEY_BLOCK * hd; /* new rows, dequantized keys */
    return qlm_kv_bytes(hp, kv, n_ctx) + floats * sizeof(float) + (B * widest / 32 + 1) * sizeof(((qlm_ctx *)0)->xq[0]);
}

/* The context size: `want`, or 0 for the model's own capped to what the
 * memory budget holds (formats/common/mem.h); checked before anything is
 * allocated so that a huge context fails with a message, not an OOM kill. */
static qlm_status choose_n_ctx(const qlm_hparams *hp, qlm_kv_type kv, int64_t want, int64_t n_batch, int n_threads,
                               int64_t *out)
{
    if (want < 0 || want > QLM_MAX_CTX)
        return qlm_fail(QLM_E_LIMIT, "context size %lld is out of range [1, %d]", (long long)want, QLM_MAX_CTX);
    uint64_t budget;
    qlm_status st = qlm_mem_budget(&budget);
    if (st)
        return st;
    if (want == 0) {
        want = hp->ctx_max;
        if (ctx_bytes(hp, kv, want, n_batch, n_threads) > budget) {
            /* the largest that fits: bytes grow with n, so bisect */
            int64_t lo = 0, hi = want;
            while (hi - lo > 1) {
                int64_t mid = lo + (hi - lo) / 2;
                *(ctx_bytes(hp, kv, mid, n_batch, n_threads) <= budget ? &lo : &hi) = mid;
            }
            if (lo >= 1)
                qlm_log(QLM_LOG_INFO, "context capped at %lld tokens (of the model's %lld): it would need %.1f MiB, "
                                      "%.1f MiB may be used for it; use --ctx to choose",
                        (long long)lo, (long long)hp->ctx_max,
                        (double)ctx_bytes(hp, kv, want, n_batch, n_threads) / 1048576.0, (double)budget / 1048576.0);
            want = lo >= 1 ? lo : 1; /* 0 fits nothing: fails just below, with the sizes */
        }
    }
    char what[96];
    snprintf(what, sizeof what, "a context of %lld tokens (KV cache and scratch)", (long long)want);
    if ((st = qlm_mem_check(ctx_bytes(hp, kv, want, n_batch, n_threads), what)))
        return st;
    *out = want;
    return QLM_OK;
}

static void *alloc_floats(int64_t n, qlm_status *st)
{
    if (*st != QLM_OK)
        return NULL;
    void *p = calloc((size_t)n, sizeof(float));
    if (!p)
        *st = qlm_fail(QLM_E_NOMEM, "out of memory allocating %.0f MiB for the context",
                       (double)n * sizeof(float) / 1048576.0);
    return p;
}

/* Every linear weight must be able to run the path; *gpu tells whether any
 * of them runs a GPU contract (and so needs the operand buffers). */
static qlm_status check_path(const qlm_model *m, qlm_path p, bool *gpu)
{
    if ((unsigned)p >= QLM_PATH_COUNT)
        return qlm_fail(QLM_E_ARG, "unknown numeric path %d", (int)p);
    *gpu = false;
    for (int64_t l = 0; l <= m->hp.n_layers; l++) {
        const qlm_layer *L = &m->layers[l < m->hp.n_layers ? l : 0];
        const qlm_mat *ws[7] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->gate, &L->up, &L->down};
        int n = 7;
        if (l == m->hp.n_layers) { /* the output matrix once, after the layers */
            ws[0] = &m->output;
            n = 1;
        }
        for (int i = 0; i < n; i++) {
            qlm_status st = qlm_mat_check_path(ws[i], p);
            if (st)
                return st;
            *gpu |= qlm_mat_path(ws[i], p) != QLM_PATH_NATIVE;
        }
    }
    return QLM_OK;
}

qlm_status qlm_ctx_set_path(qlm_ctx *c, qlm_path p)
{
    bool gpu = false;
    qlm_status st = check_path(c->m, p, &gpu);
    if (st)
        return st;
    if (gpu && !c->gs && (st = qlm_gpu_scratch_new(c->n_batch, c->widest, c->n_threads, &c->gs)))
        return st;
    c->path = p;
    return QLM_OK;
}

void qlm_ctx_set_dump(qlm_ctx *c, qlm_dump_fn fn, void *user)
{
    c->dump = fn;
    c->dump_user = user;
}

/* Any act-order weight (qlm_mat.perm)? Only then does a context need xp. */
static bool has_perm(const qlm_model *m)
{
    bool any = m->output.perm != NULL;
    for (int64_t l = 0; l < m->hp.n_layers; l++) {
        const qlm_layer *L = &m->layers[l];
        const qlm_mat *w[7] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->gate, &L->up, &L->down};
        for (int i = 0; i < 7; i++)
            any = any || w[i]->perm != NULL;
    }
    return any;
}

qlm_status qlm_ctx_new(const qlm_model *m, const qlm_ctx_params *p, qlm_ctx **out)
{
    *out = NULL;
    const qlm_hparams *hp = &m->hp;
    qlm_ctx_params defaults = {0};
    if (!p)
        p = &defaults;
    if (p->n_threads < 0 || p->n_threads > QLM_MAX_THREADS || p->n_batch < 0)
        return qlm_fail(QLM_E_ARG, "bad context parameters (threads %d, batch %lld)", p->n_threads,
                        (long long)p->n_batch);
    if (p->kv != QLM_CACHE_F32 && p->kv != QLM_CACHE_Q8)
        return qlm_fail(QLM_E_ARG, "unknown KV cache type %d", (int)p->kv);

    const qlm_kernels *k = qlm_kernels_get();
    if (!k)
        return QLM_E_UNSUPPORTED; /* message set by qlm_kernels_get */
    qlm_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return qlm_fail(QLM_E_NOMEM, "out of memory for the context");
    c->m = m;
    c->k = k;
    c->n_threads = p->n_threads ? p->n_threads : qlm_default_threads();
    c->kv = p->kv;
    c->n_batch = p->n_batch ? p->n_batch : 512;
    if (c->n_batch > QLM_MAX_CTX)
        c->n_batch = QLM_MAX_CTX;
    qlm_status st = choose_n_ctx(hp, c->kv, p->n_ctx, c->n_batch, c->n_threads, &c->n_ctx);
    if (c->n_batch > c->n_ctx)
        c->n_batch = c->n_ctx;
    int64_t B = c->n_batch, D = hp->dim, F = hp->ffn, hd = hp->head_dim;
    int64_t qd = hp->n_heads * hd;
    int64_t widest = D > F ? D : F;
    if (qd > widest)
        widest = qd;
    if (st == QLM_OK)
        st = qlm_kv_alloc(c);
    c->x = alloc_floats(B * D, &st);
    c->xb = alloc_floats(B * D, &st);
    c->xb2 = alloc_floats(B * D, &st);
    c->q = alloc_floats(B * qd, &st);
    c->att = alloc_floats(B * qd, &st);
    c->hb = alloc_floats(B * F, &st);
    c->hb2 = alloc_floats(B * F, &st);
    c->rc = alloc_floats(B * (hd / 2), &st);
    c->rs = alloc_floats(B * (hd / 2), &st);
    c->xb_own = alloc_floats((int64_t)c->n_threads * OWN_ROWS * D, &st);
    c->scores = alloc_floats((int64_t)c->n_threads * ATT_ROWS * c->n_ctx, &st);
    if (st == QLM_OK && (!(c->xq = calloc((size_t)(B * widest / 32 + 1), sizeof *c->xq)) ||
                         !(c->xq2 = calloc((size_t)(B * F / 32 + 1), sizeof *c->xq2)) ||
                         !(c->xq_own = calloc((size_t)(c->n_threads * OWN_ROWS * D / 32 + 1), sizeof *c->xq_own))))
        st = qlm_fail(QLM_E_NOMEM, "out of memory for activation blocks");
    if (has_perm(m))
        c->xp = alloc_floats(B * widest, &st);
    c->widest = widest;
    if (st == QLM_OK)
        st = qlm_ctx_set_path(c, QLM_PATH_NATIVE); /* GPU dtypes run their contracts natively */
    if (st != QLM_OK) {
        qlm_ctx_free(c);
        return st;
    }
    *out = c;
    return QLM_OK;
}

void qlm_ctx_free(qlm_ctx *c)
{
    if (!c)
        return;
    qlm_kv_free(c);
    free(c->x);
    free(c->xb);
    free(c->xb2);
    free(c->q);
    free(c->att);
    free(c->hb);
    free(c->hb2);
    free(c->rc);
    free(c->rs);
    free(c->scores);
    free(c->xq);
    free(c->xp);
    free(c->xq2);
    free(c->xb_own);
    free(c->xq_own);
    qlm_gpu_scratch_free(c->gs);
    free(c);
}

int64_t qlm_ctx_n_ctx(const qlm_ctx *c) { return c->n_ctx; }
int64_t qlm_ctx_pos(const qlm_ctx *c) { return c->pos; }

qlm_status qlm_ctx_truncate(qlm_ctx *c, int64_t pos)
{
    if (pos < 0 || pos > c->pos)
        return qlm_fail(QLM_E_ARG, "cannot truncate context to position %lld (it holds %lld)", (long long)pos,
                        (long long)c->pos);
    c->pos = pos; /* later positions are overwritten before they are read */
    return QLM_OK;
}
