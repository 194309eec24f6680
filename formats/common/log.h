/* Diagnostics that are not errors (notes, warnings, summaries) go through one
 * hook instead of straight to stderr, so a program embedding qlm decides
 * where they end up (include/qlm.h: qlm_set_log_callback).
 *
 * Contract: messages are one line, without a trailing newline and without a
 * "qlm:" prefix. The default sink writes "qlm: <level>: <message>\n" to
 * stderr. The hook (function + user pointer, replaced together) is the only
 * global mutable state besides the kernel choice; it may be set at any time
 * from any thread. The function is called from whichever thread logs, but
 * never by two threads at once, and never again once qlm_log_set returns.
 */
#ifndef QLM_LOG_H
#define QLM_LOG_H

typedef enum { QLM_LOG_ERROR, QLM_LOG_WARN, QLM_LOG_INFO, QLM_LOG_DEBUG } qlm_log_level;

typedef void (*qlm_log_fn)(void *user, qlm_log_level level, const char *msg);

/* fn NULL restores the default stderr sink. */
void qlm_log_set(qlm_log_fn fn, void *user);
/* Format and hand one message to the hook (longer ones are cut at 1 KiB). */
void qlm_log(qlm_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "error", "warning", "note", "debug". */
const char *qlm_log_level_name(qlm_log_level level);

#endif
