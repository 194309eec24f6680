/* `qlm tokenize` and `qlm detokenize`: the tokenizer of a model (.qlm,
 * tokenizer.json / HF folder, vocabulary GGUF or llama2.c tokenizer .bin)
 * from the command line, plus a timing mode for the README's figures.
 * Uses include/qlm.h only (a vocab_only model handle). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "formats/common/json.h"
#include "formats/common/mapfile.h"
#include "include/qlm.h"
#include "runtime/cli/cli.h"

#define TOK_MAX_INPUT (1u << 30)
#define BENCH_RUNS 7

typedef enum { OUT_IDS, OUT_JSON, OUT_PIECES } out_mode;

static void tokenize_usage(FILE *f)
{
    fprintf(f,
            "usage: qlm tokenize -m MODEL [--ids|--json|--pieces] [--parse-special] [--no-bos] [--bench]\n"
            "                    (TEXT | -f FILE)\n"
            "MODEL: a .qlm, tokenizer.json (or its folder), a vocabulary GGUF, or a llama2.c tokenizer .bin.\n"
            "  --ids            ids separated by spaces (default)\n"
            "  --json           a JSON array of ids\n"
            "  --pieces         one token a line: id, then its vocabulary text as a JSON string\n"
            "  --parse-special  special-token text (e.g. <|im_start|>) becomes the special id\n"
            "  --no-bos         never prepend BOS (default: the model's add_bos setting)\n"
            "  --bench          print the token count and the median time of %d encodes\n",
            BENCH_RUNS);
}

static double now_ms(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    int add_bos, parse_special; /* as qlm_tokenize takes them */
} enc_opts;

/* The tokenizer of any of the kinds above, without weights. */
static qlm_status open_vocab(const char *path, qlm_lm **lm)
{
    qlm_lm_params p = qlm_lm_params_default();
    p.vocab_only = 1;
    return qlm_lm_open_params(path, &p, lm);
}

static int bench(const qlm_lm *t, const char *text, size_t len, const enc_opts *o)
{
    /* Wall time is what a user waits; CPU time is what to compare on a
     * busy shared machine (encoding is single-threaded). */
    double ms[BENCH_RUNS], cpu[BENCH_RUNS];
    size_t n = 0;
    for (int r = 0; r < BENCH_RUNS; r++) {
        int32_t *ids;
        double t0 = now_ms(CLOCK_MONOTONIC), c0 = now_ms(CLOCK_PROCESS_CPUTIME_ID);
        qlm_status st = qlm_tokenize(t, text, len, o->add_bos, o->parse_special, &ids, &n);
        ms[r] = now_ms(CLOCK_MONOTONIC) - t0;
        cpu[r] = now_ms(CLOCK_PROCESS_CPUTIME_ID) - c0;
        if (st)
            return cli_error(st);
        free(ids);
    }
    qsort(ms, BENCH_RUNS, sizeof *ms, cmp_double);
    qsort(cpu, BENCH_RUNS, sizeof *cpu, cmp_double);
    double med = ms[BENCH_RUNS / 2];
    printf("tokens: %zu\nbytes: %zu\nmedian: %.1f ms over %d runs (min %.1f, max %.1f); CPU time median %.1f ms\n",
           n, len, med, BENCH_RUNS, ms[0], ms[BENCH_RUNS - 1], cpu[BENCH_RUNS / 2]);
    printf("speed: %.2f MB/s, %.0f tokens/s\n", len / med / 1e3, n / med * 1e3);
    return 0;
}

static void print_ids(const qlm_lm *t, const int32_t *ids, size_t n, out_mode mode)
{
    if (mode == OUT_JSON)
        putchar('[');
    for (size_t i = 0; i < n; i++) {
        if (mode == OUT_PIECES) {
            size_t len;
            const char *s = qlm_token_text(t, ids[i], &len);
            printf("%d\t", ids[i]);
            json_write_string(stdout, s, len);
            putchar('\n');
        } else {
            printf(i == 0 ? "%d" : mode == OUT_JSON ? ", %d" : " %d", ids[i]);
        }
    }
    if (mode != OUT_PIECES)
        printf(mode == OUT_JSON ? "]\n" : "\n");
}

