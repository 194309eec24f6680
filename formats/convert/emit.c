/* The emitter: one place that decides every stored dtype (rules in convert.h)
 * and converts rows in parallel (OpenMP over rows; each row's result does not
 * depend on the thread count). */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/common/log.h"
#include "formats/convert/emit_rows.h"
#include "formats/convert/emitter.h"
#include "formats/gpu/gpublock.h"

#define SERIAL_ELEMS (1u << 18)     /* below this, convert on the calling thread */
#define ROWS_CHUNK_ELEMS (1u << 16) /* elements per dynamically scheduled chunk */

typedef struct {
    char *name;
    uint32_t rank;
    uint64_t dims[QLM_MAX_RANK];
    uint64_t n_elems;
    qlm_src_type src;
    qlm_dtype dtype;
    size_t idx;       /* writer index */
    uint64_t src_bytes, out_bytes;
} entry;

struct qlm_emitter {
    qlm_writer *w;
    const qlm_convert_opts *o;
    entry *e;
    size_t n, cap;
    size_t next;      /* index of the next tensor expecting data */
    uint64_t src_total, src_done;
    qlm_emit_stats stats;
};

bool qlm_glob_match(const char *pat, const char *s)
{
    const char *star = NULL, *resume = NULL;
    while (*s) {
        if (*pat == '*') {
            star = pat++;
            resume = s;
        } else if (*pat == '?' || *pat == *s) {
            pat++;
            s++;
        } else if (star) { /* let the last '*' swallow one more byte */
            pat = star + 1;
            s = ++resume;
        } else {
            return false;
        }
    }
    while (*pat == '*')
        pat++;
    return *pat == 0;
}

/* Elements per block of a dtype: rows must be a multiple of it. */
static uint32_t block_of(qlm_dtype t) { return qlm_dtype_get(t)->block_elems; }

/* In a q4 file the embedding and output matrices default to q8 (README
 * "Converting models": they are one matrix in tied models, and llama.cpp keeps
 * its output matrix above 4 bits for the same reason). A source that is
 * already Q4_0 stays Q4 so GGUF imports remain lossless. */
static bool wants_q8_in_q4(const char *name, qlm_src_type src)
{
    return src != SRC_Q4_0 && (strcmp(name, "token_embd.weight") == 0 || strcmp(name, "output.weight") == 0);
}

qlm_dtype qlm_emit_choose(const qlm_convert_opts *o, const char *name, uint32_t rank, const uint64_t *dims,
                          qlm_src_type src, bool *note)
{
    const qlm_keep_rule *rule = NULL;
    for (size_t i = 0; i < o->n_keep && !rule; i++)
        if (qlm_glob_match(o->keep[i].pattern, name))
            rule = &o->keep[i];
    qlm_dtype t = o->type;
    *note = false;
    if (src == SRC_I32)
        return QLM_DT_I32; /* indices are not weights: no rule applies */
    if (rule)
        t = rule->type;
    else if (src == SRC_W4A16)
        t = QLM_DT_W4A16;
    else if (rank == 1)
        t = QLM_DT_F32;
    else if (t == QLM_DT_Q4 && wants_q8_in_q4(name, src))
        t = QLM_DT_Q8;
    *note = false;
    if (dims[rank - 1] % block_of(t) != 0) {
        t = src == SRC_F32 ? QLM_DT_F32 : QLM_DT_F16;
        *note = true;
    }
    return t;
}

qlm_status qlm_emitter_new(qlm_writer *w, const qlm_convert_opts *o, qlm_emitter **out)
{
    qlm_emitter *e = calloc(1, sizeof *e);
    if (!e)
        return qlm_fail(QLM_E_NOMEM, "out of memory");
    e->w = w;
    e->o = o;
    *out = e;
    return QLM_OK;
}

void qlm_emitter_free(qlm_emitter *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->n; i++)
        free(e->e[i].name);
    free(e->e);
    free(e);
}

static qlm_status check_shape(const char *name, uint32_t rank, const uint64_t *dims, qlm_src_type src,
                              uint64_t *n_elems)
{
    if (rank < 1 || rank > QLM_MAX_RANK)
        return qlm_fail(QLM_E_SHAPE, "tensor '%s': rank %u (1..%d supported)", name, rank, QLM_MAX_RANK);
    uint64_t n = 1;
    for (uint32_t i = 0; i < rank; i++) {
        if (dims[i] == 0)
            return qlm_fail(QLM_E_SHAPE, "tensor '%s': dimension %u is 0", name, i);
        if (__builtin_mul_overflow(n, dims[i], &n) || n > (UINT64_MAX >> 3))
            return qlm_fail(QLM_E_OVERFLOW, "tensor '%s': element count overflows", name);
    }
    uint64_t blk = src == SRC_W4A16 ? QLM_W4_G : QLM_BLOCK;
    if ((src == SRC_Q8_0 || src == SRC_Q4_0 || src == SRC_W4A16) && dims[rank - 1] % blk)
        return qlm_fail(QLM_E_SHAPE, "tensor '%s': quantized source with innermost dim %llu (not a multiple of %llu)",
                        name, (unsigned long long)dims[rank - 1], (unsigned long long)blk);
    *n_elems = n;
    return QLM_OK;
}

