/* The forward pass. Every numeric inner loop goes through the kernel table
 * (simd/kernels.h), so kernel sets can be swapped without touching this file.
 *
 * Threads: one parallel region per forward chunk (per token in decode). The
 * functions below run on every thread of that team; each phase splits its
 * work by a fixed rule and ends with a barrier, and the small serial steps
 * (RMSNorm + activation quantization) run on one thread inside it. What a
 * thread can finish on its own rows it does before the barrier: RoPE of the
 * K heads it computed, the residual add of its output rows, SiLU * up and
 * quantization of its FFN rows, RoPE and quantization of its attention
 * heads. That is 7 barriers per layer instead of 5 fork/joins plus the
 * serial steps between them, which matters in decode of small models,
 * where a layer takes tens of microseconds.
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

/* Row r0 of the i-th of T parts of [0, rows): multiples of g rows (a
 * multiple of 16, so SIMD kernels get whole row groups); the last part
 * takes the remainder. */
static int64_t part(int64_t rows, int T, int i, int64_t g)
{
    if (i >= T)
        return rows;
    int64_t groups = (rows + g - 1) / g;
    int64_t r = groups * i / T * g;
    return r < rows ? r : rows;
}

typedef struct {
    int64_t r0, r1;
} range;

/* The calling thread's rows when T threads of the team share `rows`
 * (threads T and above get none). */
static range my_rows(int64_t rows, int T, int64_t g)
{
    int i = omp_get_thread_num();
    range r = {part(rows, T, i, g), part(rows, T, i + 1, g)};
    if (i >= T)
        r.r0 = r.r1 = rows;
    return r;
}

static int64_t gcd(int64_t a, int64_t b) { return b ? gcd(b, a % b) : a; }

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
 * `label` names it in dumps (NULL: W's tensor name); threads split the rows
 * in multiples of `g` (0: 16). */
typedef struct {
    const qlm_mat *w;
    float *y;
    int64_t ldy;
    const char *label;
    int64_t g;
} mm_job;

static int64_t job_g(const mm_job *j) { return j->g ? j->g : 16; }

/* Where the activation blocks of x go: the FFN hidden rows have their own
 * buffer, so a thread can quantize the rows it computed while the others
 * still read the blocks of the layer input, and so have each thread's own
 * normed rows (norm_input). */
static qlm_block_q8a *xq_of(const qlm_ctx *c, const float *x)
{
    uintptr_t own = OWN_ROWS * (uintptr_t)c->m->hp.dim * sizeof *x, p = (uintptr_t)x, b = (uintptr_t)c->xb_own;
    if (p >= b && p < b + (uintptr_t)c->n_threads * own) /* a thread's own normed rows */
        return c->xq_own + (p - b) / own * (OWN_ROWS * c->m->hp.dim / 32);
    return x == c->hb ? c->xq2 : c->xq;
}

/* Rows r0..r1 of part i: the CPU kernels, or the GPU contract of path p
 * (part i owns weight-row buffer slot i). */
static void part_rows(const qlm_ctx *c, qlm_path p, const qlm_mat *w, const float *x, int64_t nt, int64_t r0,
                      int64_t r1, float *y, int64_t ldy, int i)
{
    if (p == QLM_PATH_NATIVE)
        mm_rows(c, w, x, xq_of(c, x), nt, r0, r1, y, ldy);
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

/* Threads the team uses for products of `work` multiply-adds. */
static int threads_for(int64_t work)
{
    return work >= MIN_PARALLEL_WORK ? omp_get_num_threads() : 1;
}

static int jobs_threads(const mm_job *jobs, int n, int64_t nt)
{
    int64_t work = 0;
    for (int j = 0; j < n; j++)
        work += jobs[j].w->rows * jobs[j].w->cols * nt;
    return threads_for(work);
}

/* Team: the jobs, all reading the same X (rows of w->cols floats; xq holds
 * them quantized for Q8/Q4 weights on the CPU kernels): each matrix is split
 * over the threads by output rows as if alone (jobs_threads of them). Ends
 * without a barrier: the caller may finish its own rows first, then calls
 * finish(). Jobs under a GPU contract share its activation operand, formed
 * once. */
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
        for (int j = 0; j < n; j++) {
            matmuls(c, &jobs[j], 1, x, nt);
#pragma omp barrier /* the next job's operand replaces this one's */
        }
        return;
    }
    if (sp != QLM_PATH_NATIVE) {
#pragma omp single
        qlm_gpu_prepare(c->gs, (qlm_path)sp, x, nt, jobs[0].w->cols);
    }
    int T = jobs_threads(jobs, n, nt);
    for (int j = 0; j < n; j++) {
        range r = my_rows(jobs[j].w->rows, T, job_g(&jobs[j]));
        if (r.r0 < r.r1)
            part_rows(c, qlm_mat_path(jobs[j].w, c->path), jobs[j].w, x, nt, r.r0, r.r1, jobs[j].y, jobs[j].ldy,
                      omp_get_thread_num());
    }
}

