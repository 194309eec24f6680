/* Line editor: raw-mode editing with history, or plain reads off a pipe. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "formats/common/utf8.h"
#include "runtime/chat/lineedit.h"
#include "runtime/chat/termcell.h"

struct qlm_lineedit {
    int in, out;
    bool tty;
    char *hist_path;
    char **hist;
    size_t n_hist;
    char ahead[4096];     /* keys typed after Enter, read back before the terminal */
    size_t n_ahead, at_ahead;
    bool intr_ahead;      /* a Ctrl-C was among them */
};

typedef struct {
    char *b;
    size_t n, cap, pos;  /* bytes, capacity, cursor (a code point boundary) */
} line_buf;

/* ---- history ------------------------------------------------------------------ */

/* One entry per file line: "\n" and "\\" escaped. */
static char *escape_entry(const char *s)
{
    size_t n = strlen(s), k = 0;
    char *e = malloc(2 * n + 1);
    if (!e)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' || s[i] == '\n') {
            e[k++] = '\\';
            e[k++] = s[i] == '\n' ? 'n' : '\\';
        } else {
            e[k++] = s[i];
        }
    }
    e[k] = 0;
    return e;
}

static void unescape_entry(char *s)
{
    size_t k = 0;
    for (size_t i = 0; s[i]; i++) {
        if (s[i] == '\\' && (s[i + 1] == 'n' || s[i + 1] == '\\')) {
            s[k++] = s[i + 1] == 'n' ? '\n' : '\\';
            i++;
        } else {
            s[k++] = s[i];
        }
    }
    s[k] = 0;
}

static void hist_push(qlm_lineedit *le, char *entry)
{
    if (le->n_hist == QLM_LE_HISTORY_MAX) {
        free(le->hist[0]);
        memmove(le->hist, le->hist + 1, (le->n_hist - 1) * sizeof *le->hist);
        le->n_hist--;
    }
    le->hist[le->n_hist++] = entry;
}

static void hist_load(qlm_lineedit *le)
{
    FILE *f = le->hist_path ? fopen(le->hist_path, "r") : NULL;
    if (!f)
        return;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    size_t total = 0;
    while ((n = getline(&line, &cap, f)) > 0) {
        total++;
        if (line[n - 1] == '\n')
            line[n - 1] = 0;
        if (!*line || !utf8_valid(line, strlen(line)))
            continue;
        char *e = strdup(line);
        if (!e)
            break;
        unescape_entry(e);
        hist_push(le, e);
    }
    free(line);
    fclose(f);
    if (total <= 2 * QLM_LE_HISTORY_MAX)
        return;
    /* keep the file from growing without bound: rewrite the kept entries */
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%.4000s.tmp", le->hist_path);
    FILE *o = fopen(tmp, "w");
    if (!o)
        return;
    for (size_t i = 0; i < le->n_hist; i++) {
        char *e = escape_entry(le->hist[i]);
        if (e)
            fprintf(o, "%s\n", e);
        free(e);
    }
    if (fclose(o) == 0)
        rename(tmp, le->hist_path);
    else
        remove(tmp);
}

void qlm_le_history_add(qlm_lineedit *le, const char *line)
{
    if (!line || !*line || strspn(line, " \t\n") == strlen(line))
        return;
    if (le->n_hist && strcmp(le->hist[le->n_hist - 1], line) == 0)
        return;
    char *copy = strdup(line);
    if (!copy)
        return;
    hist_push(le, copy);
    FILE *f = le->hist_path ? fopen(le->hist_path, "a") : NULL;
    char *e = f ? escape_entry(line) : NULL;
    if (e)
        fprintf(f, "%s\n", e);
    free(e);
    if (f)
        fclose(f);
}

static int mkdirs(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        int r = mkdir(path, 0700);
        *p = '/';
        if (r != 0 && errno != EEXIST)
            return -1;
    }
    return 0;
}

char *qlm_le_default_history(void)
{
    const char *env = getenv("QLM_HISTORY"), *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    char buf[4096];
    if (env && *env)
        snprintf(buf, sizeof buf, "%s", env);
    else if (xdg && *xdg)
        snprintf(buf, sizeof buf, "%s/qlm/history", xdg);
    else if (home && *home)
        snprintf(buf, sizeof buf, "%s/.local/state/qlm/history", home);
    else
        return NULL;
    char *p = strdup(buf);
    if (p && mkdirs(p) != 0) {
        free(p);
        return NULL;
    }
    return p;
}

