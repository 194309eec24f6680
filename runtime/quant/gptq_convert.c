/* Calibrated Q4 conversion (gptq_convert.h). */
#include "runtime/quant/gptq_convert.h"

#include <omp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "formats/common/mapfile.h"
#include "formats/convert/emitter.h"
#include "runtime/model/ctx_int.h"
#include "runtime/tokenizer/tokenizer.h"

#define MAX_CALIB_BYTES ((size_t)1 << 30)
#define DEFAULT_TOKENS 8192
#define DEFAULT_CTX 512

/* The matmul inputs of a layer, in forward order, and the weights each one
 * feeds. The forward pass's dump hook (model.h qlm_ctx_set_dump) shows each
 * input as "blk.N.<first weight>.x". */
enum { POINT_QKV, POINT_WO, POINT_GATE_UP, POINT_DOWN, POINT_COUNT };

typedef struct {
    const char *name;
    size_t off; /* offsetof(qlm_layer, mat) */
} point_mat;

static const point_mat k_points[POINT_COUNT][3] = {
    [POINT_QKV] = {{"attn_q", offsetof(qlm_layer, wq)},
                   {"attn_k", offsetof(qlm_layer, wk)},
                   {"attn_v", offsetof(qlm_layer, wv)}},
    [POINT_WO] = {{"attn_output", offsetof(qlm_layer, wo)}},
    [POINT_GATE_UP] = {{"ffn_gate", offsetof(qlm_layer, gate)}, {"ffn_up", offsetof(qlm_layer, up)}},
    [POINT_DOWN] = {{"ffn_down", offsetof(qlm_layer, down)}},
};

typedef struct {
    const qlm_convert_opts *o;
    const qlm_gptq_convert_opts *g;
    qlm_model *m;
    qlm_ctx *c;
    int64_t n_seq, seq_len, dim;
    float *xs;       /* [n_seq][seq_len][dim]: residual stream entering the current layer */
    /* the Hessian being accumulated, of the matmul input dumped as `want` */
    char want[64];
    double *h;
    int64_t h_cols, h_rows_seen;
    /* results */
    qlm_prequant *pre;
    size_t n_pre;
    double obj_gptq, obj_rtn; /* Hessian-weighted error of the current layer */
} calib;

static qlm_status tokens_of(const char *path, const qlm_tokenizer *tok, int32_t **ids, size_t *n)
{
    char *text;
    size_t len;
    qlm_status st = qlm_read_file(path, MAX_CALIB_BYTES, &text, &len);
    if (st)
        return qlm_fail_context(st, "--calib");
    qlm_tok_encode_opts eo = {false, false};
    st = qlm_tok_encode(tok, text, len, &eo, ids, n);
    free(text);
    return st;
}

/* Sequences (gptq_convert.h step 2) embedded into cal->xs. */
static qlm_status load_calibration(calib *cal, const qlm_tokenizer *tok)
{
    int32_t *ids;
    size_t n;
    qlm_status st = tokens_of(cal->g->calib, tok, &ids, &n);
    if (st)
        return st;
    const qlm_hparams *hp = qlm_model_hparams(cal->m);
    int64_t budget = cal->g->calib_tokens > 0 ? cal->g->calib_tokens : DEFAULT_TOKENS;
    int64_t len = cal->g->calib_ctx > 0 ? cal->g->calib_ctx : DEFAULT_CTX;
    len = len < hp->ctx_max ? len : hp->ctx_max;
    len = len < budget ? len : budget;
    int32_t bos = qlm_tok_add_bos(tok) ? qlm_tok_bos(tok) : -1;
    int64_t text_per_seq = bos >= 0 ? len - 1 : len;
    if (len < 2 || (int64_t)n < text_per_seq) {
        free(ids);
        return qlm_fail(QLM_E_VALUE,
                        "--calib %s: %zu tokens; calibration needs at least one sequence of %lld (see --calib-ctx)",
                        cal->g->calib, n, (long long)text_per_seq);
    }
    cal->seq_len = len;
    cal->n_seq = budget / len;
    if (cal->n_seq > (int64_t)n / text_per_seq)
        cal->n_seq = (int64_t)n / text_per_seq;
    if (cal->n_seq < 1)
        cal->n_seq = 1;
    cal->dim = hp->dim;
    int32_t *seq = malloc((size_t)len * sizeof *seq);
    cal->xs = malloc((size_t)(cal->n_seq * len * hp->dim) * sizeof *cal->xs);
    if (!seq || !cal->xs) {
        free(seq);
        free(ids);
        return qlm_fail(QLM_E_NOMEM, "gptq: out of memory for %lld calibration tokens",
                        (long long)(cal->n_seq * len));
    }
    for (int64_t s = 0; s < cal->n_seq; s++) {
        int64_t k = 0;
        if (bos >= 0)
            seq[k++] = bos;
        memcpy(seq + k, ids + s * text_per_seq, (size_t)text_per_seq * sizeof *seq);
        qlm_ctx_embed(cal->c, seq, len, cal->xs + s * len * hp->dim);
    }
    free(seq);
    free(ids);
    return QLM_OK;
}

