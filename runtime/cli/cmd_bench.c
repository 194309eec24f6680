/* qlm bench: llama-bench-like throughput. pp = one forward call over a
 * prompt of -p random tokens (logits for the last only); tg = -n single-token
 * calls from an empty cache. Each is repeated -r times after a warm-up run;
 * tokens/s is reported as mean +- sample standard deviation over the runs,
 * with the weight bytes read per generated token turned into GB/s. A STREAM-
 * like probe measures what the memory system delivers to the same threads.
 * "t/s (CPU)" divides by the process CPU time instead: on a shared, loaded
 * machine it shows what the code does when it gets the cores (for one
 * thread; with more, idle spinning counts as CPU time). */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/cli/cli.h"
#include "runtime/model/model.h"
#include "simd/kernels.h"

enum { MAX_T = 16, MAX_R = 100 };

typedef struct {
    const char *model;
    int64_t p, n, r;
    int threads[MAX_T], n_threads;
    bool json;
} bench_opts;

typedef struct {
    double ts[MAX_R];  /* tokens/s per run, wall clock */
    double cpu[MAX_R]; /* tokens per second of process CPU time */
    double mean, sd, cpu_mean;
} sample;

static void usage(FILE *f)
{
    fprintf(f, "usage: qlm bench -m MODEL [-p N] [-n N] [-t LIST] [-r N] [--json]\n\n"
               "  -m MODEL   .qlm model file\n"
               "  -p N       prompt tokens of the pp test (default 512; 0: no pp test)\n"
               "  -n N       generated tokens of the tg test (default 128; 0: no tg test)\n"
               "  -t LIST    comma-separated thread counts (default: the default count)\n"
               "  -r N       runs per test, after one warm-up (default 5, at most %d)\n"
               "  --json     one JSON object per result line\n",
            MAX_R);
}

static double clock_s(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double now(void) { return clock_s(CLOCK_MONOTONIC); }

static void stats(sample *s, int64_t r)
{
    double sum = 0, ss = 0, cpu = 0;
    for (int64_t i = 0; i < r; i++)
        sum += s->ts[i], cpu += s->cpu[i];
    s->mean = sum / (double)r;
    s->cpu_mean = cpu / (double)r;
    for (int64_t i = 0; i < r; i++)
        ss += (s->ts[i] - s->mean) * (s->ts[i] - s->mean);
    s->sd = r > 1 ? sqrt(ss / (double)(r - 1)) : 0.0;
}

static bool parse_threads(const char *s, bench_opts *o)
{
    char buf[256];
    if (strlen(s) >= sizeof buf)
        return false;
    strcpy(buf, s);
    o->n_threads = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        int64_t v;
        if (o->n_threads == MAX_T || !cli_parse_i64(tok, 1, 1024, &v))
            return false;
        o->threads[o->n_threads++] = (int)v;
    }
    return o->n_threads > 0;
}

/* 0 ok, else the exit status */
static int parse(int argc, char **argv, bench_opts *o)
{
    memset(o, 0, sizeof *o);
    o->p = 512, o->n = 128, o->r = 5;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) {
            usage(stdout);
            return -1;
        }
        if (strcmp(a, "--json") == 0) {
            o->json = true;
            continue;
        }
        if (a[0] != '-' || strlen(a) != 2 || !strchr("mpntr", a[1]))
            return cli_usage_error(argv[0], "unknown option '%s'", a);
        if (i + 1 >= argc)
            return cli_usage_error(argv[0], "option %s needs a value", a);
        const char *v = argv[++i];
        bool ok = true;
        switch (a[1]) {
        case 'm': o->model = v; break;
        case 'p': ok = cli_parse_i64(v, 0, 1 << 20, &o->p); break;
        case 'n': ok = cli_parse_i64(v, 0, 1 << 20, &o->n); break;
        case 'r': ok = cli_parse_i64(v, 1, MAX_R, &o->r); break;
        case 't': ok = parse_threads(v, o); break;
        }
        if (!ok)
            return cli_usage_error(argv[0], "bad value '%s' for %s", v, a);
    }
    if (!o->model)
        return cli_usage_error(argv[0], "missing -m MODEL");
    if (o->p == 0 && o->n == 0)
        return cli_usage_error(argv[0], "nothing to measure: -p 0 and -n 0");
    if (o->n_threads == 0)
        o->threads[o->n_threads++] = 0; /* the context's default */
    return 0;
}

