/* qlm inspect FILE [--json] [--verify]: metadata, tensor table, totals. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "formats/common/json.h"
#include "formats/common/utf8.h"
#include "formats/qlm/qlmfile.h"
#include "runtime/cli/cli.h"

#define TEXT_ELEMS 8     /* array elements shown in text mode */
#define JSON_ELEMS 16    /* ... and in --json (which also gives the full count) */
#define TEXT_STR_MAX 72  /* longer strings are cut (at a UTF-8 boundary) in text mode */

static void usage(FILE *f)
{
    fprintf(f, "usage: qlm inspect FILE [--json] [--verify]\n\n"
               "Print a .qlm (or .qlm.zst) file's metadata, tensor table, totals by dtype,\n"
               "parameter count and bits per weight.\n\n"
               "  --json    machine-readable output (arrays: first %d values and the count)\n"
               "  --verify  check every tensor checksum first; exit 1 naming the first bad tensor\n",
               JSON_ELEMS);
}

/* A string: JSON literal; in text mode cut to TEXT_STR_MAX bytes. */
static void put_str(const char *s, size_t len, bool json)
{
    if (json || len <= TEXT_STR_MAX) {
        json_write_string(stdout, s, len);
        return;
    }
    size_t cut = 0, n;
    while (cut < TEXT_STR_MAX && (n = utf8_char_len(s + cut, len - cut)) > 0 && cut + n <= TEXT_STR_MAX)
        cut += n;
    json_write_string(stdout, s, cut);
    printf("... (%zu bytes)", len);
}

static void put_float(double v, int digits, bool json)
{
    if (json && !isfinite(v))
        printf("null");
    else
        printf("%.*g", digits, v);
}

static size_t elem_size(qlm_meta_type t)
{
    return t == QLM_MT_U8 || t == QLM_MT_BOOL ? 1 : t == QLM_MT_I32 || t == QLM_MT_U32 || t == QLM_MT_F32 ? 4 : 8;
}

/* One numeric/bool element of type t at p (little-endian, unaligned). */
static void put_elem(qlm_meta_type t, const unsigned char *p, bool json)
{
    union {
        uint8_t u8;
        int32_t i32;
        uint32_t u32;
        int64_t i64;
        uint64_t u64;
        float f32;
        double f64;
    } v;
    memcpy(&v, p, elem_size(t));
    switch (t) {
    case QLM_MT_U8: printf("%u", v.u8); break;
    case QLM_MT_I32: printf("%d", v.i32); break;
    case QLM_MT_U32: printf("%u", v.u32); break;
    case QLM_MT_I64: printf("%lld", (long long)v.i64); break;
    case QLM_MT_U64: printf("%llu", (unsigned long long)v.u64); break;
    case QLM_MT_F32: put_float(v.f32, 9, json); break;
    case QLM_MT_F64: put_float(v.f64, 17, json); break;
    default: printf("%s", v.u8 ? "true" : "false"); break;
    }
}

/* The first `shown` elements of an array, comma-separated. */
static void put_array(const qlm_file *f, const qlm_meta_info *m, uint64_t shown, bool json)
{
    const void *data = NULL;
    qlm_meta_type elem;
    uint64_t count;
    if (m->elem != QLM_MT_STRING)
        qlm_meta_array(f, m->key, &elem, &count, &data);
    for (uint64_t i = 0; i < shown; i++) {
        if (i)
            printf(", ");
        if (m->elem == QLM_MT_STRING) {
            const char *s;
            size_t len;
            qlm_meta_str_at(f, m->key, i, &s, &len);
            put_str(s, len, json);
        } else {
            put_elem(m->elem, (const unsigned char *)data + i * elem_size(m->elem), json);
        }
    }
}

