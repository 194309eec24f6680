/* Parsing of the REPL's slash commands (repl_cmd.h). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "formats/common/num.h"
#include "runtime/chat/repl_cmd.h"

static void bad(repl_cmd *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bad(repl_cmd *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->msg, sizeof c->msg, fmt, ap);
    va_end(ap);
    /* The message quotes what was typed: keep it to one line. */
    for (char *p = c->msg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    c->kind = REPL_BAD;
}

/* The word [s, s+n) equals `w`. */
static int is(const char *s, size_t n, const char *w) { return n == strlen(w) && !memcmp(s, w, n); }

static const struct {
    const char *name;
    repl_setting setting;
} k_settings[] = {
    {"temp", REPL_SET_TEMP},     {"top_k", REPL_SET_TOP_K}, {"top_p", REPL_SET_TOP_P},
    {"min_p", REPL_SET_MIN_P},   {"repeat_penalty", REPL_SET_REPEAT_PENALTY},
    {"seed", REPL_SET_SEED},     {"n_predict", REPL_SET_N_PREDICT}, {"think", REPL_SET_THINK},
};

static void parse_set(const char *args, repl_cmd *c)
{
    size_t n = strcspn(args, " ");
    const char *v = args + n;
    v += strspn(v, " ");
    /* The value without trailing spaces (a pasted line often has some). */
    char val[64];
    size_t vn = strlen(v);
    while (vn && v[vn - 1] == ' ')
        vn--;
    if (vn >= sizeof val)
        vn = 0; /* no setting takes a value that long: report it as missing/bad */
    memcpy(val, v, vn);
    val[vn] = 0;
    size_t i = 0, count = sizeof k_settings / sizeof k_settings[0];
    while (i < count && !is(args, n, k_settings[i].name))
        i++;
    if (!n) {
        bad(c, "/set NAME VALUE (see /help)");
        return;
    }
    if (i == count) {
        bad(c, "unknown setting '%.*s' (see /help)", n > 40 ? 40 : (int)n, args);
        return;
    }
    c->kind = REPL_SET;
    c->setting = k_settings[i].setting;
    switch (c->setting) {
    case REPL_SET_THINK:
        c->whole = !strcmp(val, "on") ? 1 : !strcmp(val, "off") ? 0 : !strcmp(val, "default") ? -1 : -2;
        if (c->whole == -2)
            bad(c, "/set think on|off|default");
        return;
    case REPL_SET_TOP_K:
    case REPL_SET_SEED:
    case REPL_SET_N_PREDICT:
        if (!qlm_parse_i64(val, 0, REPL_SET_INT_MAX, &c->whole))
            bad(c, "/set %s needs a whole number from 0 to 2^62", k_settings[i].name);
        return;
    default:
        if (!qlm_parse_f64(val, -HUGE_VAL, HUGE_VAL, &c->num))
            bad(c, "/set %s needs a number", k_settings[i].name);
        return;
    }
}

void repl_cmd_parse(const char *line, repl_cmd *c)
{
    memset(c, 0, sizeof *c);
    c->arg = "";
    size_t n = strcspn(line, " ");
    const char *arg = line + n;
    arg += strspn(arg, " ");
    if (is(line, n, "/quit") || is(line, n, "/exit") || is(line, n, "/bye"))
        c->kind = REPL_QUIT;
    else if (is(line, n, "/help") || is(line, n, "/?"))
        c->kind = REPL_HELP;
    else if (is(line, n, "/reset") || is(line, n, "/clear"))
        c->kind = REPL_RESET;
    else if (is(line, n, "/system"))
        c->kind = REPL_SYSTEM;
    else if (is(line, n, "/undo"))
        c->kind = REPL_UNDO;
    else if (is(line, n, "/save"))
        c->kind = REPL_SAVE;
    else if (is(line, n, "/load"))
        c->kind = REPL_LOAD;
    else if (is(line, n, "/stats"))
        c->kind = REPL_STATS;
    else if (is(line, n, "/context"))
        c->kind = REPL_CONTEXT;
    else if (is(line, n, "/set"))
        parse_set(arg, c);
    else
        bad(c, "unknown command %.*s (see /help)", n > 40 ? 40 : (int)n, line);
    if ((c->kind == REPL_SAVE || c->kind == REPL_LOAD) && !*arg)
        bad(c, "%.*s needs a file name", (int)n, line);
    if (c->kind == REPL_SYSTEM || c->kind == REPL_SAVE || c->kind == REPL_LOAD)
        c->arg = arg;
}
