/* The `qlm chat` read-eval-print loop. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/chat/lineedit.h"
#include "runtime/chat/repl.h"
#include "runtime/chat/repl_cmd.h"

static volatile sig_atomic_t g_interrupt;

static void on_sigint(int sig)
{
    (void)sig;
    g_interrupt = 1;
}

typedef struct {
    qlm_chat *chat;
    qlm_lineedit *le;
    bool color;      /* ANSI colours on stdout */
    bool tty_out;    /* prompts and notes are for a person */
    FILE *notes;     /* stdout on a terminal, else stderr */
    bool hide_think;
    bool in_think;   /* the reply is inside a dimmed think block */
} repl;

#define DIM "\x1b[2m"
#define BOLD "\x1b[1m"
#define RESET "\x1b[0m"

/* A one-line note to the person (dim on a terminal; stderr when scripted). */
static void note(const repl *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(const repl *r, const char *fmt, ...)
{
    FILE *f = r->notes;
    va_list ap;
    va_start(ap, fmt);
    if (r->color)
        fputs(DIM, f);
    vfprintf(f, fmt, ap);
    if (r->color)
        fputs(RESET, f);
    fputc('\n', f);
    va_end(ap);
    fflush(f);
}

static void on_text(void *user, const char *s, size_t n, bool think)
{
    repl *r = user;
    if (think && r->hide_think)
        return;
    if (r->color && think != r->in_think)
        fputs(think ? DIM : RESET, stdout);
    r->in_think = think;
    fwrite(s, 1, n, stdout);
    fflush(stdout);
}

static void print_help(const repl *r)
{
    static const char *const lines[] = {
        "/help              this list",
        "/reset             forget the conversation (the system prompt stays)",
        "/system TEXT       set the system prompt (empty: none)",
        "/undo              drop the last exchange",
        "/save FILE         save the conversation as JSON",
        "/load FILE         load a saved conversation",
        "/set NAME VALUE    temp, top_k, top_p, min_p, repeat_penalty, seed, n_predict, think (on/off/default)",
        "/stats             context used, speed and time to first token of the last reply",
        "/context           the rendered prompt as the model sees it",
        "/quit              leave (also Ctrl-D, or Ctrl-C at an empty prompt)",
        "Ctrl-C stops a reply. End a line with \\ to continue it; \"\"\" starts and ends a block.",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        note(r, "%s", lines[i]);
}

/* Resident memory in KiB (0 when unknown). */
static long rss_kib(void)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static void print_stats(const repl *r)
{
    qlm_chat_stats s = qlm_chat_get_stats(r->chat);
    note(r, "context %lld/%lld tokens, %zu messages, rss %ld KiB", (long long)s.n_past, (long long)s.n_ctx,
         s.n_messages, rss_kib());
    note(r, "last reply: %lld tokens, %.1f tokens/s, time to first token %.3f s (%lld prompt tokens evaluated, %lld reused)",
         (long long)s.reply_tokens, s.gen_tok_s, s.ttft_s, (long long)s.prompt_tokens, (long long)s.reused_tokens);
}

static void apply_set(repl *r, const repl_cmd *c)
{
    qlm_sampling_params p = qlm_chat_get_sampling(r->chat);
    switch (c->setting) {
    case REPL_SET_THINK:
        qlm_chat_set_thinking(r->chat, (int)c->whole);
        return;
    case REPL_SET_N_PREDICT:
        qlm_chat_set_n_predict(r->chat, c->whole);
        return;
    case REPL_SET_TEMP: p.temp = c->num; break;
    case REPL_SET_TOP_P: p.top_p = c->num; break;
    case REPL_SET_MIN_P: p.min_p = c->num; break;
    case REPL_SET_REPEAT_PENALTY: p.repeat_penalty = c->num; break;
    case REPL_SET_TOP_K: p.top_k = c->whole; break;
    case REPL_SET_SEED: p.seed = (uint64_t)c->whole; break;
    }
    /* The sampler checks the ranges, as it does for the command-line flags. */
    if (qlm_chat_set_sampling(r->chat, &p) != QLM_OK)
        note(r, "%s", qlm_errmsg());
}

/* A slash command (parsed by repl_cmd.c); returns false for /quit. */
static bool command(repl *r, const char *line)
{
    repl_cmd c;
    repl_cmd_parse(line, &c);
    qlm_status st = QLM_OK;
    switch (c.kind) {
    case REPL_QUIT:
        return false;
    case REPL_BAD:
        note(r, "%s", c.msg);
        break;
    case REPL_HELP:
        print_help(r);
        break;
    case REPL_RESET:
        qlm_chat_reset(r->chat);
        note(r, "conversation cleared");
        break;
    case REPL_SYSTEM:
        if ((st = qlm_chat_set_system(r->chat, c.arg)) == QLM_OK)
            note(r, *c.arg ? "system prompt set" : "system prompt removed");
        break;
    case REPL_UNDO:
        if ((st = qlm_chat_undo(r->chat)) == QLM_OK)
            note(r, "last exchange dropped");
        break;
    case REPL_SAVE:
        if ((st = qlm_chat_save(r->chat, c.arg)) == QLM_OK)
            note(r, "saved to %s", c.arg);
        break;
    case REPL_LOAD:
        if ((st = qlm_chat_load(r->chat, c.arg)) == QLM_OK)
            note(r, "loaded %s (%zu messages)", c.arg, qlm_chat_get_stats(r->chat).n_messages);
        break;
    case REPL_SET:
        apply_set(r, &c);
        break;
    case REPL_STATS:
        print_stats(r);
        break;
    case REPL_CONTEXT: {
        char *text;
        size_t len;
        if ((st = qlm_chat_render(r->chat, false, &text, &len)) == QLM_OK) {
            fwrite(text, 1, len, stdout);
            fputc('\n', stdout);
            free(text);
        }
        break;
    }
    }
    if (st != QLM_OK)
        note(r, "%s", qlm_errmsg());
    return true;
}

bool qlm_repl_command(qlm_chat *c, const char *line, FILE *notes)
{
    repl r = {.chat = c, .notes = notes};
    return command(&r, line);
}

static void turn(repl *r, const char *text)
{
    /* g_interrupt is not cleared here: a Ctrl-C typed right after Enter
     * (qlm_le_take_interrupt) or during prompt evaluation stops this reply. */
    qlm_chat_stream s = {on_text, r, &g_interrupt};
    r->in_think = false;
    qlm_status st = qlm_chat_turn(r->chat, text, &s);
    if (r->color && r->in_think)
        fputs(RESET, stdout);
    qlm_chat_stats stats = qlm_chat_get_stats(r->chat);
    if (st == QLM_OK || stats.reply_tokens)
        fputc('\n', stdout);
    fflush(stdout);
    if (stats.dropped)
        note(r, "[context full: dropped the %d oldest exchange%s]", stats.dropped, stats.dropped > 1 ? "s" : "");
    if (st == QLM_E_INTERRUPTED || stats.interrupted)
        note(r, "[interrupted]");
    else if (st != QLM_OK)
        note(r, "%s", qlm_errmsg());
    else if (stats.truncated)
        note(r, "[reply cut at the length limit]");
    g_interrupt = 0;
}

/* Append `piece` and a newline-joined continuation to *acc. */
static bool append(char **acc, const char *piece, bool newline)
{
    size_t a = *acc ? strlen(*acc) : 0, b = strlen(piece);
    char *s = realloc(*acc, a + b + 2);
    if (!s)
        return false;
    if (a && newline)
        s[a++] = '\n';
    memcpy(s + a, piece, b + 1);
    *acc = s;
    return true;
}

/* One message: a line, a backslash-continued line, or a """ block.
 * Returns 0 with *msg, 1 at end of input / exit, 2 when cancelled. */
static int read_message(repl *r, char **msg)
{
    const char *prompt = r->color ? BOLD ">>> " RESET : ">>> ";
    const char *more = r->color ? DIM "... " RESET : "... ";
    char *line, *acc = NULL;
    bool empty, block = false, first = true;
    for (;;) {
        g_interrupt = 0; /* a Ctrl-C that came as a reply ended was meant for the reply */
        qlm_le_result res = qlm_le_read(r->le, first ? prompt : more, &line, &empty);
        if (res == QLM_LE_EOF) {
            free(acc);
            return 1;
        }
        if (res == QLM_LE_CANCEL) {
            free(acc);
            return (empty && first) ? 1 : 2;
        }
        bool fence = strcmp(line, "\"\"\"") == 0;
        size_t n = strlen(line);
        bool cont = !block && !fence && n && line[n - 1] == '\\';
        if (cont)
            line[n - 1] = 0;
        bool ok = fence ? true : append(&acc, line, !first);
        free(line);
        if (!ok) {
            free(acc);
            return 1;
        }
        if (fence && (block || first)) {
            block = !block;
            if (!block)
                break;
            first = false;
            continue;
        }
        first = false;
        if (!block && !cont)
            break;
    }
    *msg = acc ? acc : strdup("");
    return *msg ? 0 : 1;
}

int qlm_repl_run(qlm_chat *c, const qlm_repl_opts *o)
{
    repl r = {.chat = c, .hide_think = o->hide_think};
    r.tty_out = isatty(STDOUT_FILENO);
    r.notes = r.tty_out ? stdout : stderr;
    const char *nc = getenv("NO_COLOR");
    r.color = r.tty_out && !(nc && *nc);
    if (qlm_le_new(STDIN_FILENO, STDOUT_FILENO, o->history, &r.le) != QLM_OK) {
        fprintf(stderr, "qlm: %s\n", qlm_errmsg());
        return 1;
    }
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint; /* no SA_RESTART: a blocked read returns EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old);
    if (r.tty_out) {
        qlm_chat_stats s = qlm_chat_get_stats(c);
        note(&r, "qlm chat: %s, context %lld tokens. /help for commands, Ctrl-D to quit.", o->model_name,
             (long long)s.n_ctx);
    }
    for (;;) {
        char *msg = NULL;
        int rc = read_message(&r, &msg);
        if (rc == 1)
            break;
        if (rc == 2)
            continue;
        if (qlm_le_take_interrupt(r.le))
            g_interrupt = 1;
        if (*msg) {
            qlm_le_history_add(r.le, msg);
            if (msg[0] == '/') {
                bool go = command(&r, msg);
                free(msg);
                if (!go)
                    break;
                continue;
            }
            turn(&r, msg);
        }
        free(msg);
    }
    sigaction(SIGINT, &old, NULL);
    qlm_le_free(r.le);
    return 0;
}