/* Team: the barrier that ends a phase of matmuls, then their dumps. */
static void finish(const qlm_ctx *c, const mm_job *jobs, int n, const float *x, int64_t nt)
{
#pragma omp barrier
    if (c->dump) {
#pragma omp single
        for (int j = 0; j < n; j++)
            dump_mm(c, qlm_mat_path(jobs[j].w, c->path), &jobs[j], x, nt);
    }
}

/* True if W runs on the CPU Q8/Q4 kernels, which read quantized activations. */
static bool needs_q8a(const qlm_ctx *c, const qlm_mat *w)
{
    return w && qlm_mat_quantized(w) && qlm_mat_path(w, c->path) == QLM_PATH_NATIVE;
}

/* Quantize nt rows of `cols` activations if any of the weights reading them needs it. */
static void prepare_input(const qlm_ctx *c, const float *x, int64_t nt, int64_t cols, const qlm_mat *a,
                          const qlm_mat *b, const qlm_mat *d)
{
    if (needs_q8a(c, a) || needs_q8a(c, b) || needs_q8a(c, d))
        c->k->quant_act(x, xq_of(c, x), nt * cols);
}

/* Team: an act-order weight (qlm_mat.perm): its column j multiplies
 * x[perm[j]], so once every thread is done with the blocks in xq the rows
 * of X are gathered into c->xp (and quantized again for a CPU Q8/Q4 kernel)
 * and the job runs on them like any other; dumps show the gathered X. */
