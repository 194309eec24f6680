/* qlm quant-error SRC.qlm [--json] [--schemes LIST] | --matmul M,K,N [--quant-x] [--seed S]:
 * error of fake quantization (formats/quant/analysis.h), no model run. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/common/json.h"
#include "formats/convert/emit_rows.h"
#include "formats/qlm/qlmfile.h"
#include "formats/quant/analysis.h"
#include "runtime/cli/cli.h"

#define MAX_SCHEMES 64

static void usage(FILE *f)
{
    fprintf(f, "usage: qlm quant-error SRC.qlm [--json] [--schemes LIST]\n"
               "       qlm quant-error SRC.qlm --fake SCHEME -o OUT.qlm [--store f32|bf16]\n"
               "       qlm quant-error --matmul M,K,N [--quant-x] [--seed S] [--schemes LIST]\n\n"
               "Fake-quantize (quantize, dequantize) every 2-D tensor of SRC under each scheme\n"
               "and report, per tensor and in total: RMSE, relative Frobenius error\n"
               "||W-Wq||/||W||, SNR (dB) and max abs error. No model is run. SRC is a .qlm\n"
               "(any dtype; Q8/Q4 are dequantized exactly first); convert GGUF or Hugging Face\n"
               "sources with `qlm convert --type f32` first.\n\n"
               "  --schemes LIST  comma list; default: all of\n"
               "                  int8|fp8e4m3|fp8e5m2|int4 x -tensor|-row|-gG, q8, q4\n"
               "  --json          machine-readable output\n"
               "  --matmul M,K,N  instead of a file: relative Frobenius error of X.W^T,\n"
               "                  X[M][K], W[N][K] standard normal, W fake-quantized\n"
               "  --quant-x       also fake-quantize X (same scheme, per X's rows)\n"
               "  --seed S        random seed for --matmul (default 1)\n"
               "  --fake SCHEME   instead of a report: write OUT.qlm, a copy of SRC whose 2-D\n"
               "                  weights are SCHEME-quantized then dequantized, stored as\n"
               "                  --store (default f32), so `qlm perplexity` / `qlm kld` measure\n"
               "                  any scheme's effect with the normal forward pass\n");
}

typedef struct {
    qe_scheme s[MAX_SCHEMES];
    size_t n;
} scheme_list;

static int parse_schemes(const char *arg, scheme_list *l)
{
    char buf[1024];
    if (strlen(arg) >= sizeof buf)
        return 0;
    strcpy(buf, arg);
    l->n = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (l->n == MAX_SCHEMES || !qe_scheme_parse(tok, &l->s[l->n]))
            return 0;
        l->n++;
    }
    return l->n > 0;
}

static int parse_shape(const char *arg, int64_t d[3])
{
    char *end;
    for (int i = 0; i < 3; i++) {
        long long v = strtoll(arg, &end, 10);
        if (end == arg || v < 1 || v > 65536 || *end != (i < 2 ? ',' : '\0'))
            return 0;
        d[i] = v;
        arg = end + 1;
    }
    return 1;
}

static void print_stats(int json, const char *name, const char *scheme, const qe_stats *st, int first)
{
    double snr = qe_snr_db(st);
    if (!json) {
        printf("%-40s %-16s %12.6g %12.6g %9.3f %12.6g\n", name, scheme, qe_rmse(st), qe_rel_frob(st),
               isinf(snr) ? 999.0 : snr, st->max_abs);
        return;
    }
    printf("%s\n      {\"name\": ", first ? "" : ",");
    json_write_string(stdout, name, strlen(name));
    printf(", \"n\": %" PRIu64 ", \"rmse\": %.9g, \"rel_frob\": %.9g, \"snr_db\": %.6f, \"max_abs\": %.9g}", st->n,
           qe_rmse(st), qe_rel_frob(st), isinf(snr) ? 999.0 : snr, st->max_abs);
}

/* One scheme over every 2-D tensor of f; the last line is the pooled total. */
static qlm_status run_scheme(const qlm_file *f, qe_scheme s, int json, int first_scheme)
{
    char sname[64];
    qe_scheme_name(s, sname, sizeof sname);
    if (json)
        printf("%s\n    {\"scheme\": \"%s\", \"tensors\": [", first_scheme ? "" : ",", sname);
    qe_stats total = {0};
    int first = 1;
    for (size_t i = 0; i < qlm_file_n_tensors(f); i++) {
        const qlm_tensor *t = qlm_file_tensor(f, i);
        qlm_src_type src;
        if (t->rank != 2 || !qlm_src_type_of(t->dtype, &src))
            continue;
        if ((s.kind == QE_Q8 || s.kind == QE_Q4) && t->dims[1] % 32)
            continue; /* not representable; the total's n counts only reported tensors */
        float *x = malloc(t->n_elems * sizeof *x), *xq = malloc(t->n_elems * sizeof *xq);
        if (!x || !xq) {
            free(x);
            free(xq);
            return qlm_fail(QLM_E_NOMEM, "quant-error: out of memory for tensor %s", t->name);
        }
        qlm_src_to_f32(src, t->data, x, t->n_elems);
        qlm_status st = qe_fake_quant(s, x, xq, t->dims[0], t->dims[1]);
        if (st) {
            free(x);
            free(xq);
            return qlm_fail(st, "quant-error: tensor %s: %s", t->name, qlm_errmsg());
        }
        qe_stats ts = {0};
        qe_stats_add(&ts, x, xq, t->n_elems);
        free(x);
        free(xq);
        print_stats(json, t->name, sname, &ts, first);
        first = 0;
        total.sse += ts.sse;
        total.ssr += ts.ssr;
        total.max_abs = fmax(total.max_abs, ts.max_abs);
        total.n += ts.n;
    }
    if (json)
        printf("\n    ], \"total\": {\"n\": %" PRIu64 ", \"rmse\": %.9g, \"rel_frob\": %.9g, \"snr_db\": %.6f, "
               "\"max_abs\": %.9g}}",
               total.n, qe_rmse(&total), qe_rel_frob(&total), total.sse > 0 ? qe_snr_db(&total) : 999.0,
               total.max_abs);
    else
        print_stats(0, "TOTAL", sname, &total, 0);
    return QLM_OK;
}

