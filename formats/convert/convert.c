/* qlm_convert(): detect the source kind, run its reader through the emitter,
 * and print the summary. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "formats/common/log.h"
#include "formats/common/mapfile.h"
#include "formats/convert/emitter.h"
#include "formats/qlm/keys.h"

typedef enum { KIND_HF, KIND_GGUF, KIND_LLAMA2C } src_kind;

static const char *const k_kind_names[] = {"hf", "gguf", "llama2c"};

static qlm_status detect(const qlm_convert_opts *o, src_kind *kind)
{
    if (qlm_is_dir(o->src)) {
        char path[4096];
        qlm_status rc = qlm_path_join(path, sizeof path, o->src, "config.json");
        if (rc)
            return rc;
        if (!qlm_is_file(path))
            return qlm_fail(QLM_E_MISSING, "%s: a Hugging Face folder needs config.json", o->src);
        *kind = KIND_HF;
        return QLM_OK;
    }
    FILE *f = fopen(o->src, "rb");
    if (!f)
        return qlm_fail(QLM_E_IO, "cannot open %s", o->src);
    char magic[4] = {0};
    size_t got = fread(magic, 1, 4, f);
    fclose(f);
    if (got == 4 && memcmp(magic, "GGUF", 4) == 0) {
        *kind = KIND_GGUF;
        return QLM_OK;
    }
    if (!o->tokenizer)
        return qlm_fail(QLM_E_ARG, "%s is not a folder or GGUF; as a llama2.c checkpoint it needs --tokenizer",
                        o->src);
    *kind = KIND_LLAMA2C;
    return QLM_OK;
}

static bool storable(qlm_dtype t)
{
    return qlm_dtype_get(t) && t != QLM_DT_I32;
}

static qlm_status check_opts(const qlm_convert_opts *o)
{
    if (!o->src || !o->out)
        return qlm_fail(QLM_E_ARG, "convert needs a source and an output path");
    if (!storable(o->type))
        return qlm_fail(QLM_E_ARG, "target type must be f32, f16, bf16, q8, q4 or a GPU block format");
    for (size_t i = 0; i < o->n_keep; i++)
        if (!storable(o->keep[i].type))
            return qlm_fail(QLM_E_ARG, "--keep %s: type must be f32, f16, bf16, q8, q4 or a GPU block format",
                            o->keep[i].pattern);
    return QLM_OK;
}

static qlm_status run_source(src_kind kind, const qlm_convert_opts *o, qlm_writer *w, qlm_emitter *e)
{
    switch (kind) {
    case KIND_HF: return qlm_src_hf(o, w, e);
    case KIND_GGUF: return qlm_src_gguf(o, w, e);
    case KIND_LLAMA2C: return qlm_src_llama2c(o, w, e);
    }
    return qlm_fail(QLM_E_ARG, "%s: unknown source kind", o->src);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void summary(const qlm_convert_opts *o, const qlm_emit_stats *s, double secs)
{
    struct stat sb;
    double out = stat(o->out, &sb) == 0 ? (double)sb.st_size : 0.0;
    double bpw = s->n_params ? 8.0 * (double)s->bytes_out / (double)s->n_params : 0.0;
    qlm_log(QLM_LOG_INFO, "%s: %zu tensors, %.1f MB in -> %.1f MB out (%.2f bits/weight), %.1f s (%.0f MB/s of input)", o->out,
           s->n_tensors, (double)s->bytes_in / 1e6, out / 1e6, bpw, secs,
           secs > 0 ? (double)s->bytes_in / 1e6 / secs : 0.0);
}

qlm_status qlm_convert(const qlm_convert_opts *o)
{
    src_kind kind;
    qlm_status rc = check_opts(o);
    if (!rc)
        rc = detect(o, &kind);
    if (rc)
        return rc;
    double t0 = now_s();
    qlm_writer *w;
    qlm_emitter *e = NULL;
    if ((rc = qlm_writer_open(o->out, &w)))
        return rc;
    const char *kname = k_kind_names[kind];
    if (!(rc = qlm_writer_set_str(w, QLM_K_SOURCE, kname, strlen(kname))) && !(rc = qlm_emitter_new(w, o, &e)) &&
        !(rc = run_source(kind, o, w, e)))
        rc = qlm_emitter_check_done(e);
    qlm_emit_stats stats = {0};
    if (e)
        qlm_emitter_stats(e, &stats);
    qlm_emitter_free(e);
    if (rc) {
        qlm_writer_abort(w);
        return rc;
    }
    if ((rc = qlm_writer_finish(w)))
        return rc;
    if (!o->quiet)
        summary(o, &stats, now_s() - t0);
    return QLM_OK;
}