qlm_status qlm_le_new(int in_fd, int out_fd, const char *history_path, qlm_lineedit **out)
{
    qlm_lineedit *le = calloc(1, sizeof *le);
    if (!le || !(le->hist = calloc(QLM_LE_HISTORY_MAX, sizeof *le->hist))) {
        free(le);
        return qlm_fail(QLM_E_NOMEM, "out of memory");
    }
    le->in = in_fd;
    le->out = out_fd;
    le->tty = isatty(in_fd) && isatty(out_fd);
    if (history_path && !(le->hist_path = strdup(history_path))) {
        qlm_le_free(le);
        return qlm_fail(QLM_E_NOMEM, "out of memory");
    }
    hist_load(le);
    *out = le;
    return QLM_OK;
}

void qlm_le_free(qlm_lineedit *le)
{
    if (!le)
        return;
    for (size_t i = 0; i < le->n_hist; i++)
        free(le->hist[i]);
    free(le->hist);
    free(le->hist_path);
    free(le);
}

bool qlm_le_is_tty(const qlm_lineedit *le) { return le->tty; }

bool qlm_le_take_interrupt(qlm_lineedit *le)
{
    bool r = le->intr_ahead;
    le->intr_ahead = false;
    return r;
}

/* ---- plain reads ------------------------------------------------------------------ */

static qlm_le_result read_plain(qlm_lineedit *le, const char *prompt, char **line, bool *was_empty)
{
    if (prompt && *prompt && isatty(le->out))
        (void)!write(le->out, prompt, strlen(prompt));
    line_buf l = {0};
    for (;;) {
        char c;
        ssize_t r = read(le->in, &c, 1);
        if (r < 0 && errno == EINTR) {
            free(l.b);
            *was_empty = l.n == 0;
            return QLM_LE_CANCEL;
        }
        if (r <= 0) {
            if (l.n == 0) {
                free(l.b);
                return QLM_LE_EOF;
            }
            break;
        }
        if (c == '\n')
            break;
        if (l.n + 2 > l.cap) {
            size_t cap = l.cap ? l.cap * 2 : 256;
            char *b = realloc(l.b, cap);
            if (!b) {
                free(l.b);
                return QLM_LE_EOF;
            }
            l.b = b;
            l.cap = cap;
        }
        l.b[l.n++] = c;
    }
    if (l.n && l.b[l.n - 1] == '\r')
        l.n--;
    if (!l.b && !(l.b = malloc(1)))
        return QLM_LE_EOF;
    l.b[l.n] = 0;
    *line = l.b;
    return QLM_LE_LINE;
}

/* ---- raw-mode editing ------------------------------------------------------------ */

static int term_cols(int fd)
{
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10)
        return ws.ws_col;
    return 80;
}

static bool buf_insert(line_buf *l, const char *s, size_t n)
{
    if (l->n + n + 1 > l->cap) {
        size_t cap = l->cap ? l->cap : 256;
        while (cap < l->n + n + 1)
            cap *= 2;
        char *b = realloc(l->b, cap);
        if (!b)
            return false;
        l->b = b;
        l->cap = cap;
    }
    memmove(l->b + l->pos + n, l->b + l->pos, l->n - l->pos);
    memcpy(l->b + l->pos, s, n);
    l->n += n;
    l->pos += n;
    l->b[l->n] = 0;
    return true;
}

static void buf_delete(line_buf *l, size_t from, size_t to)
{
    memmove(l->b + from, l->b + to, l->n - to);
    l->n -= to - from;
    if (l->pos > to)
        l->pos -= to - from;
    else if (l->pos > from)
        l->pos = from;
    if (l->b)
        l->b[l->n] = 0;
}

/* The cursor moves, and Backspace/Delete remove, whole user-perceived
 * characters: "e" + U+0301 or a flag is one step (termcell.h). */
static size_t prev_char(const line_buf *l, size_t pos) { return qlm_grapheme_prev(l->b, l->n, pos); }
static size_t next_char(const line_buf *l, size_t pos) { return qlm_grapheme_next(l->b, l->n, pos); }

/* Terminal cells of the grapheme at i as drawn: newlines and other control
 * bytes show as one-cell marks. */
static size_t cells_at(const line_buf *l, size_t i)
{
    return (unsigned char)l->b[i] < 0x20 ? 1 : (size_t)qlm_grapheme_cells(l->b, l->n, i);
}

static size_t visible_width(const char *s)
{
    size_t w = 0, n = strlen(s);
    for (size_t i = 0; i < n;) {
        if (s[i] == '\x1b') {
            while (s[i] && !(s[i] >= '@' && s[i] <= '~' && s[i] != '['))
                i++;
            if (s[i])
                i++;
            continue;
        }
        w += (size_t)qlm_grapheme_cells(s, n, i);
        i = qlm_grapheme_next(s, n, i);
    }
    return w;
}

/* Redraw prompt + the part of the line around the cursor that fits; wide
 * characters take two cells, combining marks none. */
