/* The interactive `qlm chat` loop: line editing, slash commands, streamed
 * replies, Ctrl-C handling. Colours only on a terminal without NO_COLOR;
 * when stdout is not a terminal only the replies are printed, one per turn.
 *
 * Input conventions: a line ending in a backslash continues on the next
 * line; a line that is exactly three double quotes starts a block that runs
 * to the next such line; pasted text keeps its newlines.
 */
#ifndef QLM_REPL_H
#define QLM_REPL_H

#include <stdbool.h>
#include <stdio.h>

#include "runtime/chat/chat.h"

typedef struct {
    const char *model_name;  /* shown in the banner */
    bool hide_think;         /* do not print <think>...</think> */
    const char *history;     /* history file, or NULL */
} qlm_repl_opts;

/* Runs until /quit, Ctrl-D, or Ctrl-C at an empty prompt. Returns the exit code. */
int qlm_repl_run(qlm_chat *c, const qlm_repl_opts *o);

/* One slash-command line (starting with '/') carried out on `c` as the REPL
 * does, its notes to `notes` without colours; false for /quit. For the
 * fuzzer and tests. */
bool qlm_repl_command(qlm_chat *c, const char *line, FILE *notes);

#endif
