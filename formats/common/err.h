/* Named error codes and the one-line message that goes with them.
 *
 * Contract: every fallible function returns a qlm_status. On failure it has
 * called qlm_fail(), which records a one-line, human-readable message in a
 * thread-local buffer (naming the file, field or value that is wrong). The CLI
 * prints "qlm: <message>" and exits non-zero; nothing ever aborts on bad input.
 */
#ifndef QLM_ERR_H
#define QLM_ERR_H

#include <stdarg.h>

typedef enum {
    QLM_OK = 0,
    QLM_E_IO,          /* open/read/write/mmap/rename failed */
    QLM_E_NOMEM,       /* allocation failed */
    QLM_E_ARG,         /* bad argument, flag or usage */
    QLM_E_MAGIC,       /* not a file of the expected kind */
    QLM_E_VERSION,     /* unsupported format version */
    QLM_E_TRUNCATED,   /* file ends before a structure it declares */
    QLM_E_BOUNDS,      /* offset or size outside the file/buffer */
    QLM_E_OVERLAP,     /* two regions that must be disjoint overlap */
    QLM_E_ALIGN,       /* misaligned offset */
    QLM_E_DUPLICATE,   /* duplicate key or tensor name */
    QLM_E_OVERFLOW,    /* rank too large or a size product overflows */
    QLM_E_SIZE,        /* byte size does not match dtype x dims */
    QLM_E_DTYPE,       /* unknown or unsupported data type */
    QLM_E_UTF8,        /* string is not valid UTF-8 */
    QLM_E_CHECKSUM,    /* checksum mismatch */
    QLM_E_JSON,        /* malformed JSON */
    QLM_E_MISSING,     /* required key, tensor or file absent */
    QLM_E_SHAPE,       /* tensor shape inconsistent with the model */
    QLM_E_ARCH,        /* unknown/unsupported architecture */
    QLM_E_VALUE,       /* value out of range (NaN, zero, inconsistent) */
    QLM_E_LIMIT,       /* exceeds a limit (context, string length, count) */
    QLM_E_UNSUPPORTED, /* valid input using a feature qlm does not support */
    QLM_E_ZSTD,        /* zstd (de)compression failed */
    QLM_E_TOKENIZER,   /* tokenizer data invalid or text not encodable */
    QLM_E_TEMPLATE,    /* chat template error */
    QLM_E_INTERRUPTED, /* cancelled by the user (Ctrl-C) or a callback */
    QLM_E_COUNT
} qlm_status;

/* "QLM_E_MAGIC" etc. */
const char *qlm_status_name(qlm_status s);

/* Record a formatted message for `code` and return `code`. */
qlm_status qlm_fail(qlm_status code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
qlm_status qlm_failv(qlm_status code, const char *fmt, va_list ap);

/* Prefix the current message with "prefix: " (adds context on the way up). */
qlm_status qlm_fail_context(qlm_status code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Last message recorded on this thread ("" if none). */
const char *qlm_errmsg(void);
void qlm_err_clear(void);

#endif
