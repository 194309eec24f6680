#include "formats/common/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

static void stderr_sink(void *user, qlm_log_level level, const char *msg)
{
    (void)user;
    fprintf(stderr, "qlm: %s: %s\n", qlm_log_level_name(level), msg);
}

/* Messages are delivered under the lock: callbacks never run concurrently
 * (they need no locking of their own), and once qlm_log_set returns the old
 * hook is never called again, so its user data may be freed. Recursive, so
 * a callback may itself call into qlm. Logging is rare (notes, summaries):
 * the lock costs nothing that matters. */
static pthread_mutex_t g_lock;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static qlm_log_fn g_fn = stderr_sink;
static void *g_user;

static void init_lock(void)
{
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&g_lock, &a);
    pthread_mutexattr_destroy(&a);
}

void qlm_log_set(qlm_log_fn fn, void *user)
{
    pthread_once(&g_once, init_lock);
    pthread_mutex_lock(&g_lock);
    g_fn = fn ? fn : stderr_sink;
    g_user = fn ? user : NULL;
    pthread_mutex_unlock(&g_lock);
}

const char *qlm_log_level_name(qlm_log_level level)
{
    switch (level) {
    case QLM_LOG_ERROR: return "error";
    case QLM_LOG_WARN: return "warning";
    case QLM_LOG_INFO: return "note";
    case QLM_LOG_DEBUG: return "debug";
    }
    return "log";
}

void qlm_log(qlm_log_level level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pthread_once(&g_once, init_lock);
    pthread_mutex_lock(&g_lock);
    g_fn(g_user, level, msg);
    pthread_mutex_unlock(&g_lock);
}
