/* Linear layers through the GPU GEMM contracts (gpu_mm.h). */
#include "runtime/model/gpu_mm.h"

#include <stdlib.h>
#include <string.h>

#include "formats/common/half.h"
#include "formats/gpu/gpublock.h"
#include "formats/gpu/gpucvt.h"
#include "formats/quant/quant.h"
#include "simd/gpu/gemm.h"

typedef struct {
    qlm_gpu_row row; /* unpacked weight row (q, sc, sh, sf) */
    float *wf;       /* [widest] dequantized row (F32 path) */
    uint16_t *wb;    /* [widest] the same rounded to bf16 (BF16 path) */
} slot_buf;

struct qlm_gpu_scratch {
    int n_slots;
    uint16_t *a16; /* [B][K] f16 / bf16 activation codes (K of the last prepare) */
    uint8_t *a8;   /* [B][K] E4M3 activation codes */
    float *sa;     /* [B] FP8 per-token scales */
    slot_buf *slots;
};

static const char *const k_path_names[QLM_PATH_COUNT] = {"native", "f32", "bf16", "w4a16", "fp8-w8a8", "nvfp4",
                                                         "mxfp4"};

const char *qlm_path_name(qlm_path p) { return p < QLM_PATH_COUNT ? k_path_names[p] : "?"; }

bool qlm_path_parse(const char *s, qlm_path *out)
{
    for (int i = 0; i < QLM_PATH_COUNT; i++)
        if (strcmp(s, k_path_names[i]) == 0) {
            *out = (qlm_path)i;
            return true;
        }
    return false;
}

/* The quantized path a GPU dtype belongs to (NATIVE for the CPU dtypes). */
static qlm_path own_path(uint32_t dtype)
{
    switch (dtype) {
    case QLM_DT_FP8: case QLM_DT_FP8_G128: return QLM_PATH_FP8_W8A8;
    case QLM_DT_NVFP4: return QLM_PATH_NVFP4;
    case QLM_DT_MXFP4: return QLM_PATH_MXFP4;
    case QLM_DT_W4A16: return QLM_PATH_W4A16;
    default: return QLM_PATH_NATIVE;
    }
}

qlm_path qlm_mat_path(const qlm_mat *w, qlm_path p) { return p == QLM_PATH_NATIVE ? own_path(w->dtype) : p; }

qlm_status qlm_mat_check_path(const qlm_mat *w, qlm_path p)
{
    if (p == QLM_PATH_NATIVE || p == QLM_PATH_F32 || p == QLM_PATH_BF16 || own_path(w->dtype) == p)
        return QLM_OK;
    static const char *const conv[QLM_PATH_COUNT] = {[QLM_PATH_W4A16] = "w4a16", [QLM_PATH_FP8_W8A8] = "fp8 or fp8-g128",
                                                     [QLM_PATH_NVFP4] = "nvfp4", [QLM_PATH_MXFP4] = "mxfp4"};
    return qlm_fail(QLM_E_DTYPE, "model tensor %s (%s) cannot run the %s path: it needs %s weights (qlm convert --type)",
                    w->name, qlm_dtype_get(w->dtype)->name, qlm_path_name(p), conv[p]);
}

void qlm_mat_row_f32(const qlm_mat *w, int64_t r, float *out)
{
    int64_t K = w->cols;
    const char *d = w->data;
    switch (w->dtype) {
    case QLM_DT_F32: memcpy(out, (const float *)d + r * K, (size_t)K * sizeof(float)); break;
    case QLM_DT_F16:
        for (int64_t i = 0; i < K; i++)
            out[i] = qlm_f16_to_f32(((const uint16_t *)d)[r * K + i]);
        break;
    case QLM_DT_BF16:
        for (int64_t i = 0; i < K; i++)
            out[i] = qlm_bf16_to_f32(((const uint16_t *)d)[r * K + i]);
        break;
    case QLM_DT_Q8: qlm_dequantize_q8((const qlm_block_q8 *)d + r * (K / 32), out, (size_t)K); break;
    case QLM_DT_Q4: qlm_dequantize_q4((const qlm_block_q4 *)d + r * (K / 32), out, (size_t)K); break;
    default: qlm_gpu_dequant_row(w->dtype, d, K, r, out); break;
    }
}

qlm_status qlm_gpu_scratch_new(int64_t n_batch, int64_t widest, int n_threads, qlm_gpu_scratch **out)
{
    qlm_gpu_scratch *s = calloc(1, sizeof *s);
    size_t W = (size_t)widest, B = (size_t)n_batch;
    if (!s)
        return qlm_fail(QLM_E_NOMEM, "out of memory for GPU-path buffers");
    s->n_slots = n_threads;
    s->a16 = malloc(B * W * 2);
    s->a8 = malloc(B * W);
    s->sa = malloc(B * sizeof *s->sa);
    s->slots = calloc((size_t)n_threads, sizeof *s->slots);
    bool ok = s->a16 && s->a8 && s->sa && s->slots;
    for (int i = 0; ok && i < n_threads; i++) {
        slot_buf *b = &s->slots[i];
        b->row.q = malloc(W);
        b->row.sc = malloc(W / 16 + 1);
        b->row.sh = malloc((W / 128 + 1) * 2);
        b->row.sf = malloc((W / 128 + 1) * sizeof(float));
        b->wf = malloc(W * sizeof(float));
        b->wb = malloc(W * 2);
        ok = b->row.q && b->row.sc && b->row.sh && b->row.sf && b->wf && b->wb;
    }
    if (!ok) {
        qlm_gpu_scratch_free(s);
        return qlm_fail(QLM_E_NOMEM, "out of memory for GPU-path buffers");
    }
    *out = s;
    return QLM_OK;
}