int cmd_tokenize(int argc, char **argv)
{
    const char *model = NULL, *file = NULL, *text = NULL;
    out_mode mode = OUT_IDS;
    bool parse_special = false, no_bos = false, do_bench = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) {
            tokenize_usage(stdout);
            return 0;
        } else if ((!strcmp(a, "-m") || !strcmp(a, "-f")) && i + 1 < argc) {
            *(a[1] == 'm' ? &model : &file) = argv[++i];
        } else if (!strcmp(a, "--ids") || !strcmp(a, "--json") || !strcmp(a, "--pieces")) {
            mode = a[2] == 'i' ? OUT_IDS : a[2] == 'j' ? OUT_JSON : OUT_PIECES;
        } else if (!strcmp(a, "--parse-special")) {
            parse_special = true;
        } else if (!strcmp(a, "--no-bos")) {
            no_bos = true;
        } else if (!strcmp(a, "--bench")) {
            do_bench = true;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error(argv[0], "unknown or incomplete option '%s'", a);
        } else if (!text) {
            text = a;
        } else {
            return cli_usage_error(argv[0], "more than one TEXT argument (quote the text)");
        }
    }
    if (!model)
        return cli_usage_error(argv[0], "-m MODEL is required");
    if (!text == !file)
        return cli_usage_error(argv[0], "give either TEXT or -f FILE");
    qlm_lm *t;
    qlm_status st = open_vocab(model, &t);
    if (st)
        return cli_error(st);
    char *buf = NULL;
    size_t len = text ? strlen(text) : 0;
    if (file && (st = qlm_read_file(file, TOK_MAX_INPUT, &buf, &len))) {
        qlm_lm_close(t);
        return cli_error(st);
    }
    const char *input = file ? buf : text;
    enc_opts o = {no_bos ? 0 : -1, parse_special};
    int rc = 0;
    if (do_bench) {
        rc = bench(t, input, len, &o);
    } else {
        int32_t *ids;
        size_t n;
        if ((st = qlm_tokenize(t, input, len, o.add_bos, o.parse_special, &ids, &n))) {
            rc = cli_error(st);
        } else {
            print_ids(t, ids, n, mode);
            free(ids);
        }
    }
    free(buf);
    qlm_lm_close(t);
    return rc;
}

static void detokenize_usage(FILE *f)
{
    fprintf(f, "usage: qlm detokenize -m MODEL IDS...\n"
               "Decodes token ids (separate arguments, or one argument like \"1 2 3\", \"1,2,3\" or\n"
               "\"[1, 2, 3]\") as Hugging Face's decode(skip_special_tokens=False) does. The text is\n"
               "written as is (a newline follows only on a terminal).\n");
}

/* Appends every id in `s` (separated by spaces, commas or brackets). */
static bool parse_ids(const char *s, int32_t **ids, size_t *n, size_t *cap)
{
    while (*s) {
        if (strchr(" ,[]\t\n", *s)) {
            s++;
            continue;
        }
        char tok[32];
        size_t k = strcspn(s, " ,[]\t\n");
        if (k >= sizeof tok)
            return false;
        memcpy(tok, s, k);
        tok[k] = 0;
        int64_t v;
        if (!cli_parse_i64(tok, 0, INT32_MAX, &v))
            return false;
        if (*n == *cap) {
            *cap = *cap ? 2 * *cap : 64;
            int32_t *p = realloc(*ids, *cap * sizeof *p);
            if (!p)
                return false;
            *ids = p;
        }
        (*ids)[(*n)++] = (int32_t)v;
        s += k;
    }
    return true;
}

int cmd_detokenize(int argc, char **argv)
{
    const char *model = NULL;
    int32_t *ids = NULL;
    size_t n = 0, cap = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            free(ids);
            detokenize_usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "-m") && i + 1 < argc) {
            model = argv[++i];
        } else if (!parse_ids(argv[i], &ids, &n, &cap)) {
            free(ids);
            return cli_usage_error(argv[0], "'%s' is not a list of token ids", argv[i]);
        }
    }
    if (!model) {
        free(ids);
        return cli_usage_error(argv[0], "-m MODEL is required");
    }
    qlm_lm *t = NULL;
    qlm_status st = open_vocab(model, &t);
    char *text = NULL;
    size_t len;
    if (!st)
        st = qlm_detokenize(t, ids, n, &text, &len);
    if (!st) {
        fwrite(text, 1, len, stdout);
        if (isatty(STDOUT_FILENO))
            putchar('\n');
    }
    free(text);
    free(ids);
    qlm_lm_close(t);
    return st ? cli_error(st) : 0;
}
