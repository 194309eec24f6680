/* Fake quantization and error metrics for `qlm quant-error` (analysis.h). */
#include "formats/quant/analysis.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/gpu/gpucvt.h"
#include "formats/qlm/dtype.h"
#include "formats/quant/quant.h"

/* The GPU's own conversions (formats/gpu/gpucvt.h), saturating, so the
 * analysis rounds exactly as an FP8 kernel on the GPU would. */
float qe_fp8_e4m3(float x) { return qlm_gpu_e4m3_to_f32(qlm_gpu_f32_to_e4m3(x, true)); }
float qe_fp8_e5m2(float x) { return qlm_gpu_e5m2_to_f32(qlm_gpu_f32_to_e5m2(x, true)); }

static const char *const KIND_NAMES[] = {"int8", "fp8e4m3", "fp8e5m2", "int4", "q8", "q4"};

const char *qe_scheme_name(qe_scheme s, char *buf, size_t cap)
{
    const char *k = KIND_NAMES[s.kind];
    if (s.kind == QE_Q8 || s.kind == QE_Q4)
        snprintf(buf, cap, "%s", k);
    else if (s.group == QE_PER_TENSOR)
        snprintf(buf, cap, "%s-tensor", k);
    else if (s.group == QE_PER_ROW)
        snprintf(buf, cap, "%s-row", k);
    else
        snprintf(buf, cap, "%s-g%d", k, s.group);
    return buf;
}

int qe_scheme_parse(const char *name, qe_scheme *out)
{
    for (int k = 0; k < (int)(sizeof KIND_NAMES / sizeof *KIND_NAMES); k++) {
        size_t n = strlen(KIND_NAMES[k]);
        if (strncmp(name, KIND_NAMES[k], n) != 0)
            continue;
        const char *g = name + n;
        out->kind = (qe_kind)k;
        out->group = QE_PER_ROW;
        if (k == QE_Q8 || k == QE_Q4)
            return *g == 0;
        if (strcmp(g, "-tensor") == 0) {
            out->group = QE_PER_TENSOR;
            return 1;
        }
        if (strcmp(g, "-row") == 0)
            return 1;
        if (g[0] == '-' && g[1] == 'g') {
            char *end;
            long v = strtol(g + 2, &end, 10);
            if (*end == 0 && end != g + 2 && v > 0 && v <= 1 << 20) {
                out->group = (int)v;
                return 1;
            }
        }
        return 0;
    }
    return 0;
}

static const qe_scheme DEFAULTS[] = {
    {QE_INT8, QE_PER_TENSOR}, {QE_INT8, QE_PER_ROW}, {QE_INT8, 64}, {QE_INT8, 128}, {QE_INT8, 256}, {QE_INT8, 512},
    {QE_FP8_E4M3, QE_PER_TENSOR}, {QE_FP8_E4M3, QE_PER_ROW}, {QE_FP8_E4M3, 64}, {QE_FP8_E4M3, 128},
    {QE_FP8_E4M3, 256}, {QE_FP8_E4M3, 512},
    {QE_FP8_E5M2, QE_PER_TENSOR}, {QE_FP8_E5M2, QE_PER_ROW}, {QE_FP8_E5M2, 128},
    {QE_INT4, QE_PER_ROW}, {QE_INT4, 128}, {QE_Q8, 0}, {QE_Q4, 0},
};

const qe_scheme *qe_default_schemes(size_t *n)
{
    *n = sizeof DEFAULTS / sizeof *DEFAULTS;
    return DEFAULTS;
}

static float qmax_of(qe_kind k)
{
    switch (k) {
    case QE_INT8: return 127.0f;
    case QE_INT4: return 7.0f;
    case QE_FP8_E4M3: return 448.0f;
    default: return 57344.0f;
    }
}