static void put_scalar(const qlm_file *f, const qlm_meta_info *m, bool json)
{
    if (m->type == QLM_MT_STRING) {
        const char *s;
        size_t len;
        qlm_meta_str(f, m->key, &s, &len);
        put_str(s, len, json);
    } else {
        qlm_meta_type t;
        const void *p;
        qlm_meta_scalar(f, m->key, &t, &p);
        put_elem(t, p, json);
    }
}

static void text_meta(const qlm_file *f)
{
    printf("metadata (%zu):\n", qlm_meta_count(f));
    for (size_t i = 0; i < qlm_meta_count(f); i++) {
        const qlm_meta_info *m = qlm_meta_at(f, i);
        char type[48];
        if (m->type == QLM_MT_ARRAY)
            snprintf(type, sizeof type, "%s[%llu]", qlm_meta_type_name(m->elem), (unsigned long long)m->count);
        else
            snprintf(type, sizeof type, "%s", qlm_meta_type_name(m->type));
        printf("  %-40s %-12s ", m->key, type);
        if (m->type == QLM_MT_ARRAY) {
            uint64_t shown = m->count < TEXT_ELEMS ? m->count : TEXT_ELEMS;
            printf("[");
            put_array(f, m, shown, false);
            printf("%s]", shown < m->count ? ", ..." : "");
        } else {
            put_scalar(f, m, false);
        }
        printf("\n");
    }
}

static void json_meta(const qlm_file *f)
{
    printf("  \"metadata\": [");
    for (size_t i = 0; i < qlm_meta_count(f); i++) {
        const qlm_meta_info *m = qlm_meta_at(f, i);
        printf("%s\n    {\"key\": ", i ? "," : "");
        json_write_string(stdout, m->key, strlen(m->key));
        printf(", \"type\": \"%s\"", qlm_meta_type_name(m->type));
        if (m->type == QLM_MT_ARRAY) {
            printf(", \"elem\": \"%s\", \"count\": %llu, \"values\": [", qlm_meta_type_name(m->elem),
                   (unsigned long long)m->count);
            put_array(f, m, m->count < JSON_ELEMS ? m->count : JSON_ELEMS, true);
            printf("]}");
        } else {
            printf(", \"value\": ");
            put_scalar(f, m, true);
            printf("}");
        }
    }
    printf("\n  ],\n");
}

typedef struct {
    uint64_t tensors, params, bytes;
} totals;

static void shape_str(const qlm_tensor *t, char *out, size_t cap)
{
    size_t n = (size_t)snprintf(out, cap, "[");
    for (uint32_t d = 0; d < t->rank && n < cap; d++)
        n += (size_t)snprintf(out + n, cap - n, "%s%llu", d ? ", " : "", (unsigned long long)t->dims[d]);
    if (n < cap)
        snprintf(out + n, cap - n, "]");
}

static void text_tensors(const qlm_file *f, const totals *by, const totals *all)
{
    printf("tensors (%zu):\n  %-40s %-6s %-24s %10s\n", qlm_file_n_tensors(f), "name", "dtype", "shape", "MiB");
    for (size_t i = 0; i < qlm_file_n_tensors(f); i++) {
        const qlm_tensor *t = qlm_file_tensor(f, i);
        char shape[128];
        shape_str(t, shape, sizeof shape);
        printf("  %-40s %-6s %-24s %10.3f\n", t->name, qlm_dtype_get(t->dtype)->name, shape,
               (double)t->nbytes / (1 << 20));
    }
    printf("totals by dtype:\n");
    for (uint32_t d = 0; d < QLM_DT_COUNT_KNOWN; d++)
        if (by[d].tensors)
            printf("  %-6s %6llu tensors %14llu params %12.3f MiB\n", qlm_dtype_get(d)->name,
                   (unsigned long long)by[d].tensors, (unsigned long long)by[d].params,
                   (double)by[d].bytes / (1 << 20));
    printf("total parameters: %llu\n", (unsigned long long)all->params);
    printf("tensor data: %.3f MiB\n", (double)all->bytes / (1 << 20));
    if (all->params)
        printf("bits per weight: %.4f\n", 8.0 * (double)all->bytes / (double)all->params);
}