static void refresh(qlm_lineedit *le, const char *prompt, const line_buf *l)
{
    size_t cols = (size_t)term_cols(le->out), pw = visible_width(prompt);
    size_t room = cols > pw + 2 ? cols - pw - 1 : 1;
    size_t start = 0, cur_cells = 0;
    for (size_t i = 0; i < l->pos; i = next_char(l, i))
        cur_cells += cells_at(l, i);
    while (cur_cells >= room && start < l->pos) {
        cur_cells -= cells_at(l, start);
        start = next_char(l, start);
    }
    char out[8192];
    size_t k = (size_t)snprintf(out, sizeof out, "\r%s", prompt);
    size_t cells = 0;
    for (size_t i = start; i < l->n && k + 8 < sizeof out;) {
        size_t j = next_char(l, i), w = cells_at(l, i);
        if (cells + w > room || k + (j - i) + 8 > sizeof out)
            break;
        if (l->b[i] == '\n') {
            memcpy(out + k, "\xe2\x8f\x8e", 3); /* ⏎ marks a newline inside the message */
            k += 3;
        } else if ((unsigned char)l->b[i] < 0x20) {
            out[k++] = '?';
        } else {
            memcpy(out + k, l->b + i, j - i);
            k += j - i;
        }
        cells += w;
        i = j;
    }
    k += (size_t)snprintf(out + k, sizeof out - k, "\x1b[0K\r");
    if (pw + cur_cells)
        k += (size_t)snprintf(out + k, sizeof out - k, "\x1b[%zuC", pw + cur_cells);
    (void)!write(le->out, out, k);
}

static int read_byte(qlm_lineedit *le)
{
    if (le->at_ahead < le->n_ahead)
        return (unsigned char)le->ahead[le->at_ahead++];
    unsigned char c;
    for (;;) {
        ssize_t r = read(le->in, &c, 1);
        if (r == 1)
            return c;
        if (r < 0 && errno == EINTR)
            continue;
        return -1;
    }
}

/* After ESC: the final byte of a CSI/SS3 sequence, with its numeric parameter. */
static int read_escape(qlm_lineedit *le, int *param)
{
    int c = read_byte(le);
    *param = 0;
    if (c != '[' && c != 'O')
        return -1;
    for (;;) {
        c = read_byte(le);
        if (c < 0)
            return -1;
        if (c >= '0' && c <= '9')
            *param = *param * 10 + (c - '0');
        else if (c != ';')
            return c;
    }
}

/* Bracketed paste: everything up to ESC [ 201 ~ goes in verbatim. */
static void read_paste(qlm_lineedit *le, line_buf *l)
{
    static const char end[] = "\x1b[201~";
    size_t matched = 0;
    for (int c; (c = read_byte(le)) >= 0;) {
        if ((char)c == end[matched]) {
            if (++matched == sizeof end - 1)
                return;
            continue;
        }
        if (matched)
            buf_insert(l, end, matched);
        matched = (char)c == end[0];
        if (!matched) {
            char ch = c == '\r' ? '\n' : (char)c;
            buf_insert(l, &ch, 1);
        }
    }
}

static void history_show(line_buf *l, const char *entry)
{
    l->n = l->pos = 0;
    buf_insert(l, entry, strlen(entry));
}

/* Up (-1) / down (+1) through the history; the line being typed is kept. */
static void history_move(qlm_lineedit *le, line_buf *l, size_t *at, char **draft, int dir)
{
    if ((dir < 0 && *at == 0) || (dir > 0 && *at >= le->n_hist))
        return;
    if (*at == le->n_hist) {
        free(*draft);
        *draft = strndup(l->b ? l->b : "", l->n);
    }
    *at = dir < 0 ? *at - 1 : *at + 1;
    history_show(l, *at == le->n_hist ? (*draft ? *draft : "") : le->hist[*at]);
}

static void escape_key(qlm_lineedit *le, line_buf *l, size_t *hist_at, char **draft)
{
    int p;
    switch (read_escape(le, &p)) {
    case 'D': l->pos = prev_char(l, l->pos); break;
    case 'C': l->pos = next_char(l, l->pos); break;
    case 'H': l->pos = 0; break;
    case 'F': l->pos = l->n; break;
    case 'A': history_move(le, l, hist_at, draft, -1); break;
    case 'B': history_move(le, l, hist_at, draft, +1); break;
    case '~':
        if (p == 3)
            buf_delete(l, l->pos, next_char(l, l->pos));
        else if (p == 1 || p == 7)
            l->pos = 0;
        else if (p == 4 || p == 8)
            l->pos = l->n;
        else if (p == 200)
            read_paste(le, l);
        break;
    default: break;
    }
}

