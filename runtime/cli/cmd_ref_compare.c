/* qlm ref-compare A B: two .qref.zst dumps bit for bit. Prints each
 * differing tensor, the first mismatching element, the largest distance in
 * units in the last place and the counts; exit 1 when anything differs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/common/half.h"
#include "formats/qref/qref.h"
#include "runtime/cli/cli.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: qlm ref-compare A.qref.zst B.qref.zst\n"
               "\n"
               "Compares every tensor of A with the tensor of the same name in B, bit for\n"
               "bit. Distances are in units in the last place of the tensor's format\n"
               "(f32, f16, bf16, or E4M3 codes); -0 and +0 are 1 ulp apart, any NaN that\n"
               "differs in bits counts as a mismatch without a distance. Exit status: 0\n"
               "identical, 1 different (or unreadable), 2 usage.\n");
}

/* Sign-magnitude bits -> an integer line on which adjacent values differ by 1. */
static int64_t ordered(uint64_t bits, int width)
{
    uint64_t sign = 1ull << (width - 1);
    return bits & sign ? -(int64_t)(bits & (sign - 1)) - 1 : (int64_t)bits;
}

static uint64_t bits_at(const qlm_qref_tensor *t, uint64_t i)
{
    const uint8_t *p = (const uint8_t *)t->data + i * qlm_qref_elem_size(t->dtype);
    switch (qlm_qref_elem_size(t->dtype)) {
    case 4: return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24;
    case 2: return (uint64_t)p[0] | (uint64_t)p[1] << 8;
    default: return p[0];
    }
}

static bool is_nan(uint32_t dtype, uint64_t b)
{
    switch (dtype) {
    case 0: return (b & 0x7FFFFFFFu) > 0x7F800000u;
    case 1: return (b & 0x7FFFu) > 0x7C00u;
    case 2: return (b & 0x7FFFu) > 0x7F80u;
    default: return (b & 0x7Fu) == 0x7Fu;
    }
}

static double value(uint32_t dtype, uint64_t b)
{
    switch (dtype) {
    case 0: return qlm_bits_f32((uint32_t)b);
    case 1: return qlm_f16_to_f32((uint16_t)b);
    case 2: return qlm_bf16_to_f32((uint16_t)b);
    default: return (double)b; /* E4M3: the code itself */
    }
}

typedef struct {
    uint64_t elems, diff, nan_diff, max_ulp;
    size_t tensors_diff;
    const char *max_where;
    bool first_done;
} stats;

/* Compare one pair of same-shaped tensors; prints a line if they differ. */
static void compare_tensor(const qlm_qref_tensor *a, const qlm_qref_tensor *b, stats *s)
{
    int width = 8 * (int)qlm_qref_elem_size(a->dtype);
    uint64_t n = a->rows * a->cols, diff = 0, nan_diff = 0, max_ulp = 0, first = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t x = bits_at(a, i), y = bits_at(b, i);
        if (x == y)
            continue;
        if (diff++ == 0)
            first = i;
        if (is_nan(a->dtype, x) || is_nan(a->dtype, y)) {
            nan_diff++;
            continue;
        }
        int64_t d = ordered(x, width) - ordered(y, width);
        uint64_t u = (uint64_t)(d < 0 ? -d : d);
        max_ulp = u > max_ulp ? u : max_ulp;
    }
    s->elems += n;
    if (!diff)
        return;
    s->diff += diff;
    s->nan_diff += nan_diff;
    s->tensors_diff++;
    if (max_ulp > s->max_ulp || !s->max_where) {
        s->max_ulp = max_ulp > s->max_ulp ? max_ulp : s->max_ulp;
        s->max_where = a->name;
    }
    uint64_t x = bits_at(a, first), y = bits_at(b, first);
    int hexw = width / 4;
    printf("%s: %llu of %llu elements differ, max %llu ulp%s; first [%llu][%llu]: A %.9g (0x%0*llx) B %.9g (0x%0*llx)\n",
           a->name, (unsigned long long)diff, (unsigned long long)n, (unsigned long long)max_ulp,
           nan_diff ? " (NaNs differ too)" : "", (unsigned long long)(first / a->cols),
           (unsigned long long)(first % a->cols), value(a->dtype, x), hexw, (unsigned long long)x,
           value(a->dtype, y), hexw, (unsigned long long)y);
    if (!s->first_done) {
        s->first_done = true;
        printf("first mismatching tensor: %s, element [%llu][%llu]\n", a->name,
               (unsigned long long)(first / a->cols), (unsigned long long)(first % a->cols));
    }
}

static const qlm_qref_tensor *find(const qlm_qref *r, const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->t[i].name, name) == 0)
            return &r->t[i];
    return NULL;
}

static int compare(const qlm_qref *a, const qlm_qref *b)
{
    stats s = {0};
    size_t missing = 0;
    for (size_t i = 0; i < a->n; i++) {
        const qlm_qref_tensor *ta = &a->t[i], *tb = find(b, ta->name);
        if (!tb) {
            printf("%s: only in A\n", ta->name);
            missing++;
        } else if (ta->dtype != tb->dtype || ta->rows != tb->rows || ta->cols != tb->cols) {
            printf("%s: A is %s [%llu x %llu], B is %s [%llu x %llu]\n", ta->name, qlm_qref_dtype_name(ta->dtype),
                   (unsigned long long)ta->rows, (unsigned long long)ta->cols, qlm_qref_dtype_name(tb->dtype),
                   (unsigned long long)tb->rows, (unsigned long long)tb->cols);
            missing++;
        } else {
            compare_tensor(ta, tb, &s);
        }
    }
    for (size_t i = 0; i < b->n; i++)
        if (!find(a, b->t[i].name)) {
            printf("%s: only in B\n", b->t[i].name);
            missing++;
        }
    printf("%zu tensors compared: %zu differ, %zu unmatched; %llu of %llu elements differ", a->n, s.tensors_diff,
           missing, (unsigned long long)s.diff, (unsigned long long)s.elems);
    if (s.diff)
        printf(", max %llu ulp (%s)%s", (unsigned long long)s.max_ulp, s.max_where,
               s.nan_diff ? ", NaNs differ" : "");
    printf("\n");
    return s.diff || missing ? 1 : 0;
}

int cmd_ref_compare(int argc, char **argv)
{
    const char *files[2];
    int n = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return 0;
        }
        if (argv[i][0] == '-')
            return cli_usage_error("ref-compare", "unknown option '%s'", argv[i]);
        if (n == 2)
            return cli_usage_error("ref-compare", "exactly two dumps are compared");
        files[n++] = argv[i];
    }
    if (n != 2)
        return cli_usage_error("ref-compare", "two .qref.zst files are required");
    qlm_qref a, b;
    qlm_status st = qlm_qref_read(files[0], &a);
    if (st)
        return cli_error(st);
    if ((st = qlm_qref_read(files[1], &b))) {
        qlm_qref_free(&a);
        return cli_error(st);
    }
    int rc = compare(&a, &b);
    qlm_qref_free(&a);
    qlm_qref_free(&b);
    return rc;
}
