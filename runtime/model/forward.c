/* The forward pass. Every numeric inner loop goes through the kernel table
 * (simd/kernels.h), so kernel sets can be swapped without touching this file.
 *
 * Determinism: each output element is computed by exactly one call with a
 * fixed operation order. Threads split matmuls by output rows and attention
 * by (token, head) pairs only, and every token row is computed the same way
 * whatever the batch it arrives in, so logits do not depend on the thread
 * count or on how a prompt is split into eval calls. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "runtime/model/ctx_int.h"

/* Below this many multiply-adds an op runs on one thread: waking the team
 * costs more than it saves (and much more on a loaded machine). */
#define MIN_PARALLEL_WORK 32768

/* Row r0 of the i-th of T parts of [0, rows): multiples of 16 rows so SIMD
 * kernels get whole row groups; the last part takes the remainder. */
static int64_t part(int64_t rows, int T, int i)
{
    if (i >= T)
        return rows;
    int64_t groups = (rows + 15) / 16;
    int64_t r = groups * i / T * 16;
    return r < rows ? r : rows;
}

static void mm_rows(const qlm_ctx *c, const qlm_mat *w, const float *x, const qlm_block_q8a *xq,
                    int64_t nt, int64_t r0, int64_t r1, float *y, int64_t ldy)
{
    const qlm_kernels *k = c->k;
    int64_t K = w->cols;
    if (w->packed && k == c->m->pk) {
        k->mm_packed(w->dtype, w->packed, xq, K / 32, nt, r0, r1, y, ldy);
        return;
    }
    switch (w->dtype) {
    case QLM_DT_F32: k->mm_f32(w->data, x, K, nt, r0, r1, y, ldy); break;
    case QLM_DT_F16: k->mm_f16(w->data, x, K, nt, r0, r1, y, ldy); break;
    case QLM_DT_BF16: k->mm_bf16(w->data, x, K, nt, r0, r1, y, ldy); break;
    case QLM_DT_Q8: k->mm_q8(w->data, xq, K / 32, nt, r0, r1, y, ldy); break;
    case QLM_DT_Q4: k->mm_q4(w->data, xq, K / 32, nt, r0, r1, y, ldy); break;
    }
}

/* One product Y[t*ldy + r] = W row r . X row t (all rows, nt tokens);
 * `label` names it in dumps (NULL: W's tensor name). */
typedef struct {
    const qlm_mat *w;
    float *y;
    int64_t ldy;
    const char *label;
} mm_job;

/* Rows r0..r1 of part i: the CPU kernels, or the GPU contract of path p
 * (part i owns weight-row buffer slot i). */
static void part_rows(const qlm_ctx *c, qlm_path p, const qlm_mat *w, const float *x, int64_t nt, int64_t r0,
                      int64_t r1, float *y, int64_t ldy, int i)
{
    if (p == QLM_PATH_NATIVE)
        mm_rows(c, w, x, c->xq, nt, r0, r1, y, ldy);
    else
        qlm_gpu_mm_rows(c->gs, p, w, x, nt, r0, r1, y, ldy, i);
}

/* The linear layer's intermediate tensors for qlm ref: input x, the operand
 * the GPU contract reads (and its per-token scales), output y. */
static void dump_mm(const qlm_ctx *c, qlm_path p, const mm_job *job, const float *x, int64_t nt)
{
    const char *label = job->label ? job->label : job->w->name;
    char base[160], name[176];
    size_t n = strlen(label);
    if (n > 7 && strcmp(label + n - 7, ".weight") == 0)
        n -= 7;
    snprintf(base, sizeof base, "%.*s", (int)n, label);
#define DUMP(suffix, dt, cols, data) \
    (snprintf(name, sizeof name, "%s." suffix, base), c->dump(c->dump_user, name, dt, nt, cols, data))
    DUMP("x", QLM_DT_F32, job->w->cols, x);
    if (p != QLM_PATH_NATIVE && p != QLM_PATH_F32) {
        uint32_t dt;
        const float *sc;
        const void *a = qlm_gpu_operand(c->gs, p, &dt, &sc);
        DUMP("a", dt, job->w->cols, a);
        if (sc)
            DUMP("a_scale", QLM_DT_F32, 1, sc);
    }
    DUMP("y", QLM_DT_F32, job->w->rows, job->y);
#undef DUMP
}

/* The path all GPU-contract jobs share (NATIVE if none runs one), or -1 when
 * two need different activation operands (mixed formats via --keep). */
