/* libFuzzer target: the qlm command line. The CLI's own sources (main.c,
 * with its main renamed, and every cmd_*.c, linked in by CMakeLists.txt) run
 * on fuzzed argument vectors: option parsing, number parsing, usage errors,
 * template rendering with fuzzed VARS.json, tokenize/detokenize with fuzzed
 * text and ids on a real tokenizer. Every run must return 0, 1 or 2 without
 * crashing.
 *
 * Input: byte 0 picks the command; the rest is split at NUL bytes into
 * arguments. To keep the fuzzer from touching the user's files, the process
 * works in a private scratch folder (cwd, removed at exit: fuzz_scratch.h)
 * and an input with a '/' in any
 * argument is skipped, so every path names a file in that folder: "tok"
 * (stories260K's llama2.c tokenizer, from $QLM_SHARED), "t.jinja" and
 * "v.json" (a template and its variables). No model is present, so nothing
 * spends time on inference; commands that would write files (synth,
 * convert, compress, decompress) are not fuzzed. stdin is /dev/null and
 * stdout is discarded; usage errors and `qlm:` messages go to stderr. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/fuzz/fuzz_scratch.h"

/* dispatch() is the command line without main()'s process-wide setup
 * (signal handlers, re-exec): main.c's main is renamed out of the way. */
#define main qlm_cli_main
#include "runtime/cli/main.c"
#undef main

#define MAX_ARGS 24

static const char *const k_cmds[] = {"run",   "tokenize", "detokenize", "template", "inspect", "quant-error",
                                     "bench", "chat",     "perplexity", "kld",      "help",    "version",
                                     "sysinfo", "nosuch"};
#define N_CMDS (sizeof k_cmds / sizeof k_cmds[0])

static void put(const char *name, const char *text)
{
    FILE *f = fopen(name, "w");
    if (!f || fputs(text, f) < 0 || fclose(f))
        abort();
}

static void copy_shared(const char *rel, const char *name)
{
    const char *root = getenv("QLM_SHARED");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", root && *root ? root : "../shared", rel);
    FILE *in = fopen(path, "rb"), *out = fopen(name, "wb");
    if (!in || !out) {
        fprintf(stderr, "fuzz_cli: cannot copy %s (set QLM_SHARED)\n", path);
        abort();
    }
    char buf[65536];
    for (size_t n; (n = fread(buf, 1, sizeof buf, in)) > 0;)
        if (fwrite(buf, 1, n, out) != n)
            abort();
    fclose(in);
    if (fclose(out))
        abort();
}

/* At the first input, not in LLVMFuzzerInitialize: the scratch folder's
 * signal handlers must come after libFuzzer's (fuzz_scratch.h). */
static void setup(void)
{
    const char *dir = fuzz_scratch_make("cli");
    char tok[96];
    snprintf(tok, sizeof tok, "%s/tok", dir);
    copy_shared("models/stories260K/tok512.bin", tok);
    if (chdir(dir))
        abort();
    put("t.jinja", "{% for m in messages %}<|{{ m.role }}|>{{ m['content'] | trim }}\n{% endfor %}"
                   "{% if add_generation_prompt %}<|assistant|>{% endif %}");
    put("v.json", "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}], \"add_generation_prompt\": true}");
    if (!freopen("/dev/null", "r", stdin) || !freopen("/dev/null", "w", stdout))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready++)
        setup();
    if (size < 1 || memchr(data, '/', size))
        return 0;
    char *text = malloc(size);
    if (!text)
        abort();
    memcpy(text, data + 1, size - 1);
    text[size - 1] = 0;
    char *argv[MAX_ARGS + 3];
    int argc = 0;
    argv[argc++] = "qlm";
    argv[argc++] = (char *)k_cmds[data[0] % N_CMDS];
    for (char *p = text; argc < MAX_ARGS + 2 && p < text + size - 1; p += strlen(p) + 1)
        argv[argc++] = p;
    argv[argc] = NULL;
    qlm_err_clear();
    int rc = dispatch(argc, argv);
    fflush(stdout);
    if (rc < 0 || rc > 2)
        abort();
    free(text);
    return 0;
}