/* For the wanted matmul input (f32, cols = h_cols): H += x^T x over the nt
 * rows, lower triangle; each element by one thread. */
static void on_dump(void *ud, const char *name, uint32_t dtype, int64_t nt, int64_t cols, const void *data)
{
    calib *cal = ud;
    if (strcmp(name, cal->want) != 0 || dtype != QLM_DT_F32 || cols != cal->h_cols)
        return;
    const float *x = data;
    double *h = cal->h;
#pragma omp parallel for schedule(dynamic, 8) if (cols >= 128)
    for (int64_t i = 0; i < cols; i++)
        for (int64_t t = 0; t < nt; t++) {
            double xi = (double)x[t * cols + i];
            const float *xr = x + t * cols;
            for (int64_t j = 0; j <= i; j++)
                h[i * cols + j] += xi * (double)xr[j];
        }
    cal->h_rows_seen += nt;
}

/* Run layer l over every sequence; advance: keep the output as the next
 * layer's input. */
static void run_layer(calib *cal, int64_t l, bool advance, float *scratch)
{
    int64_t stride = cal->seq_len * cal->dim;
    for (int64_t s = 0; s < cal->n_seq; s++) {
        float *x = cal->xs + s * stride;
        qlm_ctx_run_layers(cal->c, x, cal->seq_len, l, l + 1, advance ? x : scratch);
    }
}

static qlm_status hessian(calib *cal, int64_t l, int point, int64_t cols, float *scratch)
{
    free(cal->h);
    cal->h = calloc((size_t)(cols * cols), sizeof *cal->h);
    if (!cal->h)
        return qlm_fail(QLM_E_NOMEM, "gptq: out of memory for a %lld x %lld Hessian", (long long)cols,
                        (long long)cols);
    cal->h_cols = cols;
    cal->h_rows_seen = 0;
    snprintf(cal->want, sizeof cal->want, "blk.%lld.%s.x", (long long)l, k_points[point][0].name);
    qlm_ctx_set_dump(cal->c, on_dump, cal);
    run_layer(cal, l, false, scratch);
    qlm_ctx_set_dump(cal->c, NULL, NULL);
    double inv = 1.0 / (double)cal->h_rows_seen;
    for (int64_t i = 0; i < cols; i++)
        for (int64_t j = 0; j <= i; j++)
            cal->h[i * cols + j] = cal->h[j * cols + i] = cal->h[i * cols + j] * inv;
    return QLM_OK;
}

static bool wants_q4(const calib *cal, const char *name, const qlm_mat *w)
{
    uint64_t dims[2] = {(uint64_t)w->rows, (uint64_t)w->cols};
    bool note;
    return qlm_emit_choose(cal->o, name, 2, dims, SRC_F32, &note) == QLM_DT_Q4;
}

/* GPTQ of one weight against cal->h; the blocks replace it in the model. */
static qlm_status quantize_mat(calib *cal, const char *name, qlm_mat *w)
{
    if (w->dtype != QLM_DT_F32)
        return qlm_fail(QLM_E_DTYPE, "gptq: %s is not f32 in the temporary model", name);
    size_t nb = (size_t)(w->rows * w->cols / QLM_BLOCK);
    qlm_block_q4 *q = malloc(nb * sizeof *q), *r = malloc(nb * sizeof *r);
    char *nm = strdup(name);
    qlm_prequant *pre = realloc(cal->pre, (cal->n_pre + 1) * sizeof *pre);
    if (pre)
        cal->pre = pre;
    if (!q || !r || !nm || !pre) {
        free(q);
        free(r);
        free(nm);
        return qlm_fail(QLM_E_NOMEM, "gptq: out of memory for %s", name);
    }
    qlm_gptq_opts go = cal->g->gptq;
    go.threads = cal->o->threads;
    go.quiet = cal->o->quiet;
    const float *wf = w->data; /* the temporary model is all f32 */
    qlm_status st = qlm_gptq_q4(wf, w->rows, w->cols, cal->h, &go, q, NULL);
    if (!st)
        st = qlm_quantize_q4_method(wf, r, (size_t)(w->rows * w->cols), go.scale);
    if (st) {
        free(q);
        free(r);
        free(nm);
        return qlm_fail_context(st, "%s", name);
    }
    if (!cal->o->quiet) {
        cal->obj_gptq += qlm_gptq_objective(wf, q, w->rows, w->cols, cal->h);
        cal->obj_rtn += qlm_gptq_objective(wf, r, w->rows, w->cols, cal->h);
    }
    free(r);
    cal->pre[cal->n_pre++] = (qlm_prequant){nm, q, nb * sizeof *q};
    /* not packed; the name (the dump hook names matmuls by it) and an
     * act-order permutation (columns stay in stored order) carry over */
    *w = (qlm_mat){.data = q, .dtype = QLM_DT_Q4, .rows = w->rows, .cols = w->cols, .name = w->name,
                   .perm = w->perm};
    return QLM_OK;
}

