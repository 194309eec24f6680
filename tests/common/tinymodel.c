/* See tinymodel.h. The reference is deliberately naive: double precision
 * everywhere, HF formulas written out directly, libm for cos/sin/pow. */
#include "tests/common/tinymodel.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/common/half.h"
#include "formats/qlm/keys.h"
#include "formats/qlm/qlmfile.h"
#include "formats/quant/quant.h"
#include "tests/common/testutil.h"

typedef struct {
    double *embd, *out, *out_norm;
    double **attn_norm, **ffn_norm, **wq, **wk, **wv, **wo, **gate, **up, **down, **bq, **bk, **bv, **qn, **kn;
} weights;

struct tiny_model {
    tiny_spec s;
    weights w;
};

static uint64_t splitmix(uint64_t *st)
{
    uint64_t z = (*st += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double uni(uint64_t *st) { return (double)(splitmix(st) >> 11) / 9007199254740992.0 * 2.0 - 1.0; }

static uint64_t name_seed(const char *name)
{
    uint64_t h = 0xCBF29CE484222325ull;
    for (; *name; name++)
        h = (h ^ (uint8_t)*name) * 0x100000001B3ull;
    return h;
}

/* Quantized blocks built directly from random codes and scales, so the true
 * values are known exactly without any quantizer. */
static void *make_q(const char *name, int64_t n, int q4, double amp, double *truth, size_t *nbytes)
{
    uint64_t st = name_seed(name);
    int64_t nb = n / 32;
    size_t bs = q4 ? sizeof(qlm_block_q4) : sizeof(qlm_block_q8);
    uint8_t *buf = calloc((size_t)nb, bs);
    for (int64_t b = 0; b < nb; b++) {
        uint16_t d = qlm_f32_to_f16((float)(amp * (0.5 + 0.5 * fabs(uni(&st))) / (q4 ? 8.0 : 127.0)));
        double dd = qlm_f16_to_f32(d);
        if (q4) {
            qlm_block_q4 *blk = (qlm_block_q4 *)(buf + b * bs);
            blk->d = d;
            for (int i = 0; i < 16; i++) {
                int lo = (int)(splitmix(&st) % 16), hi = (int)(splitmix(&st) % 16);
                blk->qs[i] = (uint8_t)(lo | hi << 4);
                truth[b * 32 + i] = dd * (lo - 8);
                truth[b * 32 + i + 16] = dd * (hi - 8);
            }
        } else {
            qlm_block_q8 *blk = (qlm_block_q8 *)(buf + b * bs);
            blk->d = d;
            for (int i = 0; i < 32; i++) {
                int q = (int)(splitmix(&st) % 255) - 127;
                blk->q[i] = (int8_t)q;
                truth[b * 32 + i] = dd * q;
            }
        }
    }
    *nbytes = (size_t)nb * bs;
    return buf;
}

/* Float values in dtype dt: generated, rounded to the dtype, truth = stored value. */
static void *make_f(const char *name, int64_t n, qlm_dtype dt, double amp, double offset, double *truth,
                    size_t *nbytes)
{
    uint64_t st = name_seed(name);
    size_t es = dt == QLM_DT_F32 ? 4 : 2;
    uint8_t *buf = malloc((size_t)n * es);
    for (int64_t i = 0; i < n; i++) {
        float f = (float)(offset + amp * uni(&st));
        if (dt == QLM_DT_F32) {
            memcpy(buf + i * 4, &f, 4);
            truth[i] = f;
        } else {
            uint16_t h = dt == QLM_DT_F16 ? qlm_f32_to_f16(f) : qlm_f32_to_bf16(f);
            memcpy(buf + i * 2, &h, 2);
            truth[i] = dt == QLM_DT_F16 ? qlm_f16_to_f32(h) : qlm_bf16_to_f32(h);
        }
    }
    *nbytes = (size_t)n * es;
    return buf;
}

typedef struct {
    char name[64];
    qlm_dtype dt;
    uint32_t rank;
    uint64_t dims[2];
    double amp, offset;
    double **dst;
} tdesc;

static int add(tdesc *t, int n, const char *name, qlm_dtype dt, int64_t rows, int64_t cols, double amp,
               double offset, double **dst)
{
    snprintf(t[n].name, sizeof t[n].name, "%s", name);
    t[n].dt = cols ? dt : QLM_DT_F32;
    t[n].rank = cols ? 2 : 1;
    t[n].dims[0] = (uint64_t)rows;
    t[n].dims[1] = (uint64_t)cols;
    t[n].amp = amp;
    t[n].offset = offset;
    t[n].dst = dst;
    return n + 1;
}

static double **layer_arr(int64_t L) { return calloc((size_t)L, sizeof(double *)); }

static int describe(tiny_model *m, tdesc *t)
{
    const tiny_spec *s = &m->s;
    weights *w = &m->w;
    int64_t qd = s->H * s->hd, kvd = s->KV * s->hd;
    double ***arrs[] = {&w->attn_norm, &w->ffn_norm, &w->wq, &w->wk, &w->wv, &w->wo, &w->gate,
                       &w->up, &w->down, &w->bq, &w->bk, &w->bv, &w->qn, &w->kn};
    for (size_t i = 0; i < sizeof arrs / sizeof arrs[0]; i++)
        *arrs[i] = layer_arr(s->L);
    int n = 0;
    n = add(t, n, "token_embd.weight", s->wtype, s->V, s->D, 1.0, 0, &w->embd);
    n = add(t, n, "output_norm.weight", 0, s->D, 0, 0.1, 1.0, &w->out_norm);
    if (!s->tied)
        n = add(t, n, "output.weight", s->wtype, s->V, s->D, 1.0 / sqrt((double)s->D), 0, &w->out);
    for (int64_t l = 0; l < s->L; l++) {
        char b[64];
#define NM(x) (snprintf(b, sizeof b, "blk.%lld." x, (long long)l), b)
        n = add(t, n, NM("attn_norm.weight"), 0, s->D, 0, 0.1, 1.0, &w->attn_norm[l]);
        n = add(t, n, NM("ffn_norm.weight"), 0, s->D, 0, 0.1, 1.0, &w->ffn_norm[l]);
        n = add(t, n, NM("attn_q.weight"), s->wtype, qd, s->D, 1.0 / sqrt((double)s->D), 0, &w->wq[l]);
        n = add(t, n, NM("attn_k.weight"), s->wtype, kvd, s->D, 1.0 / sqrt((double)s->D), 0, &w->wk[l]);
        n = add(t, n, NM("attn_v.weight"), s->wtype, kvd, s->D, 1.0 / sqrt((double)s->D), 0, &w->wv[l]);
        n = add(t, n, NM("attn_output.weight"), s->wtype, s->D, qd, 1.0 / sqrt((double)qd), 0, &w->wo[l]);
        n = add(t, n, NM("ffn_gate.weight"), s->wtype, s->F, s->D, 1.0 / sqrt((double)s->D), 0, &w->gate[l]);
        n = add(t, n, NM("ffn_up.weight"), s->wtype, s->F, s->D, 1.0 / sqrt((double)s->D), 0, &w->up[l]);
        n = add(t, n, NM("ffn_down.weight"), s->wtype, s->D, s->F, 1.0 / sqrt((double)s->F), 0, &w->down[l]);
        if (s->bias) {
            n = add(t, n, NM("attn_q.bias"), 0, qd, 0, 0.1, 0, &w->bq[l]);
            n = add(t, n, NM("attn_k.bias"), 0, kvd, 0, 0.1, 0, &w->bk[l]);
            n = add(t, n, NM("attn_v.bias"), 0, kvd, 0, 0.1, 0, &w->bv[l]);
        }
        if (s->qk_norm) {
            n = add(t, n, NM("attn_q_norm.weight"), 0, s->hd, 0, 0.1, 1.0, &w->qn[l]);
            n = add(t, n, NM("attn_k_norm.weight"), 0, s->hd, 0, 0.1, 1.0, &w->kn[l]);
        }
#undef NM
    }
    return n;
}

static void write_meta(qlm_writer *wr, const tiny_spec *s)
{
    assert_ok(qlm_writer_set_str(wr, QLM_K_ARCH, s->arch, strlen(s->arch)));
    assert_ok(qlm_writer_set_i64(wr, QLM_K_CTX, s->ctx));
    assert_ok(qlm_writer_set_i64(wr, QLM_K_DIM, s->D));
    assert_ok(qlm_writer_set_i64(wr, QLM_K_LAYERS, s->L));
    assert_ok(qlm_writer_set_i64(wr, QLM_K_FFN, s->F));
    assert_ok(qlm_writer_set_i64(wr, QLM_K_HEADS, s->H));
    assert_ok(qlm_writer_set_i64(wr, QLM_K_HEADS_KV, s->KV));
    assert_ok(qlm_writer_set_i64(wr, QLM_K_HEAD_DIM, s->hd));
    assert_ok(qlm_writer_set_i64(wr, QLM_K_VOCAB, s->V));
    assert_ok(qlm_writer_set_f64(wr, QLM_K_NORM_EPS, 1e-5));
    assert_ok(qlm_writer_set_f64(wr, QLM_K_ROPE_THETA, s->theta));
    assert_ok(qlm_writer_set_bool(wr, QLM_K_TIED, s->tied));
    assert_ok(qlm_writer_set_bool(wr, QLM_K_ATTN_BIAS, s->bias));
    assert_ok(qlm_writer_set_bool(wr, QLM_K_QK_NORM, s->qk_norm));
    if (s->rope_scaling == 1) {
        assert_ok(qlm_writer_set_str(wr, QLM_K_ROPE_SCALING, "llama3", 6));
        assert_ok(qlm_writer_set_f64(wr, QLM_K_ROPE_FACTOR, 8.0));
        assert_ok(qlm_writer_set_f64(wr, QLM_K_ROPE_LOW_FREQ, 1.0));
        assert_ok(qlm_writer_set_f64(wr, QLM_K_ROPE_HIGH_FREQ, 4.0));
        /* small so that all three frequency bands occur with a tiny head_dim */
        assert_ok(qlm_writer_set_i64(wr, QLM_K_ROPE_ORIG_CTX, 64));
    } else if (s->rope_scaling == 2) {
        assert_ok(qlm_writer_set_str(wr, QLM_K_ROPE_SCALING, "linear", 6));
        assert_ok(qlm_writer_set_f64(wr, QLM_K_ROPE_FACTOR, 4.0));
    }
}

tiny_model *tiny_write(const tiny_spec *s, const char *path, const char *skip, const char *bad_shape)
{
    tiny_model *m = calloc(1, sizeof *m);
    m->s = *s;
    tdesc *t = calloc((size_t)(3 + 16 * s->L), sizeof *t);
    int n = describe(m, t);
    qlm_writer *wr;
    assert_ok(qlm_writer_open(path, &wr));
    write_meta(wr, s);
    size_t *idx = calloc((size_t)n, sizeof *idx);
    for (int i = 0; i < n; i++) {
        if (skip && strcmp(t[i].name, skip) == 0)
            continue;
        uint64_t dims[2] = {t[i].dims[0], t[i].dims[1]};
        if (bad_shape && strcmp(t[i].name, bad_shape) == 0)
            dims[0] += t[i].rank == 2 ? 32 : 1;
        assert_ok(qlm_writer_add_tensor(wr, t[i].name, t[i].dt, t[i].rank, dims, &idx[i]));
    }
    for (int i = 0; i < n; i++) {
        int64_t ne = (int64_t)t[i].dims[0] * (t[i].rank == 2 ? (int64_t)t[i].dims[1] : 1);
        int64_t ne_w = ne;
        if (bad_shape && strcmp(t[i].name, bad_shape) == 0)
            ne_w = ne + (t[i].rank == 2 ? 32 * (int64_t)t[i].dims[1] : 1);
        double *truth = calloc((size_t)ne_w, sizeof(double));
        size_t nbytes;
        void *data = t[i].dt == QLM_DT_Q8 || t[i].dt == QLM_DT_Q4
                         ? make_q(t[i].name, ne_w, t[i].dt == QLM_DT_Q4, t[i].amp, truth, &nbytes)
                         : make_f(t[i].name, ne_w, t[i].dt, t[i].amp, t[i].offset, truth, &nbytes);
        if (!(skip && strcmp(t[i].name, skip) == 0))
            assert_ok(qlm_writer_write_tensor(wr, idx[i], data, nbytes));
        free(data);
        *t[i].dst = truth;
    }
    assert_ok(qlm_writer_finish(wr));
    free(idx);
    free(t);
    if (s->tied)
        m->w.out = m->w.embd;
    return m;
}

void tiny_free(tiny_model *m)
{
    weights *w = &m->w;
    if (!m->s.tied)
        free(w->out);
    free(w->embd);
    free(w->out_norm);
    double **arrs[] = {w->attn_norm, w->ffn_norm, w->wq, w->wk, w->wv, w->wo, w->gate,
                       w->up, w->down, w->bq, w->bk, w->bv, w->qn, w->kn};
    for (size_t i = 0; i < sizeof arrs / sizeof arrs[0]; i++) {
        for (int64_t l = 0; l < m->s.L; l++)
            free(arrs[i][l]);
        free(arrs[i]);
    }
    free(m);
}

/* ---- reference forward pass (double) ---- */

static void rmsnorm(double *out, const double *x, const double *w, int64_t n)
{
    double ss = 0;
    for (int64_t i = 0; i < n; i++)
        ss += x[i] * x[i];
    double r = 1.0 / sqrt(ss / (double)n + 1e-5);
    for (int64_t i = 0; i < n; i++)
        out[i] = x[i] * r * w[i];
}

static void matvec(double *y, const double *w, const double *x, int64_t rows, int64_t cols)
{
    for (int64_t r = 0; r < rows; r++) {
        double a = 0;
        for (int64_t c = 0; c < cols; c++)
            a += w[r * cols + c] * x[c];
        y[r] = a;
    }
}

/* HF _compute_default_rope_parameters / llama3 / linear, in double. */
static double inv_freq(const tiny_spec *s, int64_t i)
{
    double f = 1.0 / pow(s->theta, (double)(2 * i) / (double)s->hd);
    if (s->rope_scaling == 2)
        return f / 4.0;
    if (s->rope_scaling != 1)
        return f;
    double factor = 8.0, lo = 1.0, hi = 4.0, old = 64.0;
    double wl = 2 * M_PI / f;
    if (wl < old / hi)
        return f;
    if (wl > old / lo)
        return f / factor;
    double sm = (old / wl - lo) / (hi - lo);
    return (1 - sm) * f / factor + sm * f;
}

static void rope(const tiny_spec *s, double *v, int64_t pos)
{
    int64_t h = s->hd / 2;
    for (int64_t i = 0; i < h; i++) {
        double a = pos * inv_freq(s, i), c = cos(a), sn = sin(a);
        double x0 = v[i], x1 = v[i + h];
        v[i] = x0 * c - x1 * sn;
        v[i + h] = x1 * c + x0 * sn;
    }
}

/* The Q8 KV cache rule of runtime/model/model.h, in double: blocks of 32
 * (the whole head when head_dim is not a multiple of 32), each x ->
 * amax/127 * rne(x * 127/amax). */
static void kv_q8_head(double *x, int64_t hd)
{
    int64_t bl = hd % 32 == 0 ? 32 : hd;
    for (int64_t b = 0; b < hd; b += bl) {
        double amax = 0;
        for (int64_t i = b; i < b + bl; i++)
            amax = fmax(amax, fabs(x[i]));
        for (int64_t i = b; i < b + bl; i++)
            x[i] = amax == 0 ? 0.0 : amax / 127.0 * nearbyint(x[i] * 127.0 / amax);
    }
}

void tiny_reference(const tiny_model *m, const int32_t *tok, int64_t n, double *out)
{
    tiny_reference_kv(m, tok, n, false, out);
}

void tiny_reference_kv(const tiny_model *m, const int32_t *tok, int64_t n, bool kv_q8, double *out)
{
    const tiny_spec *s = &m->s;
    const weights *w = &m->w;
    int64_t D = s->D, qd = s->H * s->hd, kvd = s->KV * s->hd, hd = s->hd;
    double *kc = calloc((size_t)(s->L * n * kvd), sizeof(double));
    double *vc = calloc((size_t)(s->L * n * kvd), sizeof(double));
    double *x = malloc(sizeof(double) * D), *xb = malloc(sizeof(double) * D), *y = malloc(sizeof(double) * D);
    double *q = malloc(sizeof(double) * qd), *att = malloc(sizeof(double) * qd);
    double *g = malloc(sizeof(double) * s->F), *u = malloc(sizeof(double) * s->F);
    double *sc = malloc(sizeof(double) * n);
    for (int64_t p = 0; p < n; p++) {
        memcpy(x, w->embd + tok[p] * D, sizeof(double) * D);
        for (int64_t l = 0; l < s->L; l++) {
            double *k = kc + (l * n + p) * kvd, *v = vc + (l * n + p) * kvd;
            rmsnorm(xb, x, w->attn_norm[l], D);
            matvec(q, w->wq[l], xb, qd, D);
            matvec(k, w->wk[l], xb, kvd, D);
            matvec(v, w->wv[l], xb, kvd, D);
            for (int64_t i = 0; s->bias && i < qd; i++)
                q[i] += w->bq[l][i];
            for (int64_t i = 0; s->bias && i < kvd; i++) {
                k[i] += w->bk[l][i];
                v[i] += w->bv[l][i];
            }
            for (int64_t h = 0; h < s->H; h++) {
                if (s->qk_norm)
                    rmsnorm(q + h * hd, q + h * hd, w->qn[l], hd);
                rope(s, q + h * hd, p);
            }
            for (int64_t h = 0; h < s->KV; h++) {
                if (s->qk_norm)
                    rmsnorm(k + h * hd, k + h * hd, w->kn[l], hd);
                rope(s, k + h * hd, p);
                if (kv_q8) {
                    kv_q8_head(k + h * hd, hd);
                    kv_q8_head(v + h * hd, hd);
                }
            }
            for (int64_t h = 0; h < s->H; h++) {
                int64_t kh = h / (s->H / s->KV);
                double mx = -INFINITY, sum = 0;
                for (int64_t j = 0; j <= p; j++) {
                    double d = 0;
                    for (int64_t i = 0; i < hd; i++)
                        d += q[h * hd + i] * kc[(l * n + j) * kvd + kh * hd + i];
                    sc[j] = d / sqrt((double)hd);
                    mx = sc[j] > mx ? sc[j] : mx;
                }
                for (int64_t j = 0; j <= p; j++)
                    sum += (sc[j] = exp(sc[j] - mx));
                for (int64_t i = 0; i < hd; i++) {
                    double a = 0;
                    for (int64_t j = 0; j <= p; j++)
                        a += sc[j] / sum * vc[(l * n + j) * kvd + kh * hd + i];
                    att[h * hd + i] = a;
                }
            }
            matvec(y, w->wo[l], att, D, qd);
            for (int64_t i = 0; i < D; i++)
                x[i] += y[i];
            rmsnorm(xb, x, w->ffn_norm[l], D);
            matvec(g, w->gate[l], xb, s->F, D);
            matvec(u, w->up[l], xb, s->F, D);
            for (int64_t i = 0; i < s->F; i++)
                g[i] = g[i] / (1.0 + exp(-g[i])) * u[i];
            matvec(y, w->down[l], g, D, s->F);
            for (int64_t i = 0; i < D; i++)
                x[i] += y[i];
        }
        rmsnorm(xb, x, w->out_norm, D);
        matvec(out + p * s->V, w->out, xb, s->V, D);
    }
    free(kc), free(vc), free(x), free(xb), free(y), free(q), free(att), free(g), free(u), free(sc);
}