static void delete_word(line_buf *l)
{
    size_t from = l->pos;
    while (from > 0 && l->b[from - 1] == ' ')
        from--;
    while (from > 0 && l->b[from - 1] != ' ')
        from--;
    buf_delete(l, from, l->pos);
}

/* One key; returns true when the line is finished with *r set. */
static bool key(qlm_lineedit *le, line_buf *l, int c, size_t *hist_at, char **draft, qlm_le_result *r, bool *was_empty)
{
    switch (c) {
    case -1: *r = l->n ? QLM_LE_LINE : QLM_LE_EOF; return true;
    case '\r':
    case '\n': *r = QLM_LE_LINE; return true;
    case 3: *was_empty = l->n == 0; *r = QLM_LE_CANCEL; return true;
    case 4:
        if (l->n == 0) {
            *r = QLM_LE_EOF;
            return true;
        }
        buf_delete(l, l->pos, next_char(l, l->pos));
        break;
    case 127:
    case 8: buf_delete(l, prev_char(l, l->pos), l->pos); break;
    case 1: l->pos = 0; break;
    case 5: l->pos = l->n; break;
    case 2: l->pos = prev_char(l, l->pos); break;
    case 6: l->pos = next_char(l, l->pos); break;
    case 11: buf_delete(l, l->pos, l->n); break;
    case 21: buf_delete(l, 0, l->pos); break;
    case 23: delete_word(l); break;
    case 12: (void)!write(le->out, "\x1b[H\x1b[2J", 7); break;
    case 27: escape_key(le, l, hist_at, draft); break;
    default:
        if (c >= 0x20) {
            char ch = (char)c;
            buf_insert(l, &ch, 1);
        }
        break;
    }
    return false;
}

/* Keys typed after Enter but before the terminal is back in cooked mode were
 * read as plain bytes: a Ctrl-C among them would not raise SIGINT, the reply
 * would not stop, and the byte would then cancel the next prompt (and end
 * the chat). Still in raw mode, take what is queued: Ctrl-C becomes a
 * pending interrupt for the caller (qlm_le_take_interrupt), the other keys
 * are kept, in order, for the next read. */
static void take_ahead(qlm_lineedit *le, struct termios *raw)
{
    memmove(le->ahead, le->ahead + le->at_ahead, le->n_ahead - le->at_ahead);
    le->n_ahead -= le->at_ahead;
    le->at_ahead = 0;
    raw->c_cc[VMIN] = 0; /* reads return at once with what is there */
    tcsetattr(le->in, TCSANOW, raw);
    char buf[256];
    for (ssize_t got; le->n_ahead < sizeof le->ahead && (got = read(le->in, buf, sizeof buf)) > 0;)
        for (ssize_t i = 0; i < got && le->n_ahead < sizeof le->ahead; i++) {
            if (buf[i] == 3)
                le->intr_ahead = true;
            else
                le->ahead[le->n_ahead++] = buf[i];
        }
}

static qlm_le_result edit(qlm_lineedit *le, const char *prompt, line_buf *l, bool *was_empty)
{
    size_t hist_at = le->n_hist; /* == n_hist: the line being typed */
    char *draft = NULL;
    qlm_le_result r = QLM_LE_EOF;
    refresh(le, prompt, l);
    while (!key(le, l, read_byte(le), &hist_at, &draft, &r, was_empty))
        refresh(le, prompt, l);
    free(draft);
    return r;
}

qlm_le_result qlm_le_read(qlm_lineedit *le, const char *prompt, char **line, bool *was_empty)
{
    *line = NULL;
    *was_empty = true;
    if (!le->tty)
        return read_plain(le, prompt, line, was_empty);
    struct termios orig, raw;
    if (tcgetattr(le->in, &orig) != 0)
        return read_plain(le, prompt, line, was_empty);
    raw = orig;
    raw.c_iflag &= ~(tcflag_t)(BRKINT | ICRNL | INPCK | ISTRIP | IXON);
    raw.c_cflag |= CS8;
    raw.c_lflag &= ~(tcflag_t)(ECHO | ICANON | IEXTEN | ISIG);
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    tcsetattr(le->in, TCSADRAIN, &raw); /* DRAIN, not FLUSH: keep typed-ahead input */
    (void)!write(le->out, "\x1b[?2004h", 8); /* bracketed paste on */
    line_buf l = {0};
    qlm_le_result r = edit(le, prompt, &l, was_empty);
    (void)!write(le->out, "\x1b[?2004l\r\n", 10);
    if (r == QLM_LE_LINE)
        take_ahead(le, &raw);
    tcsetattr(le->in, TCSADRAIN, &orig);
    if (r != QLM_LE_LINE) {
        free(l.b);
        return r;
    }
    if (!l.b && !(l.b = calloc(1, 1)))
        return QLM_LE_EOF;
    *line = l.b;
    return QLM_LE_LINE;
}