/* One group x[0..n) sharing the scale absmax/qmax. */
static void fake_group(qe_kind k, float absmax, const float *x, float *out, uint64_t n)
{
    float s = absmax / qmax_of(k);
    for (uint64_t i = 0; i < n; i++) {
        if (s == 0.0f) {
            out[i] = 0.0f;
            continue;
        }
        float v = x[i] / s, q;
        if (k == QE_INT8)
            q = fminf(fmaxf(rintf(v), -127.0f), 127.0f);
        else if (k == QE_INT4)
            q = fminf(fmaxf(rintf(v), -8.0f), 7.0f);
        else if (k == QE_FP8_E4M3)
            q = qe_fp8_e4m3(v);
        else
            q = qe_fp8_e5m2(v);
        out[i] = q * s;
    }
}

static float absmax(const float *x, uint64_t n)
{
    float m = 0.0f;
    for (uint64_t i = 0; i < n; i++)
        m = fmaxf(m, fabsf(x[i]));
    return m;
}

static qlm_status fake_blocks(qe_kind k, const float *x, float *out, uint64_t n)
{
    size_t nb = (size_t)(n / QLM_BLOCK);
    qlm_status st;
    if (k == QE_Q8) {
        qlm_block_q8 *b = malloc(nb * sizeof *b + 1);
        if (!b)
            return qlm_fail(QLM_E_NOMEM, "quant-error: out of memory for %zu q8 blocks", nb);
        if ((st = qlm_quantize_q8(x, b, (size_t)n)) == QLM_OK)
            qlm_dequantize_q8(b, out, (size_t)n);
        free(b);
    } else {
        qlm_block_q4 *b = malloc(nb * sizeof *b + 1);
        if (!b)
            return qlm_fail(QLM_E_NOMEM, "quant-error: out of memory for %zu q4 blocks", nb);
        if ((st = qlm_quantize_q4(x, b, (size_t)n)) == QLM_OK)
            qlm_dequantize_q4(b, out, (size_t)n);
        free(b);
    }
    return st;
}

qlm_status qe_fake_quant(qe_scheme s, const float *x, float *out, uint64_t rows, uint64_t cols)
{
    uint64_t n = rows * cols;
    for (uint64_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return qlm_fail(QLM_E_VALUE, "quant-error: element %llu is not finite", (unsigned long long)i);
    if (s.kind == QE_Q8 || s.kind == QE_Q4) {
        if (cols % QLM_BLOCK)
            return qlm_fail(QLM_E_SHAPE, "quant-error: %llu columns is not a multiple of %d",
                            (unsigned long long)cols, QLM_BLOCK);
        return fake_blocks(s.kind, x, out, n);
    }
    if (s.group == QE_PER_TENSOR) {
        fake_group(s.kind, absmax(x, n), x, out, n);
        return QLM_OK;
    }
    uint64_t g = s.group == QE_PER_ROW ? cols : (uint64_t)s.group;
    for (uint64_t r = 0; r < rows; r++)
        for (uint64_t c = 0; c < cols; c += g) {
            uint64_t len = cols - c < g ? cols - c : g;
            const float *xr = x + r * cols + c;
            fake_group(s.kind, absmax(xr, len), xr, out + r * cols + c, len);
        }
    return QLM_OK;
}

void qe_stats_add(qe_stats *st, const float *x, const float *xq, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        double d = (double)x[i] - (double)xq[i];
        st->sse += d * d;
        st->ssr += (double)x[i] * (double)x[i];
        if (fabs(d) > st->max_abs)
            st->max_abs = fabs(d);
    }
    st->n += n;
}

double qe_rmse(const qe_stats *st) { return st->n ? sqrt(st->sse / (double)st->n) : 0.0; }
double qe_rel_frob(const qe_stats *st) { return st->ssr > 0 ? sqrt(st->sse / st->ssr) : 0.0; }
double qe_snr_db(const qe_stats *st)
{
    return st->sse > 0 ? 10.0 * log10(st->ssr / st->sse) : INFINITY;
}