static int run_file(const char *path, const scheme_list *l, int json)
{
    qlm_file *f;
    qlm_status st = qlm_file_open(path, &f);
    if (st)
        return cli_error(st);
    if (json) {
        printf("{\"source\": ");
        json_write_string(stdout, path, strlen(path));
        printf(", \"schemes\": [");
    } else {
        printf("%-40s %-16s %12s %12s %9s %12s\n", "tensor", "scheme", "rmse", "rel_frob", "snr_db", "max_abs");
    }
    for (size_t i = 0; i < l->n && !st; i++)
        st = run_scheme(f, l->s[i], json, i == 0);
    if (json && !st)
        printf("\n  ]\n}\n");
    qlm_file_close(f);
    return st ? cli_error(st) : 0;
}

static int run_matmul(const int64_t d[3], const scheme_list *l, int quant_x, uint64_t seed, int json)
{
    if (json)
        printf("{\"matmul\": [%lld, %lld, %lld], \"quant_x\": %s, \"seed\": %llu, \"schemes\": [",
               (long long)d[0], (long long)d[1], (long long)d[2], quant_x ? "true" : "false",
               (unsigned long long)seed);
    else
        printf("X[%lld][%lld] . W[%lld][%lld]^T, %s fake-quantized, seed %llu\n%-16s %12s\n", (long long)d[0],
               (long long)d[1], (long long)d[2], (long long)d[1], quant_x ? "X and W" : "W",
               (unsigned long long)seed, "scheme", "rel_frob");
    for (size_t i = 0; i < l->n; i++) {
        char sname[64];
        double err;
        qlm_status st = qe_matmul_error(l->s[i], quant_x, d[0], d[1], d[2], seed, &err);
        if (st)
            return cli_error(st);
        qe_scheme_name(l->s[i], sname, sizeof sname);
        if (json)
            printf("%s\n    {\"scheme\": \"%s\", \"rel_frob\": %.9g}", i ? "," : "", sname, err);
        else
            printf("%-16s %12.6g\n", sname, err);
        fflush(stdout);
    }
    if (json)
        printf("\n  ]\n}\n");
    return 0;
}

int cmd_quant_error(int argc, char **argv)
{
    const char *src = NULL, *out = NULL;
    bool fake = false;
    qe_scheme fake_s;
    qlm_dtype store = QLM_DT_F32;
    int json = 0, quant_x = 0, matmul = 0;
    int64_t shape[3], seed = 1;
    scheme_list l;
    const qe_scheme *defs = qe_default_schemes(&l.n);
    memcpy(l.s, defs, l.n * sizeof *defs);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (strcmp(a, "--quant-x") == 0) {
            quant_x = 1;
        } else if (strcmp(a, "--schemes") == 0) {
            if (i + 1 >= argc || !parse_schemes(argv[++i], &l))
                return cli_usage_error("quant-error", "--schemes needs a comma list of schemes (see --help)");
        } else if (strcmp(a, "--fake") == 0) {
            if (i + 1 >= argc || !qe_scheme_parse(argv[++i], &fake_s))
                return cli_usage_error("quant-error", "--fake needs one scheme (see --help)");
            fake = true;
        } else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
            if (i + 1 >= argc)
                return cli_usage_error("quant-error", "-o needs a path");
            out = argv[++i];
        } else if (strcmp(a, "--store") == 0) {
            if (i + 1 >= argc || !qlm_dtype_parse(argv[++i], &store) ||
                (store != QLM_DT_F32 && store != QLM_DT_BF16))
                return cli_usage_error("quant-error", "--store needs f32 or bf16");
        } else if (strcmp(a, "--matmul") == 0) {
            if (i + 1 >= argc || !parse_shape(argv[++i], shape))
                return cli_usage_error("quant-error", "--matmul needs M,K,N, each in 1..65536");
            matmul = 1;
        } else if (strcmp(a, "--seed") == 0) {
            if (i + 1 >= argc || !cli_parse_i64(argv[++i], 0, INT64_MAX, &seed))
                return cli_usage_error("quant-error", "--seed needs a non-negative integer");
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error("quant-error", "unknown option '%s'", a);
        } else if (src) {
            return cli_usage_error("quant-error", "too many arguments");
        } else {
            src = a;
        }
    }
    if (matmul == !!src)
        return cli_usage_error("quant-error", "need exactly one of SRC.qlm or --matmul M,K,N");
    if (quant_x && !matmul)
        return cli_usage_error("quant-error", "--quant-x applies to --matmul only");
    if (fake != !!out)
        return cli_usage_error("quant-error", "--fake SCHEME and -o OUT.qlm go together");
    if (fake && (matmul || json))
        return cli_usage_error("quant-error", "--fake writes a model; it does not combine with --matmul or --json");
    if (fake) {
        qlm_status st = qe_write_fake(src, out, fake_s, store, false);
        return st ? cli_error(st) : 0;
    }
    return matmul ? run_matmul(shape, &l, quant_x, (uint64_t)seed, json) : run_file(src, &l, json);
}