static int shared_path(const qlm_ctx *c, const mm_job *jobs, int n)
{
    qlm_path s = QLM_PATH_NATIVE;
    for (int j = 0; j < n; j++) {
        qlm_path p = qlm_mat_path(jobs[j].w, c->path);
        if (p != QLM_PATH_NATIVE && s != QLM_PATH_NATIVE && p != s)
            return -1;
        if (p != QLM_PATH_NATIVE)
            s = p;
    }
    return (int)s;
}

static void matmul_perm(const qlm_ctx *c, const mm_job *job, const float *x, int64_t nt);

/* The jobs, all reading the same X (rows of w->cols floats; xq holds them
 * quantized for Q8/Q4 weights on the CPU kernels), in one parallel region:
 * each matrix is split over the threads by output rows as if alone, but the
 * team is woken and joined once for all of them (per-region costs dominate
 * decode of small models, more so with the sleeping waits qlm uses). Jobs
 * under a GPU contract share its activation operand, formed once. */
static void matmuls(const qlm_ctx *c, const mm_job *jobs, int n, const float *x, int64_t nt)
{
    int n_perm = 0;
    for (int j = 0; j < n; j++)
        n_perm += jobs[j].w->perm != NULL;
    if (n_perm) { /* the others first: a permuted job overwrites xq */
        for (int j = 0; j < n; j++)
            if (!jobs[j].w->perm)
                matmuls(c, &jobs[j], 1, x, nt);
        for (int j = 0; j < n; j++)
            if (jobs[j].w->perm)
                matmul_perm(c, &jobs[j], x, nt);
        return;
    }
    int sp = shared_path(c, jobs, n);
    if (sp < 0) {
        for (int j = 0; j < n; j++)
            matmuls(c, &jobs[j], 1, x, nt);
        return;
    }
    if (sp != QLM_PATH_NATIVE)
        qlm_gpu_prepare(c->gs, (qlm_path)sp, x, nt, jobs[0].w->cols);
    int64_t work = 0;
    for (int j = 0; j < n; j++)
        work += jobs[j].w->rows * jobs[j].w->cols * nt;
    int T = work >= MIN_PARALLEL_WORK ? c->n_threads : 1;
#pragma omp parallel for num_threads(T) schedule(static) if (T > 1)
    for (int i = 0; i < T; i++)
        for (int j = 0; j < n; j++) {
            int64_t r0 = part(jobs[j].w->rows, T, i), r1 = part(jobs[j].w->rows, T, i + 1);
            if (r0 < r1)
                part_rows(c, qlm_mat_path(jobs[j].w, c->path), jobs[j].w, x, nt, r0, r1, jobs[j].y,
                          jobs[j].ldy, i);
        }
    for (int j = 0; c->dump && j < n; j++)
        dump_mm(c, qlm_mat_path(jobs[j].w, c->path), &jobs[j], x, nt);
}

static void matmul(const qlm_ctx *c, const qlm_mat *w, const float *x, int64_t nt, float *y, int64_t ldy,
                   const char *label)
{
    mm_job job = {w, y, ldy, label};
    matmuls(c, &job, 1, x, nt);
}

/* True if W runs on the CPU Q8/Q4 kernels, which read quantized activations. */
static bool needs_q8a(const qlm_ctx *c, const qlm_mat *w)
{
    return w && qlm_mat_quantized(w) && qlm_mat_path(w, c->path) == QLM_PATH_NATIVE;
}

/* An act-order weight (qlm_mat.perm): its column j multiplies x[perm[j]], so
 * the rows of X are gathered into c->xp (and quantized again for a CPU Q8/Q4
 * kernel) and the job runs on them like any other; dumps show the gathered X. */
static void matmul_perm(const qlm_ctx *c, const mm_job *job, const float *x, int64_t nt)
{
    const qlm_mat *w = job->w;
    int64_t K = w->cols;
    for (int64_t t = 0; t < nt; t++)
        for (int64_t j = 0; j < K; j++)
            c->xp[t * K + j] = x[t * K + w->perm[j]];
    qlm_mat plain = *w;
    plain.perm = NULL;
    if (needs_q8a(c, &plain))
        c->k->quant_act(c->xp, c->xq, nt * K);
    mm_job pj = *job;
    pj.w = &plain;
    matmuls(c, &pj, 1, c->xp, nt);
}