static void matmul_perm(const qlm_ctx *c, const mm_job *job, const float *x, int64_t nt)
{
    const qlm_mat *w = job->w;
    int64_t K = w->cols;
    qlm_mat plain = *w;
    plain.perm = NULL;
#pragma omp barrier
#pragma omp single
    {
        for (int64_t t = 0; t < nt; t++)
            for (int64_t j = 0; j < K; j++)
                c->xp[t * K + j] = x[t * K + w->perm[j]];
        if (needs_q8a(c, &plain))
            c->k->quant_act(c->xp, c->xq, nt * K);
    }
    mm_job pj = *job;
    pj.w = &plain;
    matmuls(c, &pj, 1, c->xp, nt);
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

/* y[t*n + i] += b[t*b_stride + i] for i in [r.r0, r.r1) of every row: y + b
 * is exact as axpy with a = 1, and element-wise, so any split of the columns
 * gives the same sums. */
static void add_cols(const qlm_ctx *c, float *y, const float *b, int64_t nt, int64_t n, int64_t b_stride, range r)
{
    for (int64_t t = 0; t < nt && r.r0 < r.r1; t++)
        c->k->axpy(y + t * n + r.r0, 1.0f, b + t * b_stride + r.r0, r.r1 - r.r0);
}

/* Activation blocks of columns [r.r0, r.r1) (multiples of 32, or r.r1 = n)
 * of rows [t0, t1) of x (rows of n): the blocks quant_act makes of the
 * whole rows. */
static void quant_cols(const qlm_ctx *c, const float *x, int64_t t0, int64_t t1, int64_t n, range r)
{
    for (int64_t t = t0; t < t1 && r.r0 < r.r1; t++)
        c->k->quant_act(x + t * n + r.r0, xq_of(c, x) + (t * n + r.r0) / 32, r.r1 - r.r0);
}

/* Per-head q/k RMSNorm (qwen3), then RoPE, on heads [h0, h1) of rows
 * (tokens) [t0, t1) of x. */
static void heads_norm_rope(const qlm_ctx *c, float *x, int64_t t0, int64_t t1, int64_t h0, int64_t h1,
                            int64_t ld, const float *norm)
{
    const qlm_hparams *hp = &c->m->hp;
    int64_t hd = hp->head_dim, half = hd / 2;
    for (int64_t t = t0; t < t1; t++)
        for (int64_t h = h0; h < h1; h++) {
            float *v = x + t * ld + h * hd;
            if (norm)
                c->k->rmsnorm(v, v, norm, hd, (float)hp->norm_eps);
            c->k->rope(v, c->rc + t * half, c->rs + t * half, hd);
        }
}

/* K rows rk (whole heads) and V rows rv of nt tokens: biases (qwen2), then
 * the K heads' norm (qwen3) and RoPE. */
static void kv_finish(const qlm_ctx *c, const qlm_layer *L, float *kc, float *vc, int64_t nt, range rk, range rv)
{
    int64_t hd = c->m->hp.head_dim, kvd = c->m->hp.n_kv_heads * hd;
    if (L->bk) {
        add_cols(c, kc, L->bk, nt, kvd, 0, rk);
        add_cols(c, vc, L->bv, nt, kvd, 0, rv);
    }
    heads_norm_rope(c, kc, 0, nt, rk.r0 / hd, rk.r1 / hd, kvd, L->k_norm);
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

/* The query rows of a unit before attending: bias (qwen2), norm (qwen3), RoPE. */
static void unit_queries(const qlm_ctx *c, const qlm_layer *L, att_unit u)
{
    int64_t hd = c->m->hp.head_dim, qd = c->m->hp.n_heads * hd;
    range r = {u.h0 * hd, u.h1 * hd};
    if (L->bq)
        add_cols(c, c->q + u.t0 * qd, L->bq, u.t1 - u.t0, qd, 0, r);
    heads_norm_rope(c, c->q, u.t0, u.t1, u.h0, u.h1, qd, L->q_norm);
}

/* The rows of one unit against the cache of layer l; sc: ATT_ROWS x n_ctx
 * scores; kvs: this thread's scratch for a Q8 cache's rows; quant: also
 * quantize the unit's outputs (whole blocks: head_dim % 32 == 0) for the
 * output projection. */
static void attend_unit(const qlm_ctx *c, int64_t l, int64_t pos0, att_unit u, float *sc, float *kvs, bool quant)
{
    const qlm_hparams *hp = &c->m->hp;
    const qlm_kernels *k = c->k;
    int64_t hd = hp->head_dim, H = hp->n_heads, group = H / hp->n_kv_heads;
    int64_t qd = H * hd, nh = u.h1 - u.h0, kvh = u.h0 / group, end = pos0 + u.t1, ld;
    float scale = (float)(1.0 / sqrt((double)hd));
    unit_queries(c, &c->m->layers[l], u);
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
    if (quant)
        quant_cols(c, c->att, u.t0, u.t1, qd, (range){u.h0 * hd, u.h1 * hd});
}

/* Team: causal grouped-query attention of nt new rows (positions pos0..)
 * against the cache of layer l, round robin over the units (later tokens
 * have more keys). One token: one head per unit (most parallelism); a
 * batch: the heads of a group over several tokens (most key reuse). */
static void attention(const qlm_ctx *c, int64_t l, int64_t nt, int64_t pos0, bool quant)
{
    const qlm_hparams *hp = &c->m->hp;
    int64_t group = hp->n_heads / hp->n_kv_heads;
    int64_t hb = nt == 1 ? 1 : group < ATT_ROWS ? group : ATT_ROWS, tb = nt == 1 ? 1 : ATT_ROWS / hb;
    int64_t units = (nt + tb - 1) / tb * hp->n_kv_heads * ((group + hb - 1) / hb);
    int T = threads_for(nt * hp->n_heads * (pos0 + nt) * hp->head_dim), i0 = omp_get_thread_num();
    float *sc = c->scores + (int64_t)i0 * ATT_ROWS * c->n_ctx;
    float *kvs = c->kvs ? c->kvs + (int64_t)i0 * KEY_BLOCK * hp->head_dim : NULL;
    for (int64_t i = i0; i0 < T && i < units; i += T)
        attend_unit(c, l, pos0, unit_at(hp, nt, tb, hb, i), sc, kvs, quant);
#pragma omp barrier
}

/* Team: x quantized for the weights a, b, d (one thread). */
static void team_input(const qlm_ctx *c, const float *x, int64_t nt, int64_t cols, const qlm_mat *a,
                       const qlm_mat *b, const qlm_mat *d)
{
#pragma omp single
    prepare_input(c, x, nt, cols, a, b, d);
}

/* Team: RMSNorm(x) rows and their activation blocks for the weights a, b,
 * d; returns where the normed rows are. Up to OWN_ROWS rows (decode) every
 * thread computes them into its own buffers, which costs less than the
 * barrier it saves; more, one thread into the shared ones. */
static const float *norm_input(const qlm_ctx *c, const float *x, const float *w, int64_t nt, const qlm_mat *a,
                               const qlm_mat *b, const qlm_mat *d)
{
    int64_t D = c->m->hp.dim;
    if (nt <= OWN_ROWS) {
        float *xb = c->xb_own + (int64_t)omp_get_thread_num() * OWN_ROWS * D;
        rmsnorm_rows(c, xb, x, w, nt, D);
        prepare_input(c, xb, nt, D, a, b, d);
        return xb;
    }
#pragma omp single
    {
        rmsnorm_rows(c, c->xb, x, w, nt, D);
        prepare_input(c, c->xb, nt, D, a, b, d);
    }
    return c->xb;
}

/* Team: c->x += w . x, each thread adding the rows it computed (fuse), or
 * one thread the whole product after the dumps. */
static void residual(const qlm_ctx *c, const qlm_mat *w, const float *x, int64_t nt, bool fuse)
{
    int64_t D = c->m->hp.dim;
    mm_job job = {w, c->xb2, D, NULL, 0};
    matmuls(c, &job, 1, x, nt);
    if (fuse)
        add_cols(c, c->x, c->xb2, nt, D, D, my_rows(D, jobs_threads(&job, 1, nt), 16));
    finish(c, &job, 1, x, nt);
    if (!fuse) {
#pragma omp single
        add_cols(c, c->x, c->xb2, nt, D, D, (range){0, D});
    }
}

/* Team: one layer. Dumps (qlm ref, GPTQ calibration) see each product as
 * it came out of the matmul, so with them set the per-row finishing steps
 * run after the barrier on one thread instead of on the rows' own threads. */
static void layer(const qlm_ctx *c, int64_t l, int64_t nt, int64_t pos0)
{
    const qlm_hparams *hp = &c->m->hp;
    const qlm_layer *L = &c->m->layers[l];
    int64_t D = hp->dim, F = hp->ffn, hd = hp->head_dim;
    int64_t qd = hp->n_heads * hd, kvd = hp->n_kv_heads * hd, hg = 16 / gcd(16, hd) * hd;
    bool f32 = c->kv == QLM_CACHE_F32, fuse = !c->dump;
    float *kc = f32 ? c->kc + (l * c->n_ctx + pos0) * kvd : c->kn;
    float *vc = f32 ? c->vc + (l * c->n_ctx + pos0) * kvd : c->vn;

    /* attention block: q to scratch, k and v straight into an f32 cache (a
     * Q8 cache takes them from scratch once RoPE is applied); K split in
     * whole heads (hg rows: whole heads and whole row groups) so each thread
     * can rotate the heads it computed */
    const float *xb = norm_input(c, c->x, L->attn_norm, nt, &L->wq, &L->wk, &L->wv);
    mm_job qkv[] = {{&L->wq, c->q, qd, NULL, 0}, {&L->wk, kc, kvd, NULL, hg}, {&L->wv, vc, kvd, NULL, 0}};
    matmuls(c, qkv, 3, xb, nt);
    int T = jobs_threads(qkv, 3, nt);
    if (fuse)
        kv_finish(c, L, kc, vc, nt, my_rows(kvd, T, hg), my_rows(kvd, T, 16));
    finish(c, qkv, 3, xb, nt);
    if (!fuse || !f32) {
#pragma omp single
        {
            if (!fuse)
                kv_finish(c, L, kc, vc, nt, (range){0, kvd}, (range){0, kvd});
            qlm_kv_store(c, l, kc, vc, nt, pos0);
        }
    }
    bool quant_att = fuse && hd % 32 == 0;
    attention(c, l, nt, pos0, quant_att && needs_q8a(c, &L->wo));
    if (!quant_att)
        team_input(c, c->att, nt, qd, &L->wo, NULL, NULL);
    residual(c, &L->wo, c->att, nt, fuse);

    /* SiLU-gated MLP: gate and up split alike in whole activation blocks,
     * so each thread can gate and quantize the rows it computed */
    xb = norm_input(c, c->x, L->ffn_norm, nt, &L->gate, &L->up, NULL);
    mm_job gate_up[] = {{&L->gate, c->hb, F, NULL, 32}, {&L->up, c->hb2, F, NULL, 32}};
    matmuls(c, gate_up, 2, xb, nt);
    bool quant_ffn = fuse && F % 32 == 0;
    if (fuse) {
        range r = my_rows(F, jobs_threads(gate_up, 2, nt), 32);
        for (int64_t t = 0; t < nt && r.r0 < r.r1; t++)
            c->k->silu_mul(c->hb + t * F + r.r0, c->hb2 + t * F + r.r0, r.r1 - r.r0);
        if (quant_ffn && needs_q8a(c, &L->down))
            quant_cols(c, c->hb, 0, nt, F, r);
    }
    finish(c, gate_up, 2, xb, nt);
    if (!fuse) {
#pragma omp single
        c->k->silu_mul(c->hb, c->hb2, nt * F);
    }
    if (!quant_ffn)
        team_input(c, c->hb, nt, F, &L->down, NULL, NULL);
    residual(c, &L->down, c->hb, nt, fuse);
    if (c->dump) {
#pragma omp single
        {
            char name[48];
            snprintf(name, sizeof name, "blk.%lld.out", (long long)l);
            c->dump(c->dump_user, name, QLM_DT_F32, nt, D, c->x);
        }
    }
}

/* RoPE cos/sin rows of nt positions from pos0. */
static void rope_rows(qlm_ctx *c, int64_t nt, int64_t pos0)
{
    int64_t half = c->m->hp.head_dim / 2;
    for (int64_t t = 0; t < nt; t++)
        qlm_rope_row(c->m->inv_freq, half, pos0 + t, c->rc + t * half, c->rs + t * half);
}

/* One chunk of at most n_batch tokens. logits: NULL, or n_out rows of n_vocab
 * for the last n_out tokens of the chunk. */
static void forward_chunk(qlm_ctx *c, const int32_t *tok, int64_t nt, float *logits, int64_t n_out)
{
    const qlm_model *m = c->m;
    int64_t D = m->hp.dim, pos0 = c->pos;
    for (int64_t t = 0; t < nt; t++)
        embed(&m->embd, tok[t], c->x + t * D);
    rope_rows(c, nt, pos0);
    bool out = logits && n_out > 0;
#pragma omp parallel num_threads(c->n_threads) if (c->n_threads > 1)
    {
        for (int64_t l = 0; l < m->hp.n_layers; l++)
            layer(c, l, nt, pos0);
        if (out) {
            const float *xb = norm_input(c, c->x + (nt - n_out) * D, m->output_norm, n_out, &m->output,
                                         NULL, NULL);
            mm_job job = {&m->output, logits, m->hp.n_vocab, "output", 0};
            matmuls(c, &job, 1, xb, n_out);
            finish(c, &job, 1, xb, n_out);
        }
    }
    c->pos += nt;
}

void qlm_ctx_embed(const qlm_ctx *c, const int32_t *tok, int64_t nt, float *y)
{
    for (int64_t t = 0; t < nt; t++)
        embed(&c->m->embd, tok[t], y + t * c->m->hp.dim);
}

void qlm_ctx_run_layers(qlm_ctx *c, const float *x, int64_t nt, int64_t l0, int64_t l1, float *y)
{
    int64_t D = c->m->hp.dim;
    memcpy(c->x, x, (size_t)(nt * D) * sizeof *x);
    rope_rows(c, nt, 0);
    c->pos = 0;
#pragma omp parallel num_threads(c->n_threads) if (c->n_threads > 1)
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
