/* libFuzzer target: the `qlm chat` REPL's commands and turns, on a real
 * model (stories260K, converted once into a private scratch folder; a
 * 128-token context, which chatml on its byte-level vocabulary soon fills).
 *
 * Input: up to the first NUL, lines; after it, the contents of the file
 * "c.json" that /load reads. Each line starting with '/' is parsed
 * (repl_cmd_parse) and carried out exactly as the REPL does
 * (qlm_repl_command); any other non-empty line is a user turn (greedy,
 * 4 tokens unless /set says otherwise; at most 3 turns per input: the
 * sanitized model is slow). /save and
 * /load always name c.json in the scratch folder, whatever was typed, so
 * the fuzzer writes nowhere else.
 *
 * Checked beyond "no crash, no sanitizer report":
 * - the parse is well-formed: a known kind; a one-line message for a bad
 *   command; a non-empty file name for /save and /load; ARG inside the line;
 *   /set values in their documented ranges;
 * - the KV cache never holds more than the context;
 * - persistence round trip: the conversation saved at the end, loaded into
 *   a fresh session, renders to the same text (or the load says the
 *   conversation does not fit the context, QLM_E_LIMIT).
 * Seeds: tests/fuzz/corpus/fuzz_repl; dictionary: dict/repl.dict. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "formats/convert/convert.h"
#include "runtime/chat/repl.h"
#include "runtime/chat/repl_cmd.h"
#include "tests/fuzz/fuzz_scratch.h"

#define MAX_TURNS 3
#define N_CTX 128

static qlm_lm *g_lm;
static FILE *g_null;

static void setup(void)
{
    const char *dir = fuzz_scratch_make("repl");
    const char *root = getenv("QLM_SHARED");
    char src[4096];
    snprintf(src, sizeof src, "%s/models/stories260K/stories260K-f32.gguf", root && *root ? root : "../shared");
    char model[128];
    snprintf(model, sizeof model, "%s/m.qlm", dir);
    /* before chdir: the default ../shared is relative */
    qlm_convert_opts o = {.src = src, .out = model, .type = QLM_DT_F32, .threads = 1, .quiet = true};
    if (qlm_convert(&o) != QLM_OK || qlm_lm_open(model, &g_lm) != QLM_OK) {
        fprintf(stderr, "fuzz_repl: cannot make a model from %s: %s (set QLM_SHARED)\n", src, qlm_errmsg());
        abort();
    }
    if (chdir(dir))
        abort();
    /* /context prints the prompt on stdout; notes go to g_null. */
    if (!(g_null = fopen("/dev/null", "w")) || !freopen("/dev/null", "w", stdout))
        abort();
}

static qlm_chat *new_chat(void)
{
    qlm_chat_params p = {.template_text = qlm_chat_builtin("chatml"), .enable_thinking = -1, .n_ctx = N_CTX,
                         .n_predict = 4, .n_threads = 1, .sampling = qlm_sampling_params_default()};
    p.sampling.temp = 0;
    qlm_chat *c;
    if (qlm_chat_new(g_lm, &p, &c) != QLM_OK)
        abort();
    return c;
}

static void on_text(void *user, const char *s, size_t n, bool think)
{
    (void)user, (void)s, (void)n, (void)think;
}

/* The parse of `line` keeps the promises of repl_cmd.h. */
static void check_parse(const char *line, const repl_cmd *c)
{
    size_t n = strlen(line);
    switch (c->kind) {
    case REPL_BAD:
        if (!c->msg[0] || strchr(c->msg, '\n'))
            abort();
        break;
    case REPL_SAVE:
    case REPL_LOAD:
        if (!*c->arg)
            abort();
        /* fallthrough */
    case REPL_SYSTEM:
        if (c->arg < line || c->arg > line + n)
            abort();
        break;
    case REPL_SET:
        if (c->setting == REPL_SET_THINK ? (c->whole < -1 || c->whole > 1)
            : (c->setting == REPL_SET_TOP_K || c->setting == REPL_SET_SEED || c->setting == REPL_SET_N_PREDICT)
                ? (c->whole < 0 || c->whole > REPL_SET_INT_MAX)
                : c->num != c->num)
            abort();
        break;
    case REPL_QUIT: case REPL_HELP: case REPL_RESET: case REPL_UNDO: case REPL_STATS: case REPL_CONTEXT:
        break;
    default:
        abort();
    }
}

/* Returns false for /quit. */
static bool run_line(qlm_chat *c, const char *line, int *turns)
{
    if (line[0] == '/') {
        repl_cmd cmd;
        repl_cmd_parse(line, &cmd);
        check_parse(line, &cmd);
        if (cmd.kind == REPL_SAVE)
            line = "/save c.json";
        else if (cmd.kind == REPL_LOAD)
            line = "/load c.json";
        return qlm_repl_command(c, line, g_null);
    }
    if (line[0] && (*turns)++ < MAX_TURNS) {
        qlm_chat_stream s = {on_text, NULL, NULL};
        qlm_chat_turn(c, line, &s);
    }
    return true;
}

static void check_round_trip(qlm_chat *c)
{
    if (qlm_chat_save(c, "r.json") != QLM_OK)
        abort();
    qlm_chat *d = new_chat();
    qlm_status st = qlm_chat_load(d, "r.json");
    if (st == QLM_OK) {
        char *a, *b;
        size_t na, nb;
        if (qlm_chat_render(c, false, &a, &na) || qlm_chat_render(d, false, &b, &nb))
            abort();
        if (na != nb || memcmp(a, b, na))
            abort(); /* what was saved is not what comes back */
        free(a);
        free(b);
    } else if (st != QLM_E_LIMIT) {
        fprintf(stderr, "fuzz_repl: a saved conversation does not load: %s\n", qlm_errmsg());
        abort();
    }
    qlm_chat_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready++)
        setup();
    char *text = malloc(size + 1);
    if (!text)
        abort();
    memcpy(text, data, size);
    text[size] = 0;
    size_t len_lines = strlen(text);
    unlink("c.json");
    if (len_lines < size) {
        FILE *f = fopen("c.json", "wb");
        size_t rest = size - len_lines - 1;
        if (!f || fwrite(text + len_lines + 1, 1, rest, f) != rest || fclose(f))
            abort();
    }
    qlm_chat *c = new_chat();
    int turns = 0;
    for (char *line = text, *end; line;) {
        if ((end = strchr(line, '\n')))
            *end = 0;
        qlm_err_clear();
        bool go = run_line(c, line, &turns);
        qlm_chat_stats s = qlm_chat_get_stats(c);
        if (s.n_past < 0 || s.n_past > s.n_ctx)
            abort();
        if (!go)
            break;
        line = end ? end + 1 : NULL;
    }
    check_round_trip(c);
    qlm_chat_free(c);
    free(text);
    return 0;
}