/* Bytes of weights a generated token reads: every tensor, except that only
 * one row of an untied token embedding is touched. */
static double weight_bytes(const qlm_model *m, uint64_t *params)
{
    const qlm_file *f = qlm_model_file(m);
    double b = 0;
    *params = 0;
    for (size_t i = 0; i < qlm_file_n_tensors(f); i++) {
        const qlm_tensor *t = qlm_file_tensor(f, i);
        *params += t->n_elems;
        if (!(strcmp(t->name, "token_embd.weight") == 0 && !qlm_model_hparams(m)->tied))
            b += (double)t->nbytes;
    }
    return b;
}

/* One timed run: pp (one call of p tokens) or tg (n calls of one token). */
static qlm_status run_once(qlm_ctx *c, const int32_t *tok, int64_t count, bool gen, float *logits,
                           double *secs, double *cpu_secs)
{
    qlm_status st = qlm_ctx_truncate(c, 0);
    double t0 = now(), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    if (gen)
        for (int64_t i = 0; i < count && st == QLM_OK; i++)
            st = qlm_ctx_eval(c, tok + i, 1, logits, false);
    else if (st == QLM_OK)
        st = qlm_ctx_eval(c, tok, count, logits, false);
    *secs = now() - t0;
    *cpu_secs = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    return st;
}

static qlm_status measure(qlm_ctx *c, const int32_t *tok, int64_t count, bool gen, int64_t r,
                          float *logits, sample *s)
{
    double secs, cpu;
    qlm_status st = run_once(c, tok, gen ? 1 : count, gen, logits, &secs, &cpu); /* warm-up */
    for (int64_t i = 0; i < r && st == QLM_OK; i++) {
        st = run_once(c, tok, count, gen, logits, &secs, &cpu);
        s->ts[i] = (double)count / secs;
        s->cpu[i] = (double)count / cpu;
    }
    if (st == QLM_OK)
        stats(s, r);
    return st;
}

/* STREAM-like read bandwidth: each thread sums its share of a 256 MiB
 * buffer with the kernel sum (16 independent lanes, far above DRAM speed). */
static double read_bw(int threads, int64_t r)
{
    const int64_t n = (int64_t)64 << 20; /* floats */
    float *buf = malloc((size_t)n * sizeof *buf);
    if (!buf)
        return 0;
    const qlm_kernels *k = qlm_kernels_get();
    double best = 0;
    volatile float sink = 0;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t i = 0; i < n; i += 1 << 16)
        memset(buf + i, 0, (size_t)(n - i < (1 << 16) ? n - i : 1 << 16) * sizeof *buf);
    for (int64_t rep = 0; rep <= r; rep++) {
        double t0 = now();
        float tot = 0;
#pragma omp parallel num_threads(threads) reduction(+ : tot)
        {
            int T = omp_get_num_threads(), i = omp_get_thread_num();
            int64_t a = n * i / T, b = n * (i + 1) / T;
            tot += k->sum(buf + a, b - a);
        }
        double dt = now() - t0;
        sink = sink + tot;
        if (rep > 0 && (double)n * sizeof *buf / dt > best) /* rep 0 warms up */
            best = (double)n * sizeof *buf / dt;
    }
    free(buf);
    return best / 1e9;
}