static qlm_status push_entry(qlm_emitter *e, const entry *en)
{
    if (e->n == e->cap) {
        size_t cap = e->cap ? 2 * e->cap : 64;
        entry *ne = realloc(e->e, cap * sizeof *ne);
        if (!ne)
            return qlm_fail(QLM_E_NOMEM, "out of memory");
        e->e = ne;
        e->cap = cap;
    }
    e->e[e->n++] = *en;
    return QLM_OK;
}

qlm_status qlm_emit_declare(qlm_emitter *e, const char *name, uint32_t rank, const uint64_t *dims,
                            qlm_src_type src_type, qlm_dtype *chosen)
{
    if (e->next > 0)
        return qlm_fail(QLM_E_ARG, "tensor '%s' declared after data was emitted", name);
    entry en = {.rank = rank, .src = src_type};
    bool note;
    qlm_status rc = check_shape(name, rank, dims, src_type, &en.n_elems);
    if (rc)
        return rc;
    memcpy(en.dims, dims, rank * sizeof *dims);
    en.dtype = qlm_emit_choose(e->o, name, rank, dims, src_type, &note);
    if (note && !e->o->quiet)
        qlm_log(QLM_LOG_INFO, "%s: innermost dim %llu is not a multiple of the requested type's block, stored as %s",
                name, (unsigned long long)dims[rank - 1], qlm_dtype_get(en.dtype)->name);
    en.src_bytes = qlm_src_row_bytes(src_type, en.n_elems);
    if ((rc = qlm_tensor_nbytes(en.dtype, rank, dims, &en.out_bytes)) ||
        (rc = qlm_writer_add_tensor(e->w, name, en.dtype, rank, dims, &en.idx)))
        return qlm_fail_context(rc, "tensor '%s'", name);
    if (!(en.name = strdup(name)))
        return qlm_fail(QLM_E_NOMEM, "out of memory");
    if ((rc = push_entry(e, &en))) {
        free(en.name);
        return rc;
    }
    e->src_total += en.src_bytes;
    if (chosen)
        *chosen = en.dtype;
    return QLM_OK;
}

/* Convert all rows of `en` from src to out. Rows are independent; the first
 * failing row (lowest index) is converted again on this thread so that its
 * message (thread-local) is the one reported. */
/* The tensor-wide amax of a source tensor (finite elements only: the row
 * quantizer reports NaN/Inf), for the NVFP4 tensor scale. */
static float tensor_amax(const entry *en, const void *src, size_t rows, size_t inner, float *tmp)
{
    size_t in_row = qlm_src_row_bytes(en->src, inner);
    float amax = 0.0f;
    for (size_t r = 0; r < rows; r++) {
        qlm_src_to_f32(en->src, (const char *)src + r * in_row, tmp, inner);
        for (size_t i = 0; i < inner; i++)
            if (isfinite(tmp[i]))
                amax = fmaxf(amax, fabsf(tmp[i]));
    }
    return amax;
}

/* The tensor header of dtypes that have one (NVFP4: the f32 tensor scale). */
static qlm_status tensor_header(const entry *en, const void *src, size_t rows, size_t inner, void *out, float *ts)
{
    *ts = 0.0f;
    if (qlm_dtype_get(en->dtype)->tensor_extra == 0)
        return QLM_OK;
    float *tmp = malloc(inner * sizeof *tmp);
    if (!tmp)
        return qlm_fail(QLM_E_NOMEM, "tensor '%s': out of memory", en->name);
    *ts = qlm_gpu_tensor_scale(en->dtype, tensor_amax(en, src, rows, inner, tmp));
    free(tmp);
    memcpy(out, ts, sizeof *ts);
    return QLM_OK;
}

