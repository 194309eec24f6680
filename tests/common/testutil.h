/* Helpers for the cmocka suites. Reference data comes from $QLM_SHARED
 * (default: ../shared beside the checkout); a missing file fails the test
 * loudly, it is never skipped. */
#ifndef QLM_TESTUTIL_H
#define QLM_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the three headers above first */
#include <cmocka.h>

#include "formats/common/err.h"

/* Absolute path of a file under QLM_SHARED; fails the test if it does not exist.
 * Returns a pointer to a static rotating buffer (valid for 8 calls). */
const char *tu_shared(const char *rel);
/* Absolute path of a file in the source tree (for tests that check committed
 * files: docs, seed corpora); fails the test if it does not exist. Static
 * rotating buffer, as tu_shared. */
const char *tu_source(const char *rel);
/* A fresh scratch directory under the build tree for this test binary. */
const char *tu_tmpdir(void);
/* Path inside tu_tmpdir() (static rotating buffer). */
const char *tu_tmp(const char *name);
/* The source tree (for scripts such as models/get.sh). */
const char *tu_source_dir(void);
/* Path of the built qlm binary (QLM_BIN). */
const char *tu_qlm_bin(void);
/* Read a whole file (fails the test on error); caller frees. */
char *tu_read(const char *path, size_t *len);
/* Write text to path, replacing the file (fails the test on error). */
void tu_write(const char *path, const char *text);
/* Run a shell command, capture stdout+stderr into a malloc'd string; returns exit code. */
int tu_run(const char *cmd, char **output);
/* tu_run of the qlm binary with printf-formatted arguments (shell words). */
int tu_qlm(char **output, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* assert_int_equal for qlm_status with the error message on failure. */
#define assert_ok(expr)                                                                        \
    do {                                                                                       \
        qlm_status st_ = (expr);                                                               \
        if (st_ != QLM_OK)                                                                     \
            fail_msg("%s -> %s: %s", #expr, qlm_status_name(st_), qlm_errmsg());               \
    } while (0)

#define assert_status(expr, code)                                                              \
    do {                                                                                       \
        qlm_status st_ = (expr);                                                               \
        if (st_ != (code))                                                                     \
            fail_msg("%s -> %s (want %s): %s", #expr, qlm_status_name(st_),                    \
                     qlm_status_name(code), qlm_errmsg());                                     \
    } while (0)

#endif