static void json_tensors(const qlm_file *f, const totals *by, const totals *all)
{
    printf("  \"tensors\": [");
    for (size_t i = 0; i < qlm_file_n_tensors(f); i++) {
        const qlm_tensor *t = qlm_file_tensor(f, i);
        char shape[128];
        shape_str(t, shape, sizeof shape);
        printf("%s\n    {\"name\": ", i ? "," : "");
        json_write_string(stdout, t->name, strlen(t->name));
        printf(", \"dtype\": \"%s\", \"shape\": %s, \"offset\": %llu, \"nbytes\": %llu, \"checksum\": \"%016llx\"}",
               qlm_dtype_get(t->dtype)->name, shape, (unsigned long long)t->offset,
               (unsigned long long)t->nbytes, (unsigned long long)t->checksum);
    }
    printf("\n  ],\n  \"totals\": {");
    int first = 1;
    for (uint32_t d = 0; d < QLM_DT_COUNT_KNOWN; d++) {
        if (!by[d].tensors)
            continue;
        printf("%s\"%s\": {\"tensors\": %llu, \"params\": %llu, \"bytes\": %llu}", first ? "" : ", ",
               qlm_dtype_get(d)->name, (unsigned long long)by[d].tensors, (unsigned long long)by[d].params,
               (unsigned long long)by[d].bytes);
        first = 0;
    }
    printf("},\n  \"params\": %llu,\n  \"bytes\": %llu,\n  \"bits_per_weight\": ", (unsigned long long)all->params,
           (unsigned long long)all->bytes);
    if (all->params)
        printf("%.6g", 8.0 * (double)all->bytes / (double)all->params);
    else
        printf("null");
    printf(",\n");
}

int cmd_inspect(int argc, char **argv)
{
    const char *path = NULL;
    bool json = false, verify = false;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (strcmp(argv[i], "--verify") == 0) {
            verify = true;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage_error("inspect", "unknown option '%s'", argv[i]);
        } else if (path) {
            return cli_usage_error("inspect", "more than one FILE given");
        } else {
            path = argv[i];
        }
    }
    if (!path)
        return cli_usage_error("inspect", "missing FILE");
    qlm_file *f;
    qlm_status st = qlm_file_open(path, &f);
    if (st)
        return cli_error(st);
    if (verify && (st = qlm_file_verify(f, NULL))) {
        qlm_fail_context(st, "%s", path);
        qlm_file_close(f);
        return cli_error(st);
    }
    totals by[QLM_DT_COUNT_KNOWN] = {{0}}, all = {0};
    for (size_t i = 0; i < qlm_file_n_tensors(f); i++) {
        const qlm_tensor *t = qlm_file_tensor(f, i);
        by[t->dtype].tensors++;
        by[t->dtype].params += t->n_elems;
        by[t->dtype].bytes += t->nbytes;
        all.params += t->n_elems;
        all.bytes += t->nbytes;
    }
    if (json) {
        printf("{\n  \"file\": ");
        json_write_string(stdout, path, strlen(path));
        printf(",\n  \"version\": %u,\n  \"size\": %llu,\n", qlm_file_version(f),
               (unsigned long long)qlm_file_size(f));
        json_meta(f);
        json_tensors(f, by, &all);
        printf("  \"verified\": %s\n}\n", verify ? "true" : "false");
    } else {
        printf("file: %s\nformat: qlm version %u, %llu bytes\n", path, qlm_file_version(f),
               (unsigned long long)qlm_file_size(f));
        text_meta(f);
        text_tensors(f, by, &all);
        if (verify)
            printf("verify: all %zu tensor checksums OK\n", qlm_file_n_tensors(f));
    }
    qlm_file_close(f);
    return 0;
}