static qlm_status convert_rows(const qlm_emitter *e, const entry *en, const void *src, void *out)
{
    size_t inner = (size_t)en->dims[en->rank - 1];
    size_t rows = (size_t)(en->n_elems / inner);
    size_t hdr = qlm_dtype_get(en->dtype)->tensor_extra;
    size_t in_row = qlm_src_row_bytes(en->src, inner), out_row = (size_t)((en->out_bytes - hdr) / rows);
    float ts;
    qlm_status rc = tensor_header(en, src, rows, inner, out, &ts);
    if (rc)
        return rc;
    out = (char *)out + hdr;
    int threads = e->o->threads > 0 ? e->o->threads : omp_get_max_threads();
    /* Each parallel region costs a wake-up and a barrier at which idle threads
     * spin; small tensors (norms, biases, K/V of small models) are cheaper on
     * one thread. Chunks of rows are handed out dynamically so a thread that
     * the OS delays does not hold the others at the barrier. */
    if (en->n_elems < SERIAL_ELEMS)
        threads = 1;
    size_t chunk = 1 + (ROWS_CHUNK_ELEMS - 1) / inner;
    size_t bad = SIZE_MAX;
    int nomem = 0;
#pragma omp parallel num_threads(threads)
    {
        float *tmp = malloc(inner * sizeof *tmp);
        if (!tmp) {
#pragma omp atomic write
            nomem = 1;
        }
#pragma omp for schedule(dynamic, chunk)
        for (size_t r = 0; r < rows; r++) {
            if (!tmp)
                continue;
            qlm_src_to_f32(en->src, (const char *)src + r * in_row, tmp, inner);
            if (qlm_f32_to_target(en->dtype, e->o->q4_method, tmp, (char *)out + r * out_row, inner, ts) != QLM_OK) {
#pragma omp critical(qlm_emit_bad)
                bad = r < bad ? r : bad;
            }
        }
        free(tmp);
    }
    if (nomem)
        return qlm_fail(QLM_E_NOMEM, "tensor '%s': out of memory for a row buffer", en->name);
    if (bad == SIZE_MAX)
        return QLM_OK;
    float *tmp = malloc(inner * sizeof *tmp);
    if (!tmp)
        return qlm_fail(QLM_E_NOMEM, "tensor '%s': out of memory", en->name);
    qlm_src_to_f32(en->src, (const char *)src + bad * in_row, tmp, inner);
    rc = qlm_f32_to_target(en->dtype, e->o->q4_method, tmp, (char *)out + bad * out_row, inner, ts);
    free(tmp);
    return qlm_fail_context(rc, "tensor '%s' row %zu", en->name, bad);
}

static void progress(const qlm_emitter *e, const entry *en)
{
    if (!e->o->progress)
        return;
    e->o->progress(e->o->progress_user, e->src_done, e->src_total, e->next, e->n, en->name);
}

/* The ready-made blocks for a Q4 tensor, if the options carry them. */
static const qlm_prequant *find_pre(const qlm_convert_opts *o, const entry *en)
{
    if (en->dtype != QLM_DT_Q4)
        return NULL;
    for (size_t i = 0; i < o->n_pre; i++)
        if (strcmp(o->pre[i].name, en->name) == 0)
            return &o->pre[i];
    return NULL;
}

qlm_status qlm_emit_data(qlm_emitter *e, const char *name, const void *src_data, size_t src_nbytes)
{
    if (e->next >= e->n || strcmp(e->e[e->next].name, name) != 0)
        return qlm_fail(QLM_E_ARG, "tensor '%s' emitted out of order (expected '%s')", name,
                        e->next < e->n ? e->e[e->next].name : "none");
    const entry *en = &e->e[e->next];
    if (src_nbytes != en->src_bytes)
        return qlm_fail(QLM_E_SIZE, "tensor '%s': %zu source bytes, expected %llu", name, src_nbytes,
                        (unsigned long long)en->src_bytes);
    qlm_status rc;
    const qlm_prequant *pre = find_pre(e->o, en);
    if (pre && pre->nbytes != en->out_bytes) {
        return qlm_fail(QLM_E_SIZE, "tensor '%s': %zu calibrated bytes, expected %llu", name, pre->nbytes,
                        (unsigned long long)en->out_bytes);
    } else if (pre) {
        rc = qlm_writer_write_tensor(e->w, en->idx, pre->data, pre->nbytes);
    } else if (qlm_emit_is_copy(en->src, en->dtype)) {
        rc = qlm_writer_write_tensor(e->w, en->idx, src_data, src_nbytes);
    } else {
        void *out = malloc(en->out_bytes ? (size_t)en->out_bytes : 1);
        if (!out)
            return qlm_fail(QLM_E_NOMEM, "tensor '%s': out of memory (%llu bytes)", name,
                            (unsigned long long)en->out_bytes);
        rc = convert_rows(e, en, src_data, out);
        if (!rc)
            rc = qlm_writer_write_tensor(e->w, en->idx, out, (size_t)en->out_bytes);
        free(out);
    }
    if (rc)
        return rc;
    e->next++;
    e->src_done += en->src_bytes;
    e->stats.n_tensors++;
    e->stats.n_params += en->n_elems;
    e->stats.bytes_in += en->src_bytes;
    e->stats.bytes_out += en->out_bytes;
    progress(e, en);
    return QLM_OK;
}

qlm_status qlm_emitter_check_done(const qlm_emitter *e)
{
    if (e->next < e->n)
        return qlm_fail(QLM_E_MISSING, "tensor '%s' was declared but never written", e->e[e->next].name);
    return QLM_OK;
}

void qlm_emitter_stats(const qlm_emitter *e, qlm_emit_stats *s) { *s = e->stats; }
