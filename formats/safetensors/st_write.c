/* Streaming safetensors writer: the header is written when the first data
 * arrives (all tensors are declared by then), data is appended in order.
 * The file is a qlm_outfile, like convert's .qlm: written as "<path>.tmp",
 * fsynced and renamed into place at the end, and the temp file removed on
 * failure or on SIGINT/SIGTERM/SIGHUP (qlm_outfile_catch_signals), so
 * nobody ever finds a half-written model.safetensors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/common/json.h"
#include "formats/qlm/outfile.h"
#include "formats/safetensors/safetensors.h"

typedef struct {
    char *name;
    qlm_st_dtype dtype;
    uint32_t rank;
    uint64_t dims[QLM_ST_MAX_RANK];
    uint64_t nbytes;
} entry;

struct qlm_st_writer {
    qlm_outfile out;
    int open;            /* out holds a temp file */
    entry *e;
    size_t n, cap;
    int header_done;
    uint64_t total, written;
    uint64_t pos;        /* where the next bytes go */
};

qlm_status qlm_st_writer_open(const char *path, qlm_st_writer **out)
{
    qlm_st_writer *w = calloc(1, sizeof *w);
    if (!w)
        return qlm_fail(QLM_E_NOMEM, "out of memory");
    qlm_status rc = qlm_outfile_open(&w->out, path, "");
    if (rc) {
        free(w);
        return rc;
    }
    w->open = 1;
    *out = w;
    return QLM_OK;
}

qlm_status qlm_st_writer_add(qlm_st_writer *w, const char *name, qlm_st_dtype dtype, uint32_t rank,
                             const uint64_t *dims)
{
    if (w->header_done)
        return qlm_fail(QLM_E_ARG, "safetensors writer: '%s' declared after data was written", name);
    if (rank > QLM_ST_MAX_RANK)
        return qlm_fail(QLM_E_OVERFLOW, "safetensors writer: '%s' has rank %u", name, rank);
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 64;
        entry *e = realloc(w->e, cap * sizeof *e);
        if (!e)
            return qlm_fail(QLM_E_NOMEM, "out of memory");
        w->e = e;
        w->cap = cap;
    }
    entry *e = &w->e[w->n];
    memset(e, 0, sizeof *e);
    e->dtype = dtype;
    e->rank = rank;
    e->nbytes = qlm_st_dtype_size(dtype);
    for (uint32_t i = 0; i < rank; i++) {
        e->dims[i] = dims[i];
        if (__builtin_mul_overflow(e->nbytes, dims[i], &e->nbytes))
            return qlm_fail(QLM_E_OVERFLOW, "safetensors writer: '%s' is too large", name);
    }
    if (!(e->name = strdup(name)))
        return qlm_fail(QLM_E_NOMEM, "out of memory");
    w->n++;
    return QLM_OK;
}

static void write_entry(FILE *m, const entry *e, uint64_t begin)
{
    json_write_string(m, e->name, strlen(e->name));
    fprintf(m, ":{\"dtype\":\"%s\",\"shape\":[", qlm_st_dtype_name(e->dtype));
    for (uint32_t i = 0; i < e->rank; i++)
        fprintf(m, "%s%llu", i ? "," : "", (unsigned long long)e->dims[i]);
    fprintf(m, "],\"data_offsets\":[%llu,%llu]},", (unsigned long long)begin,
            (unsigned long long)(begin + e->nbytes));
}

static qlm_status write_header(qlm_st_writer *w)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m)
        return qlm_fail(QLM_E_NOMEM, "out of memory for the safetensors header");
    fputc('{', m);
    for (size_t i = 0; i < w->n; i++) {
        write_entry(m, &w->e[i], w->total);
        w->total += w->e[i].nbytes;
    }
    fputs("\"__metadata__\":{\"format\":\"pt\"}}", m);
    while ((8 + ftell(m)) % 8) /* keep the data section 8-byte aligned */
        fputc(' ', m);
    fclose(m);
    unsigned char le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (unsigned char)((uint64_t)len >> (8 * i));
    qlm_status rc = qlm_outfile_pwrite(&w->out, le, 8, 0);
    if (!rc)
        rc = qlm_outfile_pwrite(&w->out, buf, len, 8);
    free(buf);
    w->header_done = 1;
    w->pos = 8 + (uint64_t)len;
    return rc;
}

qlm_status qlm_st_writer_data(qlm_st_writer *w, const void *data, size_t nbytes)
{
    qlm_status rc;
    if (!w->header_done && (rc = write_header(w)))
        return rc;
    if (nbytes > w->total - w->written)
        return qlm_fail(QLM_E_SIZE, "safetensors writer: more data than the declared tensors hold");
    if ((rc = qlm_outfile_pwrite(&w->out, data, nbytes, w->pos)))
        return rc;
    w->pos += nbytes;
    w->written += nbytes;
    return QLM_OK;
}

static void free_writer(qlm_st_writer *w)
{
    for (size_t i = 0; i < w->n; i++)
        free(w->e[i].name);
    free(w->e);
    free(w);
}

qlm_status qlm_st_writer_finish(qlm_st_writer *w)
{
    qlm_status rc = w->header_done ? QLM_OK : write_header(w);
    if (!rc && w->written != w->total)
        rc = qlm_fail(QLM_E_SIZE, "safetensors writer: %llu of %llu data bytes written",
                      (unsigned long long)w->written, (unsigned long long)w->total);
    if (rc) {
        qlm_st_writer_abort(w);
        return rc;
    }
    rc = qlm_outfile_commit(&w->out, w->pos);
    w->open = 0;
    free_writer(w);
    return rc;
}

void qlm_st_writer_abort(qlm_st_writer *w)
{
    if (!w)
        return;
    if (w->open)
        qlm_outfile_abort(&w->out);
    free_writer(w);
}