static qlm_status quantize_point(calib *cal, int64_t l, int point, float *scratch)
{
    qlm_layer *L = &cal->m->layers[l];
    char name[96];
    bool any = false;
    for (int k = 0; k < 3 && k_points[point][k].name; k++) {
        qlm_mat *w = (qlm_mat *)((char *)L + k_points[point][k].off);
        snprintf(name, sizeof name, "blk.%lld.%s.weight", (long long)l, k_points[point][k].name);
        any |= wants_q4(cal, name, w);
    }
    if (!any)
        return QLM_OK;
    qlm_mat *first = (qlm_mat *)((char *)L + k_points[point][0].off);
    qlm_status st = hessian(cal, l, point, first->cols, scratch);
    for (int k = 0; k < 3 && k_points[point][k].name && !st; k++) {
        qlm_mat *w = (qlm_mat *)((char *)L + k_points[point][k].off);
        snprintf(name, sizeof name, "blk.%lld.%s.weight", (long long)l, k_points[point][k].name);
        if (wants_q4(cal, name, w))
            st = quantize_mat(cal, name, w);
    }
    return st;
}

static qlm_status calibrate(calib *cal)
{
    const qlm_hparams *hp = qlm_model_hparams(cal->m);
    float *scratch = malloc((size_t)(cal->seq_len * cal->dim) * sizeof *scratch);
    if (!scratch)
        return qlm_fail(QLM_E_NOMEM, "gptq: out of memory");
    qlm_status st = QLM_OK;
    for (int64_t l = 0; l < hp->n_layers && !st; l++) {
        cal->obj_gptq = cal->obj_rtn = 0.0;
        for (int p = 0; p < POINT_COUNT && !st; p++)
            st = quantize_point(cal, l, p, scratch);
        if (st)
            break;
        run_layer(cal, l, true, scratch);
        if (!cal->o->quiet)
            fprintf(stderr, "gptq: layer %lld/%lld: Hessian-weighted error %.3fx that of RTN\n", (long long)l + 1,
                    (long long)hp->n_layers, cal->obj_rtn > 0 ? cal->obj_gptq / cal->obj_rtn : 1.0);
    }
    free(scratch);
    return st;
}

/* Steps 1-3 of gptq_convert.h on the temporary f32 model at `tmp`. */
static qlm_status calibrate_file(calib *cal, const char *tmp)
{
    qlm_tokenizer *tok = NULL;
    qlm_status st = qlm_model_open(tmp, &cal->m);
    if (!st)
        st = qlm_tok_load_qlm(qlm_model_file(cal->m), &tok);
    if (!st) {
        int64_t len = cal->g->calib_ctx > 0 ? cal->g->calib_ctx : DEFAULT_CTX;
        int64_t max = qlm_model_hparams(cal->m)->ctx_max;
        qlm_ctx_params cp = {.n_ctx = len < max ? len : max, .n_threads = cal->o->threads};
        st = qlm_ctx_new(cal->m, &cp, &cal->c);
    }
    if (!st)
        st = load_calibration(cal, tok);
    qlm_tok_free(tok);
    if (!st) {
        if (!cal->o->quiet)
            fprintf(stderr, "gptq: %lld sequences x %lld tokens from %s\n", (long long)cal->n_seq,
                    (long long)cal->seq_len, cal->g->calib);
        st = calibrate(cal);
    }
    qlm_ctx_free(cal->c);
    qlm_model_close(cal->m);
    free(cal->xs);
    free(cal->h);
    return st;
}

qlm_status qlm_convert_gptq(const qlm_convert_opts *o, const qlm_gptq_convert_opts *g)
{
    if (o->type != QLM_DT_Q4)
        return qlm_fail(QLM_E_ARG, "gptq needs --type q4");
    if (!g->calib)
        return qlm_fail(QLM_E_ARG, "gptq needs --calib FILE");
    if (!o->out)
        return qlm_fail(QLM_E_ARG, "convert needs a source and an output path");
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.gptq-f32.qlm", o->out) >= (int)sizeof tmp)
        return qlm_fail(QLM_E_ARG, "output path too long");
    qlm_convert_opts t = *o;
    t.out = tmp;
    t.type = QLM_DT_F32;
    t.keep = NULL;
    t.n_keep = 0;
    t.quiet = true;
    t.progress = NULL;
    t.pre = NULL;
    t.n_pre = 0;
    qlm_status st = qlm_convert(&t);
    calib cal = {.o = o, .g = g};
    if (!st)
        st = calibrate_file(&cal, tmp);
    unlink(tmp);
    if (!st) {
        qlm_convert_opts f = *o;
        f.q4_method = g->gptq.scale;
        f.pre = cal.pre;
        f.n_pre = cal.n_pre;
        st = qlm_convert(&f);
    }
    for (size_t i = 0; i < cal.n_pre; i++) {
        free((void *)cal.pre[i].name);
        free((void *)cal.pre[i].data);
    }
    free(cal.pre);
    return st;
}
