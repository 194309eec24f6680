/* A small line editor for the chat prompt: raw termios on a terminal,
 * plain line reads otherwise.
 *
 * Keys: left/right, Home/End (Ctrl-A/E), Backspace, Delete, Ctrl-K/U/W
 * (kill to end / line / word), up/down walk the history, Ctrl-L clears the
 * screen, Enter accepts, Ctrl-C cancels the line, Ctrl-D on an empty line is
 * end of input. Pasted text (bracketed paste) is inserted as is, newlines
 * included, so a pasted block becomes one message. The cursor moves and
 * Backspace/Delete remove whole user-perceived characters (an accented
 * letter written with a combining mark, a flag, an emoji sequence), and wide
 * CJK characters and emoji take two columns (runtime/chat/termcell.h).
 *
 * History: one entry per line in a file (newlines and backslashes escaped),
 * the last QLM_LE_HISTORY_MAX entries kept.
 */
#ifndef QLM_LINEEDIT_H
#define QLM_LINEEDIT_H

#include <stdbool.h>

#include "formats/common/err.h"

#define QLM_LE_HISTORY_MAX 1000

typedef struct qlm_lineedit qlm_lineedit;

typedef enum { QLM_LE_LINE, QLM_LE_EOF, QLM_LE_CANCEL } qlm_le_result;

/* history_path may be NULL (no persistence). A missing file is fine. */
qlm_status qlm_le_new(int in_fd, int out_fd, const char *history_path, qlm_lineedit **out);
void qlm_le_free(qlm_lineedit *le);
/* True when editing on a terminal (raw mode), false for plain reads. */
bool qlm_le_is_tty(const qlm_lineedit *le);

/* Read one line (malloc'd, no trailing newline) after printing `prompt`.
 * QLM_LE_CANCEL: Ctrl-C; *line is NULL and *was_empty says whether the
 * line was empty. */
qlm_le_result qlm_le_read(qlm_lineedit *le, const char *prompt, char **line, bool *was_empty);

/* True (once) if Ctrl-C was typed after the Enter that ended the last line
 * but before the terminal left raw mode: it was meant for what the line
 * starts (a reply), not for the next prompt. Other keys typed then are kept
 * for the next qlm_le_read. */
bool qlm_le_take_interrupt(qlm_lineedit *le);

/* Append to the history (and its file); blank lines and repeats are skipped. */
void qlm_le_history_add(qlm_lineedit *le, const char *line);

/* Default history file: $QLM_HISTORY, else $XDG_STATE_HOME/qlm/history, else
 * ~/.local/state/qlm/history; its folder is created. NULL if none. malloc'd. */
char *qlm_le_default_history(void);

#endif
