#include "tests/common/gpu_values.h"

#include <math.h>
#include <string.h>

#include "formats/common/half.h"

double gv_e4m3(int c)
{
    int e = c >> 3, m = c & 7;
    return e == 0 ? ldexp(m / 8.0, -6) : ldexp(1.0 + m / 8.0, e - 7);
}

double gv_e2m1(int c)
{
    static const double v[8] = {0, 0.5, 1, 1.5, 2, 3, 4, 6};
    return v[c & 7];
}

double gv_e4m3_signed(int c) { return c & 0x80 ? -gv_e4m3(c & 0x7F) : gv_e4m3(c); }
double gv_e2m1_signed(int c) { return c & 8 ? -gv_e2m1(c & 7) : gv_e2m1(c); }

int gv_nearest(double (*mag)(int), int max_code, double v)
{
    double a = fabs(v);
    int best = 0;
    for (int c = 1; c <= max_code; c++) {
        double d = fabs(mag(c) - a), db = fabs(mag(best) - a);
        if (d < db || (d == db && (c & 1) == 0))
            best = c;
    }
    return best;
}

static const uint8_t *row_of(const qlm_tensor *t, int64_t r)
{
    uint64_t cols = t->dims[1];
    const uint8_t *d = t->data;
    switch (t->dtype) {
    case QLM_DT_FP8: return d + (uint64_t)r * (4 + cols);
    case QLM_DT_FP8_G128: return d + (uint64_t)r * (cols / 128) * 132;
    case QLM_DT_NVFP4: return d + 4 + (uint64_t)r * (cols / 16) * 9;
    case QLM_DT_MXFP4: return d + (uint64_t)r * (cols / 32) * 17;
    default: return d + (uint64_t)r * (cols / 128) * 68;
    }
}

static int nibble(const uint8_t *qs, int64_t i) { return (qs[i / 2] >> (4 * (i & 1))) & 15; }

static float rd_f32(const uint8_t *p)
{
    float f;
    memcpy(&f, p, 4);
    return f;
}

double gv_weight(const qlm_tensor *t, int64_t r, int64_t k)
{
    const uint8_t *p = row_of(t, r);
    switch (t->dtype) {
    case QLM_DT_FP8: return gv_e4m3_signed(p[4 + k]);
    case QLM_DT_FP8_G128: return gv_e4m3_signed(p[(k / 128) * 132 + 4 + k % 128]);
    case QLM_DT_NVFP4: {
        const uint8_t *b = p + (k / 16) * 9;
        return gv_e2m1_signed(nibble(b + 1, k % 16)) * gv_e4m3(b[0] & 0x7F);
    }
    case QLM_DT_MXFP4: {
        const uint8_t *b = p + (k / 32) * 17;
        return gv_e2m1_signed(nibble(b + 1, k % 32)) * ldexp(1.0, b[0] - 127);
    }
    default: {
        const uint8_t *b = p + (k / 128) * 68;
        double s = qlm_f16_to_f32((uint16_t)(b[0] | b[1] << 8));
        double w = (nibble(b + 4, k % 128) - b[2]) * s; /* exact: 5-bit x 11-bit */
        return qlm_f16_to_f32(qlm_f32_to_f16((float)w));
    }
    }
}

double gv_post_scale(const qlm_tensor *t, int64_t r, int64_t k)
{
    const uint8_t *p = row_of(t, r);
    switch (t->dtype) {
    case QLM_DT_FP8: return rd_f32(p);
    case QLM_DT_FP8_G128: return rd_f32(p + (k / 128) * 132);
    case QLM_DT_NVFP4: return rd_f32(t->data);
    default: return 1.0;
    }
}
