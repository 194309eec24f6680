/* qlm: one binary, git-style subcommands. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "formats/common/mapfile.h"
#include "formats/common/num.h"
#include "formats/qlm/outfile.h"
#include "include/qlm.h"
#include "runtime/cli/cli.h"

typedef struct {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} command;

static const command k_commands[] = {
#define CMD(name, fn, summary) {#name, fn, summary},
#include "runtime/cli/commands.def"
#undef CMD
};

int cli_error(qlm_status st)
{
    const char *m = qlm_errmsg();
    fprintf(stderr, "qlm: %s\n", m && *m ? m : qlm_status_name(st));
    return 1;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "qlm %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see 'qlm help %s')\n", cmd);
    return 2;
}

/* The CLI's names for the shared strict parsers (formats/common/num.h). */
bool cli_parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out) { return qlm_parse_i64(s, lo, hi, out); }
bool cli_parse_f64(const char *s, double lo, double hi, double *out) { return qlm_parse_f64(s, lo, hi, out); }

int cli_parse_kv(const char *cmd, const char *value, int *out)
{
    if (strcmp(value, "f32") == 0)
        *out = QLM_KV_F32;
    else if (strcmp(value, "q8") == 0)
        *out = QLM_KV_Q8;
    else
        return cli_usage_error(cmd, "--kv: '%s' is not f32 or q8", value);
    return 0;
}

int cli_option_value(const char *cmd, const char *known, int argc, char **argv, int *i, const char **value)
{
    const char *a = argv[*i];
    char key[64];
    snprintf(key, sizeof key, " %.60s ", a);
    if (!strstr(known, key))
        return cli_usage_error(cmd, "unknown option '%s'", a);
    if (*i + 1 >= argc)
        return cli_usage_error(cmd, "%s needs a value", a);
    *value = argv[++*i];
    return 0;
}

bool cli_is_help(const char *arg) { return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0; }

int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("qlm %s\n", QLM_VERSION_STRING);
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: qlm <command> [options]\n       qlm help <command>\n       qlm --version\n\ncommands:\n");
    for (size_t i = 0; i < sizeof k_commands / sizeof k_commands[0]; i++)
        fprintf(f, "  %-12s %s\n", k_commands[i].name, k_commands[i].summary);
}

static const command *find(const char *name)
{
    for (size_t i = 0; i < sizeof k_commands / sizeof k_commands[0]; i++)
        if (strcmp(k_commands[i].name, name) == 0)
            return &k_commands[i];
    return NULL;
}

/* OpenMP threads that finish an op early wait at its barrier. libgomp's
 * default spins 300,000 times first: on shared cores (a laptop doing other
 * work, a CI box) the thread they wait for is often descheduled and that
 * spinning cost 10-100x in wall time (decode 0.3 vs 43 tokens/s on a loaded
 * 2-core machine). Sleeping at once (passive) costs 4x on an idle machine
 * instead (SmolLM2-135M Q4, 2 threads: tg128 36 vs 148 tokens/s), because a
 * decode step waits at ~5 barriers per layer of a few microseconds each. A
 * short spin then sleep wins in both cases (measured on 2 cores: idle 148
 * tokens/s; with both cores busy with other processes 67 vs 22 for passive),
 * so qlm asks libgomp for it unless the user chose a policy. libgomp reads the
 * variables once when it loads, hence the re-exec; if that fails we run on. */
static void prefer_short_spin(char **argv)
{
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT") || setenv("GOMP_SPINCOUNT", "10000", 1) != 0)
        return;
    execv("/proc/self/exe", argv);
}

/* The command line without the process-wide setup of main(), so that
 * tests/fuzz/fuzz_cli.c can run it many times in a fuzzer's process
 * without taking over the fuzzer's signal handlers. */
static int dispatch(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (strcmp(name, "--version") == 0 || strcmp(name, "-V") == 0)
        return cmd_version(0, NULL);
    if (cli_is_help(name)) {
        usage(stdout);
        return 0;
    }
    if (strcmp(name, "help") == 0) {
        if (argc < 3) {
            usage(stdout);
            return 0;
        }
        const command *c = find(argv[2]);
        if (!c) {
            fprintf(stderr, "qlm: unknown command '%s'\n", argv[2]);
            return 2;
        }
        char *hargv[] = {(char *)c->name, "--help", NULL};
        return c->fn(2, hargv);
    }
    const command *c = find(name);
    if (!c) {
        fprintf(stderr, "qlm: unknown command '%s' (see 'qlm help')\n", name);
        return 2;
    }
    return c->fn(argc - 1, argv + 1);
}

int main(int argc, char **argv)
{
    prefer_short_spin(argv);
    qlm_map_catch_sigbus();      /* a model truncated under us: one line, exit 1 */
    qlm_outfile_catch_signals(); /* Ctrl-C during convert: no temp file left */
    return dispatch(argc, argv);
}