/* Quantize nt rows of `cols` activations if any of the weights reading them needs it. */
static void prepare_input(const qlm_ctx *c, const float *x, int64_t nt, int64_t cols, const qlm_mat *a,
                          const qlm_mat *b, const qlm_mat *d)
{
    if (needs_q8a(c, a) || needs_q8a(c, b) || needs_q8a(c, d))
        c->k->quant_act(x, c->xq, nt * cols);
}

/* Embedding rows are dequantized exactly (the same values a matmul sees on
 * the F32 path). */
static void embed(const qlm_mat *e, int32_t tok, float *out) { qlm_mat_row_f32(e, tok, out); }

static void rmsnorm_rows(const qlm_ctx *c, float *out, const float *x, const float *w, int64_t nt, int64_t n)
{
    float eps = (float)c->m->hp.norm_eps;
    for (int64_t t = 0; t < nt; t++)
        c->k->rmsnorm(out + t * n, x + t * n, w, n, eps);
}

/* y[t] += b for every row: y + b is exact as axpy with a = 1. */
static void add_rows(const qlm_ctx *c, float *y, const float *b, int64_t nt, int64_t n, int64_t b_stride)
{
    for (int64_t t = 0; t < nt; t++)
        c->k->axpy(y + t * n, 1.0f, b + t * b_stride, n);
}

/* Per-head q/k RMSNorm (qwen3), then RoPE, on nt rows of n_h heads each. */
static void heads_norm_rope(const qlm_ctx *c, float *x, int64_t nt, int64_t n_h, int64_t ld, const float *norm)
{
    const qlm_hparams *hp = &c->m->hp;
    int64_t hd = hp->head_dim, half = hd / 2;
    for (int64_t t = 0; t < nt; t++)
        for (int64_t h = 0; h < n_h; h++) {
            float *v = x + t * ld + h * hd;
            if (norm)
                c->k->rmsnorm(v, v, norm, hd, (float)hp->norm_eps);
            c->k->rope(v, c->rc + t * half, c->rs + t * half, hd);
        }
}

/* Attention works in units of at most ATT_ROWS query rows (tokens x heads
 * of one KV group) and walks the keys in blocks of KEY_BLOCK, so each block
 * of K and V is read from memory once per unit and then served from L1 to
 * every query of the unit. Each score and each output element is still the
 * contract's single dot / axpy chain in key order: the blocking changes only
 * which query is computed when. (KEY_BLOCK: ctx_int.h; a Q8 cache hands out
 * one block of rows at a time, dequantized.) */

typedef struct {
    int64_t t0, t1, h0, h1; /* tokens [t0, t1) x query heads [h0, h1) */
} att_unit;

/* Unit i of the batch: token blocks of tb, head blocks of hb inside each KV group. */
static att_unit unit_at(const qlm_hparams *hp, int64_t nt, int64_t tb, int64_t hb, int64_t i)
{
    int64_t group = hp->n_heads / hp->n_kv_heads, per_group = (group + hb - 1) / hb;
    int64_t per_tb = hp->n_kv_heads * per_group;
    int64_t t0 = i / per_tb * tb, g = i % per_tb / per_group, h0 = g * group + i % per_group * hb;
    att_unit u = {t0, t0 + tb < nt ? t0 + tb : nt, h0, h0 + hb < (g + 1) * group ? h0 + hb : (g + 1) * group};
    return u;
}

/* The rows of one unit against the cache of layer l; sc: ATT_ROWS x n_ctx
 * scores; kvs: this thread's scratch for a Q8 cache's rows. */
