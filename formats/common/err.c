#include "formats/common/err.h"

#include <stdio.h>
#include <string.h>

static _Thread_local char g_msg[1024];

static const char *const k_names[QLM_E_COUNT] = {
    [QLM_OK] = "QLM_OK",
    [QLM_E_IO] = "QLM_E_IO",
    [QLM_E_NOMEM] = "QLM_E_NOMEM",
    [QLM_E_ARG] = "QLM_E_ARG",
    [QLM_E_MAGIC] = "QLM_E_MAGIC",
    [QLM_E_VERSION] = "QLM_E_VERSION",
    [QLM_E_TRUNCATED] = "QLM_E_TRUNCATED",
    [QLM_E_BOUNDS] = "QLM_E_BOUNDS",
    [QLM_E_OVERLAP] = "QLM_E_OVERLAP",
    [QLM_E_ALIGN] = "QLM_E_ALIGN",
    [QLM_E_DUPLICATE] = "QLM_E_DUPLICATE",
    [QLM_E_OVERFLOW] = "QLM_E_OVERFLOW",
    [QLM_E_SIZE] = "QLM_E_SIZE",
    [QLM_E_DTYPE] = "QLM_E_DTYPE",
    [QLM_E_UTF8] = "QLM_E_UTF8",
    [QLM_E_CHECKSUM] = "QLM_E_CHECKSUM",
    [QLM_E_JSON] = "QLM_E_JSON",
    [QLM_E_MISSING] = "QLM_E_MISSING",
    [QLM_E_SHAPE] = "QLM_E_SHAPE",
    [QLM_E_ARCH] = "QLM_E_ARCH",
    [QLM_E_VALUE] = "QLM_E_VALUE",
    [QLM_E_LIMIT] = "QLM_E_LIMIT",
    [QLM_E_UNSUPPORTED] = "QLM_E_UNSUPPORTED",
    [QLM_E_ZSTD] = "QLM_E_ZSTD",
    [QLM_E_TOKENIZER] = "QLM_E_TOKENIZER",
    [QLM_E_TEMPLATE] = "QLM_E_TEMPLATE",
    [QLM_E_INTERRUPTED] = "QLM_E_INTERRUPTED",
};

const char *qlm_status_name(qlm_status s)
{
    if ((unsigned)s >= QLM_E_COUNT || !k_names[s])
        return "QLM_E_UNKNOWN";
    return k_names[s];
}

qlm_status qlm_failv(qlm_status code, const char *fmt, va_list ap)
{
    vsnprintf(g_msg, sizeof g_msg, fmt, ap);
    return code;
}

qlm_status qlm_fail(qlm_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    qlm_failv(code, fmt, ap);
    va_end(ap);
    return code;
}

qlm_status qlm_fail_context(qlm_status code, const char *fmt, ...)
{
    char old[sizeof g_msg];
    memcpy(old, g_msg, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(g_msg, sizeof g_msg, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n + 2 < sizeof g_msg) {
        size_t room = sizeof g_msg - (size_t)n;
        memcpy(g_msg + n, ": ", 2);
        size_t ol = strnlen(old, room - 3);
        memcpy(g_msg + n + 2, old, ol);
        g_msg[(size_t)n + 2 + ol] = 0;
    }
    return code;
}

const char *qlm_errmsg(void) { return g_msg; }

void qlm_err_clear(void) { g_msg[0] = 0; }