void qlm_gpu_scratch_free(qlm_gpu_scratch *s)
{
    if (!s)
        return;
    for (int i = 0; s->slots && i < s->n_slots; i++) {
        slot_buf *b = &s->slots[i];
        free(b->row.q);
        free(b->row.sc);
        free(b->row.sh);
        free(b->row.sf);
        free(b->wf);
        free(b->wb);
    }
    free(s->slots);
    free(s->a16);
    free(s->a8);
    free(s->sa);
    free(s);
}

void qlm_gpu_prepare(qlm_gpu_scratch *s, qlm_path p, const float *x, int64_t nt, int64_t K)
{
    for (int64_t t = 0; t < nt; t++) {
        const float *xr = x + t * K;
        uint16_t *h = s->a16 + t * K;
        switch (p) {
        case QLM_PATH_W4A16:
            for (int64_t k = 0; k < K; k++)
                h[k] = qlm_gpu_f32_to_f16(xr[k]);
            break;
        case QLM_PATH_BF16: case QLM_PATH_NVFP4: case QLM_PATH_MXFP4:
            for (int64_t k = 0; k < K; k++)
                h[k] = qlm_gpu_f32_to_bf16(xr[k]);
            break;
        case QLM_PATH_FP8_W8A8: s->sa[t] = qlm_gpu_fp8_quant_row((int)K, xr, s->a8 + t * K); break;
        default: break;
        }
    }
}

const void *qlm_gpu_operand(const qlm_gpu_scratch *s, qlm_path p, uint32_t *dtype, const float **scales)
{
    *scales = NULL;
    switch (p) {
    case QLM_PATH_W4A16: *dtype = QLM_DT_F16; return s->a16;
    case QLM_PATH_BF16: case QLM_PATH_NVFP4: case QLM_PATH_MXFP4: *dtype = QLM_DT_BF16; return s->a16;
    case QLM_PATH_FP8_W8A8:
        *dtype = QLM_DUMP_E4M3;
        *scales = s->sa;
        return s->a8;
    default: *dtype = QLM_DT_F32; return NULL;
    }
}

/* Row r of w in the form path p reads it, into the slot's buffers. */
static void load_row(slot_buf *b, qlm_path p, const qlm_mat *w, int64_t r)
{
    if (p == QLM_PATH_F32 || p == QLM_PATH_BF16) {
        qlm_mat_row_f32(w, r, b->wf);
        if (p == QLM_PATH_BF16)
            for (int64_t k = 0; k < w->cols; k++)
                b->wb[k] = qlm_gpu_f32_to_bf16(b->wf[k]);
    } else {
        qlm_gpu_unpack_row(w->dtype, w->data, w->cols, r, &b->row);
    }
}

static float dot(const qlm_gpu_scratch *s, const slot_buf *b, qlm_path p, const qlm_mat *w, const float *x, int64_t t)
{
    int K = (int)w->cols;
    const uint16_t *a16 = s->a16 + t * K;
    const qlm_gpu_row *row = &b->row;
    switch (p) {
    case QLM_PATH_F32: return qlm_gpu_dot_f32(K, x + t * K, b->wf);
    case QLM_PATH_BF16: return qlm_gpu_dot_bf16(K, a16, b->wb);
    case QLM_PATH_W4A16: return qlm_gpu_dot_w4a16(K, a16, row->q, row->sh, row->sc);
    case QLM_PATH_NVFP4: return qlm_gpu_dot_nvfp4(K, a16, row->q, row->sc, row->ts);
    case QLM_PATH_MXFP4: return qlm_gpu_dot_mxfp4(K, a16, row->q, row->sc);
    case QLM_PATH_FP8_W8A8: {
        const uint8_t *a8 = s->a8 + t * K;
        if (w->dtype == QLM_DT_FP8_G128)
            return qlm_gpu_dot_fp8_g128(K, a8, s->sa[t], row->q, row->sf);
        return qlm_gpu_dot_fp8(K, a8, s->sa[t], row->q, row->sf[0]);
    }
    default: return 0.0f;
    }
}

void qlm_gpu_mm_rows(qlm_gpu_scratch *s, qlm_path p, const qlm_mat *w, const float *x, int64_t nt,
                     int64_t r0, int64_t r1, float *y, int64_t ldy, int slot)
{
    slot_buf *b = &s->slots[slot];
    for (int64_t r = r0; r < r1; r++) {
        load_row(b, p, w, r);
        for (int64_t t = 0; t < nt; t++)
            y[t * ldy + r] = dot(s, b, p, w, x, t);
    }
}
