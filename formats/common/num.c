#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "formats/common/num.h"

bool qlm_parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    if (!s || !*s)
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

bool qlm_parse_f64(const char *s, double lo, double hi, double *out)
{
    if (!s || !*s)
        return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    /* ERANGE also flags underflow to a denormal/zero: "1e-400" is a typo, not 0. */
    if (errno || *end || isnan(v) || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}