static void attend_unit(const qlm_ctx *c, int64_t l, int64_t pos0, att_unit u, float *sc, float *kvs)
{
    const qlm_hparams *hp = &c->m->hp;
    const qlm_kernels *k = c->k;
    int64_t hd = hp->head_dim, H = hp->n_heads, group = H / hp->n_kv_heads;
    int64_t qd = H * hd, nh = u.h1 - u.h0, kvh = u.h0 / group, end = pos0 + u.t1, ld;
    float scale = (float)(1.0 / sqrt((double)hd));
    for (int64_t kb = 0; kb < end; kb += KEY_BLOCK) {
        const float *kc = qlm_kv_rows(c, 0, l, kvh, kb, end - kb < KEY_BLOCK ? end - kb : KEY_BLOCK, kvs, &ld);
        for (int64_t t = u.t0; t < u.t1; t++) {
            int64_t n = pos0 + t + 1 - kb;
            for (int64_t h = u.h0; h < u.h1 && n > 0; h++)
                k->dot_rows(sc + ((t - u.t0) * nh + h - u.h0) * c->n_ctx + kb, c->q + t * qd + h * hd, kc,
                            n < KEY_BLOCK ? n : KEY_BLOCK, ld, hd, scale);
        }
    }
    for (int64_t t = u.t0; t < u.t1; t++)
        for (int64_t h = u.h0; h < u.h1; h++) {
            k->softmax(sc + ((t - u.t0) * nh + h - u.h0) * c->n_ctx, pos0 + t + 1);
            memset(c->att + t * qd + h * hd, 0, (size_t)hd * sizeof(float));
        }
    for (int64_t kb = 0; kb < end; kb += KEY_BLOCK) {
        const float *vc = qlm_kv_rows(c, 1, l, kvh, kb, end - kb < KEY_BLOCK ? end - kb : KEY_BLOCK, kvs, &ld);
        for (int64_t t = u.t0; t < u.t1; t++) {
            int64_t n = pos0 + t + 1 - kb;
            for (int64_t h = u.h0; h < u.h1 && n > 0; h++)
                k->axpy_rows(c->att + t * qd + h * hd, sc + ((t - u.t0) * nh + h - u.h0) * c->n_ctx + kb, vc,
                             n < KEY_BLOCK ? n : KEY_BLOCK, ld, hd);
        }
    }
}

/* Causal grouped-query attention of nt new rows (positions pos0..) against
 * the cache of layer l. One token: one head per unit (most parallelism);
 * a batch: the heads of a group over several tokens (most key reuse). */
static void attention(const qlm_ctx *c, int64_t l, int64_t nt, int64_t pos0)
{
    const qlm_hparams *hp = &c->m->hp;
    int64_t group = hp->n_heads / hp->n_kv_heads;
    int64_t hb = nt == 1 ? 1 : group < ATT_ROWS ? group : ATT_ROWS, tb = nt == 1 ? 1 : ATT_ROWS / hb;
    int64_t units = (nt + tb - 1) / tb * hp->n_kv_heads * ((group + hb - 1) / hb);
    bool par = c->n_threads > 1 && units > 1 && nt * hp->n_heads * (pos0 + nt) * hp->head_dim >= MIN_PARALLEL_WORK;
    /* round robin: later tokens have more keys */
#pragma omp parallel for num_threads(c->n_threads) schedule(static, 1) if (par)
    for (int64_t i = 0; i < units; i++) {
        int64_t tid = omp_get_thread_num();
        attend_unit(c, l, pos0, unit_at(hp, nt, tb, hb, i), c->scores + tid * ATT_ROWS * c->n_ctx,
                    c->kvs ? c->kvs + tid * KEY_BLOCK * hp->head_dim : NULL);
    }
}

static void layer(qlm_ctx *c, int64_t l, int64_t nt, int64_t pos0)
{
    const qlm_hparams *hp = &c->m->hp;
    const qlm_layer *L = &c->m->layers[l];
    int64_t D = hp->dim, F = hp->ffn, hd = hp->head_dim;
    int64_t qd = hp->n_heads * hd, kvd = hp->n_kv_heads * hd;
    bool f32 = c->kv == QLM_CACHE_F32;
    float *kc = f32 ? c->kc + (l * c->n_ctx + pos0) * kvd : c->kn;
    float *vc = f32 ? c->vc + (l * c->n_ctx + pos0) * kvd : c->vn;

    /* attention block: q to scratch, k and v straight into an f32 cache (a
     * Q8 cache takes them from scratch once RoPE is applied) */
    rmsnorm_rows(c, c->xb, c->x, L->attn_norm, nt, D);
    prepare_input(c, c->xb, nt, D, &L->wq, &L->wk, &L->wv);
    mm_job qkv[] = {{&L->wq, c->q, qd, NULL}, {&L->wk, kc, kvd, NULL}, {&L->wv, vc, kvd, NULL}};
    matmuls(c, qkv, 3, c->xb, nt);
    if (L->bq) {
        add_rows(c, c->q, L->bq, nt, qd, 0);
        add_rows(c, kc, L->bk, nt, kvd, 0);
        add_rows(c, vc, L->bv, nt, kvd, 0);
    }
    heads_norm_rope(c, c->q, nt, hp->n_heads, qd, L->q_norm);
    heads_norm_rope(c, kc, nt, hp->n_kv_heads, kvd, L->k_norm);
    qlm_kv_store(c, l, kc, vc, nt, pos0);
    attention(c, l, nt, pos0);
    prepare_input(c, c->att, nt, qd, &L->wo, NULL, NULL);
    matmul(c, &L->wo, c->att, nt, c->xb2, D, NULL);
    add_rows(c, c->x, c->xb2, nt, D, D);

    /* SiLU-gated MLP */
    rmsnorm_rows(c, c->xb, c->x, L->ffn_norm, nt, D);
    prepare_input(c, c->xb, nt, D, &L->gate, &L->up, NULL);
    mm_job gate_up[] = {{&L->gate, c->hb, F, NULL}, {&L->up, c->hb2, F, NULL}};
    matmuls(c, gate_up, 2, c->xb, nt);
    c->k->silu_mul(c->hb, c->hb2, nt * F);
    prepare_input(c, c->hb, nt, F, &L->down, NULL, NULL);
    matmul(c, &L->down, c->hb, nt, c->xb2, D, NULL);
    add_rows(c, c->x, c->xb2, nt, D, D);
    if (c->dump) {
        char name[48];
        snprintf(name, sizeof name, "blk.%lld.out", (long long)l);
        c->dump(c->dump_user, name, QLM_DT_F32, nt, D, c->x);
    }
}

