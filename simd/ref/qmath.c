#include "simd/ref/qmath.h"

/* Reduce x to r in [-pi/4, pi/4] with x = q*(pi/2) + r. */
static double reduce_half_pi(double x, int *q)
{
    const double inv = 0.63661977236758138243;       /* 2/pi */
    const double p1 = 1.5707963267341256457;         /* pi/2 split in 3 parts, */
    const double p2 = 6.0771005065061922e-11;        /* each exactly representable */
    const double p3 = 2.0222662487959506e-21;
    double k = nearbyint(x * inv);
    double r = x - k * p1;
    r = r - k * p2;
    r = r - k * p3;
    *q = (int)((long long)k & 3);
    return r;
}

static double sin_kernel(double r)
{
    double r2 = r * r;
    /* Taylor to r^17: |r| <= pi/4 gives error below 1e-17 */
    double p = -1.0 / 355687428096000.0;
    p = p * r2 + 1.0 / 1307674368000.0;
    p = p * r2 - 1.0 / 6227020800.0;
    p = p * r2 + 1.0 / 39916800.0;
    p = p * r2 - 1.0 / 362880.0;
    p = p * r2 + 1.0 / 5040.0;
    p = p * r2 - 1.0 / 120.0;
    p = p * r2 + 1.0 / 6.0;
    return r - r * r2 * p;
}

static double cos_kernel(double r)
{
    double r2 = r * r;
    double p = 1.0 / 6402373705728000.0;
    p = p * r2 - 1.0 / 20922789888000.0;
    p = p * r2 + 1.0 / 87178291200.0;
    p = p * r2 - 1.0 / 479001600.0;
    p = p * r2 + 1.0 / 3628800.0;
    p = p * r2 - 1.0 / 40320.0;
    p = p * r2 + 1.0 / 720.0;
    p = p * r2 - 1.0 / 24.0;
    p = p * r2 + 0.5;
    return 1.0 - r2 * p;
}

void qlm_sincos_d(double x, double *s, double *c)
{
    int q;
    double r = reduce_half_pi(x, &q);
    double sr = sin_kernel(r), cr = cos_kernel(r);
    switch (q) {
    case 0: *s = sr; *c = cr; break;
    case 1: *s = cr; *c = -sr; break;
    case 2: *s = -sr; *c = -cr; break;
    default: *s = -cr; *c = sr; break;
    }
}

double qlm_exp_d(double x)
{
    if (x != x) return x;
    if (x > 709.0) return INFINITY;
    if (x < -745.0) return 0.0;
    const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
    double k = nearbyint(x * 1.44269504088896338700);
    double r = (x - k * ln2_hi) - k * ln2_lo;
    /* Taylor to r^13 on |r| <= 0.347: error < 1e-17 relative */
    double p = 1.0 / 6227020800.0;
    static const double inv_fact[] = {1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0, 1.0 / 362880.0,
                                      1.0 / 40320.0, 1.0 / 5040.0, 1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0,
                                      1.0 / 6.0, 0.5, 1.0, 1.0};
    for (unsigned i = 0; i < sizeof inv_fact / sizeof inv_fact[0]; i++)
        p = p * r + inv_fact[i];
    int ki = (int)k;
    int k1 = ki / 2, k2 = ki - k1;
    return ldexp(ldexp(p, k1), k2);
}

double qlm_log_d(double x)
{
    if (x != x || x < 0) return NAN;
    if (x == 0) return -INFINITY;
    if (x == INFINITY) return x;
    int e;
    double m = frexp(x, &e); /* x = m * 2^e, m in [0.5, 1) */
    if (m < 0.70710678118654752440) {
        m *= 2.0;
        e -= 1;
    }
    /* log(m) = 2 atanh(t), t = (m-1)/(m+1), |t| <= 0.1716 */
    double t = (m - 1.0) / (m + 1.0);
    double t2 = t * t;
    double p = 0.0;
    for (int k = 41; k >= 3; k -= 2)
        p = (p + 1.0 / k) * t2;
    double lm = 2.0 * t * (1.0 + p);
    const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
    return (e * ln2_hi + lm) + e * ln2_lo;
}
