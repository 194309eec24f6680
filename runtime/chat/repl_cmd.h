/* The chat REPL's slash commands, parsed without side effects: the line a
 * person typed becomes a repl_cmd, which repl.c carries out. Kept apart from
 * the terminal and the model so that it can be tested and fuzzed on its own
 * (tests/unit/test_repl_cmd.c, tests/fuzz/fuzz_repl.c).
 *
 * Grammar: "/NAME" or "/NAME ARG", ARG after the first run of spaces (kept
 * verbatim to the end of the line, so a system prompt may hold anything).
 * /set takes "NAME VALUE": the value must be a whole number for top_k, seed
 * and n_predict (0 to 2^62), a number for temp, top_p, min_p and
 * repeat_penalty (their ranges are the sampler's to check, as for the command
 * line flags), on/off/default for think. Anything else is REPL_BAD with a
 * one-line message for the person. */
#ifndef QLM_REPL_CMD_H
#define QLM_REPL_CMD_H

#include <stdint.h>

typedef enum {
    REPL_BAD,      /* not a command, or bad arguments: see msg */
    REPL_QUIT,     /* /quit /exit /bye */
    REPL_HELP,     /* /help /? */
    REPL_RESET,    /* /reset /clear */
    REPL_SYSTEM,   /* arg: the new system prompt ("" removes it) */
    REPL_UNDO,
    REPL_SAVE,     /* arg: file name (never empty) */
    REPL_LOAD,     /* arg: file name (never empty) */
    REPL_SET,      /* setting and value below */
    REPL_STATS,
    REPL_CONTEXT,
} repl_cmd_kind;

typedef enum {
    REPL_SET_TEMP,
    REPL_SET_TOP_K,
    REPL_SET_TOP_P,
    REPL_SET_MIN_P,
    REPL_SET_REPEAT_PENALTY,
    REPL_SET_SEED,
    REPL_SET_N_PREDICT,
    REPL_SET_THINK,
} repl_setting;

/* The largest whole-number value /set accepts: well inside int64_t and
 * exactly representable, so no conversion can overflow. */
#define REPL_SET_INT_MAX ((int64_t)1 << 62)

typedef struct {
    repl_cmd_kind kind;
    const char *arg;        /* REPL_SYSTEM/SAVE/LOAD: points into the parsed line */
    repl_setting setting;   /* REPL_SET */
    double num;             /* REPL_SET_TEMP/TOP_P/MIN_P/REPEAT_PENALTY */
    int64_t whole;          /* REPL_SET_TOP_K/SEED/N_PREDICT: 0..REPL_SET_INT_MAX;
                               REPL_SET_THINK: 1 on, 0 off, -1 default */
    char msg[128];          /* REPL_BAD: what is wrong, one line, for the person */
} repl_cmd;

/* `line` starts with '/' and has no newline at the end (the REPL's reader
 * strips it; newlines inside a """ block are kept and belong to ARG). */
void repl_cmd_parse(const char *line, repl_cmd *out);

#endif