/* One chunk of at most n_batch tokens. logits: NULL, or n_out rows of n_vocab
 * for the last n_out tokens of the chunk. */
static void forward_chunk(qlm_ctx *c, const int32_t *tok, int64_t nt, float *logits, int64_t n_out)
{
    const qlm_model *m = c->m;
    int64_t D = m->hp.dim, half = m->hp.head_dim / 2, pos0 = c->pos;
    for (int64_t t = 0; t < nt; t++) {
        embed(&m->embd, tok[t], c->x + t * D);
        qlm_rope_row(m->inv_freq, half, pos0 + t, c->rc + t * half, c->rs + t * half);
    }
    for (int64_t l = 0; l < m->hp.n_layers; l++)
        layer(c, l, nt, pos0);
    c->pos += nt;
    if (!logits || n_out == 0)
        return;
    const float *x = c->x + (nt - n_out) * D;
    rmsnorm_rows(c, c->xb, x, m->output_norm, n_out, D);
    prepare_input(c, c->xb, n_out, D, &m->output, NULL, NULL);
    matmul(c, &m->output, c->xb, n_out, logits, m->hp.n_vocab, "output");
}

void qlm_ctx_embed(const qlm_ctx *c, const int32_t *tok, int64_t nt, float *y)
{
    for (int64_t t = 0; t < nt; t++)
        embed(&c->m->embd, tok[t], y + t * c->m->hp.dim);
}

void qlm_ctx_run_layers(qlm_ctx *c, const float *x, int64_t nt, int64_t l0, int64_t l1, float *y)
{
    int64_t D = c->m->hp.dim, half = c->m->hp.head_dim / 2;
    memcpy(c->x, x, (size_t)(nt * D) * sizeof *x);
    for (int64_t t = 0; t < nt; t++)
        qlm_rope_row(c->m->inv_freq, half, t, c->rc + t * half, c->rs + t * half);
    c->pos = 0;
    for (int64_t l = l0; l < l1; l++)
        layer(c, l, nt, 0);
    memcpy(y, c->x, (size_t)(nt * D) * sizeof *y);
}

qlm_status qlm_ctx_eval(qlm_ctx *c, const int32_t *tokens, int64_t n, float *logits, bool all_logits)
{
    const qlm_hparams *hp = &c->m->hp;
    if (n < 0 || (n > 0 && !tokens))
        return qlm_fail(QLM_E_ARG, "eval: bad token array (n = %lld)", (long long)n);
    if (n > c->n_ctx - c->pos)
        return qlm_fail(QLM_E_LIMIT, "context full: %lld tokens do not fit after %lld of %lld positions",
                        (long long)n, (long long)c->pos, (long long)c->n_ctx);
    for (int64_t i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= hp->n_vocab)
            return qlm_fail(QLM_E_VALUE, "token id %d at index %lld is outside the vocabulary [0, %lld)",
                            (int)tokens[i], (long long)i, (long long)hp->n_vocab);
    for (int64_t i = 0; i < n; i += c->n_batch) {
        int64_t nt = n - i < c->n_batch ? n - i : c->n_batch;
        bool last = i + nt == n;
        float *out = NULL;
        int64_t n_out = 0;
        if (logits && all_logits) {
            out = logits + i * hp->n_vocab;
            n_out = nt;
        } else if (logits && last) {
            out = logits;
            n_out = 1;
        }
        forward_chunk(c, tokens + i, nt, out, n_out);
    }
    return QLM_OK;
}
