/* Emitter life cycle and statistics, used by qlm_convert() (convert.c) and the
 * tests; the source readers only see qlm_emit_declare/qlm_emit_data
 * (convert.h). */
#ifndef QLM_EMITTER_H
#define QLM_EMITTER_H

#include <stdbool.h>

#include "formats/convert/convert.h"

typedef struct {
    size_t n_tensors;
    uint64_t n_params;  /* elements of every tensor */
    uint64_t bytes_in;  /* source bytes handed to qlm_emit_data */
    uint64_t bytes_out; /* tensor bytes written */
} qlm_emit_stats;

/* `o` (type, keep rules, threads, progress, quiet) must outlive the emitter. */
qlm_status qlm_emitter_new(qlm_writer *w, const qlm_convert_opts *o, qlm_emitter **out);
void qlm_emitter_free(qlm_emitter *e);
/* QLM_E_MISSING if a declared tensor never got its data. */
qlm_status qlm_emitter_check_done(const qlm_emitter *e);
void qlm_emitter_stats(const qlm_emitter *e, qlm_emit_stats *s);

/* The stored dtype the rules of convert.h give a tensor (also used by tests);
 * *note is set when a quantized type had to fall back to f16/f32. */
qlm_dtype qlm_emit_choose(const qlm_convert_opts *o, const char *name, uint32_t rank, const uint64_t *dims,
                          qlm_src_type src, bool *note);

/* Shell-style glob: '*' any run, '?' one byte, everything else literal. */
bool qlm_glob_match(const char *pat, const char *s);

#endif