static void report(const bench_opts *o, const char *test, int threads, const sample *s, double wbytes,
                   uint64_t params)
{
    const char *isa = qlm_kernels_get()->name;
    bool tg = test[0] == 't';
    double gbs = wbytes * s->mean / 1e9;
    if (!o->json) {
        printf("| %9.2f MiB | %8.2f M | %-6s | %7d | %-6s | %9.2f ± %7.2f | %9.2f |", wbytes / 1048576.0,
               (double)params / 1e6, isa, threads, test, s->mean, s->sd, s->cpu_mean);
        printf(tg ? " %8.2f GB/s |\n" : "               |\n", gbs);
        return;
    }
    printf("{\"model\": \"%s\", \"weight_bytes\": %.0f, \"params\": %llu, \"isa\": \"%s\", "
           "\"threads\": %d, \"test\": \"%s\", \"avg_ts\": %.3f, \"stddev_ts\": %.3f, \"avg_ts_cpu\": %.3f, "
           "\"samples_ts\": [",
           o->model, wbytes, (unsigned long long)params, isa, threads, test, s->mean, s->sd, s->cpu_mean);
    for (int64_t i = 0; i < o->r; i++)
        printf("%s%.3f", i ? ", " : "", s->ts[i]);
    printf("], \"samples_ts_cpu\": [");
    for (int64_t i = 0; i < o->r; i++)
        printf("%s%.3f", i ? ", " : "", s->cpu[i]);
    if (tg)
        printf("], \"weight_gbps\": %.3f}\n", gbs);
    else
        printf("]}\n");
}

int cmd_bench(int argc, char **argv)
{
    bench_opts o;
    int rc = parse(argc, argv, &o);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (!qlm_kernels_get())
        return cli_error(QLM_E_UNSUPPORTED);
    qlm_model *m;
    qlm_status st = qlm_model_open(o.model, &m);
    if (st != QLM_OK)
        return cli_error(st);
    const qlm_hparams *hp = qlm_model_hparams(m);
    uint64_t params;
    double wbytes = weight_bytes(m, &params);
    int64_t ntok = o.p > o.n ? o.p : o.n;
    int32_t *tok = malloc((size_t)ntok * sizeof *tok);
    float *logits = malloc((size_t)hp->n_vocab * sizeof *logits);
    if (!tok || !logits) {
        st = qlm_fail(QLM_E_NOMEM, "bench: out of memory");
        goto out;
    }
    uint64_t z = 42; /* fixed pseudo-random prompt, as llama-bench uses random tokens */
    for (int64_t i = 0; i < ntok; i++) {
        z = z * 6364136223846793005ull + 1442695040888963407ull;
        tok[i] = (int32_t)((z >> 33) % (uint64_t)hp->n_vocab);
    }
    if (!o.json)
        printf("model: %s\n\n"
               "|  weights size |     params | isa    | threads | test   |                 t/s | t/s (CPU) | weight reads  |\n"
               "| ------------: | ---------: | ------ | ------: | ------ | ------------------: | --------: | ------------: |\n",
               o.model);
    double bw[MAX_T] = {0};
    for (int i = 0; i < o.n_threads && st == QLM_OK; i++) {
        qlm_ctx_params cp = {.n_ctx = ntok, .n_threads = o.threads[i], .n_batch = o.p > 0 ? o.p : 0};
        qlm_ctx *c;
        if ((st = qlm_ctx_new(m, &cp, &c)) != QLM_OK)
            break;
        int threads = o.threads[i] ? o.threads[i] : omp_get_max_threads();
        sample s;
        char name[32];
        if (o.p > 0 && (st = measure(c, tok, o.p, false, o.r, logits, &s)) == QLM_OK) {
            snprintf(name, sizeof name, "pp%lld", (long long)o.p);
            report(&o, name, threads, &s, wbytes, params);
        }
        if (st == QLM_OK && o.n > 0 && (st = measure(c, tok, o.n, true, o.r, logits, &s)) == QLM_OK) {
            snprintf(name, sizeof name, "tg%lld", (long long)o.n);
            report(&o, name, threads, &s, wbytes, params);
        }
        qlm_ctx_free(c);
        if (st == QLM_OK)
            bw[i] = read_bw(threads, o.r);
    }
    for (int i = 0; i < o.n_threads && st == QLM_OK; i++) {
        int threads = o.threads[i] ? o.threads[i] : omp_get_max_threads();
        if (o.json)
            printf("{\"test\": \"read_bw\", \"threads\": %d, \"gbps\": %.3f}\n", threads, bw[i]);
        else
            printf("%smemory read bandwidth (STREAM-like sum), %d thread(s): %.2f GB/s\n", i ? "" : "\n",
                   threads, bw[i]);
    }
out:
    free(tok);
    free(logits);
    qlm_model_close(m);
    return st == QLM_OK ? 0 : cli_error(st);
}
