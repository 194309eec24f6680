#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "formats/common/mem.h"
#include "formats/common/num.h"

/* $QLM_MEM_LIMIT in bytes: 0 when unset, -1 when it does not parse. */
static int64_t env_limit(void)
{
    const char *e = getenv("QLM_MEM_LIMIT");
    if (!e || !*e)
        return 0;
    char num[32];
    size_t n = 0;
    while (e[n] && n < sizeof num - 1 && e[n] >= '0' && e[n] <= '9') {
        num[n] = e[n];
        n++;
    }
    num[n] = 0;
    int shift = 0;
    switch (e[n]) {
    case 0: break;
    case 'K': case 'k': shift = 10; break;
    case 'M': case 'm': shift = 20; break;
    case 'G': case 'g': shift = 30; break;
    case 'T': case 't': shift = 40; break;
    default: return -1;
    }
    int64_t v;
    if ((e[n] && e[n + 1]) || !qlm_parse_i64(num, 1, INT64_MAX >> shift, &v))
        return -1;
    return v << shift;
}

static uint64_t meminfo_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f)
        return 0;
    char line[256];
    uint64_t kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %" SCNu64 " kB", &kb) == 1)
            break;
    fclose(f);
    return kb > UINT64_MAX / 1024 ? UINT64_MAX : kb * 1024;
}

uint64_t qlm_mem_available(void)
{
    int64_t lim = env_limit();
    return lim < 0 ? UINT64_MAX : lim > 0 ? (uint64_t)lim : meminfo_available();
}

qlm_status qlm_mem_budget(uint64_t *out)
{
    if (env_limit() < 0)
        return qlm_fail(QLM_E_ARG, "QLM_MEM_LIMIT='%.40s' is not a size (bytes, or a number with K, M, G or T)",
                        getenv("QLM_MEM_LIMIT"));
    uint64_t avail = qlm_mem_available();
    *out = avail ? avail / 2 : UINT64_MAX;
    return QLM_OK;
}

/* "12.3 KiB" / "MiB" / "GiB": the sizes in a message stay readable from a
 * test's kilobytes to a model's gigabytes. */
static const char *fmt_size(char buf[32], uint64_t b)
{
    static const char *const unit[] = {"KiB", "MiB", "GiB", "TiB"};
    double v = (double)b / 1024;
    int u = 0;
    while (v >= 1024 && u < 3) {
        v /= 1024;
        u++;
    }
    snprintf(buf, 32, "%.1f %s", v, unit[u]);
    return buf;
}

qlm_status qlm_mem_check(uint64_t need, const char *what)
{
    uint64_t budget;
    qlm_status st = qlm_mem_budget(&budget);
    if (st || need <= budget)
        return st;
    char a[32], b[32], c[32];
    return qlm_fail(QLM_E_NOMEM,
                    "%s needs %s, only %s of memory may be used for it (half of the %s available; "
                    "QLM_MEM_LIMIT sets that)",
                    what, fmt_size(a, need), fmt_size(b, budget), fmt_size(c, qlm_mem_available()));
}
