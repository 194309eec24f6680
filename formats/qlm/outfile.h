/* Crash-safe output files: data goes to "<path>.tmp<suffix>", and commit()
 * truncates to the final size, fsyncs, renames into place and fsyncs the
 * directory; abort() removes the temp file. Used by the .qlm writer and the
 * zstd (de)compressor so no reader ever sees a half-written file. */
#ifndef QLM_OUTFILE_H
#define QLM_OUTFILE_H

#include <stddef.h>
#include <stdint.h>

#include "formats/common/err.h"

typedef struct {
    int fd;
    char *path, *tmp;
} qlm_outfile;

/* `suffix` is appended after ".tmp" (e.g. a pid so concurrent writers of the
 * same cache entry do not share a temp file); may be "". */
qlm_status qlm_outfile_open(qlm_outfile *o, const char *path, const char *suffix);
qlm_status qlm_outfile_pwrite(qlm_outfile *o, const void *data, size_t n, uint64_t off);
/* Always releases o; on failure the temp file is removed. */
qlm_status qlm_outfile_commit(qlm_outfile *o, uint64_t size);
void qlm_outfile_abort(qlm_outfile *o);

/* Temp files of open outfiles are registered (up to QLM_OUTFILE_MAX_TRACKED
 * at once). This installs handlers for SIGINT, SIGTERM and SIGHUP that
 * unlink every registered temp file and then die of the same signal, so an
 * interrupted `qlm convert` leaves neither its output (never renamed into
 * place) nor its temp file. The CLI installs it at start. QLM_E_IO if
 * sigaction fails. */
#define QLM_OUTFILE_MAX_TRACKED 8
qlm_status qlm_outfile_catch_signals(void);

#endif
