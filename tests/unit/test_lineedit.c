/* The chat line editor with wide (CJK, emoji) and combining characters:
 * column widths against the UCD's EastAsianWidth.txt, grapheme boundaries,
 * and cursor movement / deletion through a pseudo-terminal. */
#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "tests/common/testutil.h"
#include "runtime/chat/lineedit.h"
#include "runtime/chat/termcell.h"
#include "runtime/tokenizer/unicode.h"

#define EAW_FILE "/usr/share/unicode/EastAsianWidth.txt"

static void test_widths_match_ucd(void **state)
{
    (void)state;
    FILE *f = fopen(EAW_FILE, "r");
    if (!f)
        fail_msg("%s missing: install Debian's unicode-data", EAW_FILE);
    static unsigned char wide[0x110000];
    char line[512], version[64] = "";
    while (fgets(line, sizeof line, f)) {
        if (!version[0])
            sscanf(line, "# EastAsianWidth-%63[0-9.]", version);
        unsigned a, b;
        char cls[4];
        int k = sscanf(line, "%x..%x;%3s", &a, &b, cls);
        if (k == 2 || k == 1) {
            b = a;
            if (sscanf(line, "%x;%3s", &a, cls) != 2)
                continue;
        } else if (k != 3) {
            continue;
        }
        for (unsigned cp = a; cp <= b && cp < 0x110000; cp++)
            wide[cp] = cls[0] == 'W' || cls[0] == 'F';
    }
    fclose(f);
    /* "15.0.0." -> compare the numbers only */
    size_t vl = strlen(version);
    if (vl && version[vl - 1] == '.')
        version[vl - 1] = 0;
    assert_string_equal(version, qlm_ucd_version);
    for (uint32_t cp = 0; cp < 0x110000; cp++) {
        if (qlm_uc_class(cp) == QLM_UC_M)
            continue; /* combining marks are 0 however wide their base would be */
        if ((qlm_cp_cells(cp) == 2) != wide[cp])
            fail_msg("U+%04X: %d cells, EastAsianWidth says %s", cp, qlm_cp_cells(cp), wide[cp] ? "W/F" : "not W/F");
    }
    assert_int_equal(qlm_cp_cells(0x0301), 0); /* combining acute */
    assert_int_equal(qlm_cp_cells(0x200D), 0); /* ZWJ */
    assert_int_equal(qlm_cp_cells('a'), 1);
    assert_int_equal(qlm_cp_cells(0x65E5), 2); /* 日 */
    assert_int_equal(qlm_cp_cells(0x1F600), 2);
}

/* Boundaries found walking forward must equal those walking back. */
static void check_boundaries(const char *s, const size_t *want, size_t n_want)
{
    size_t n = strlen(s), pos = 0, k = 0;
    while (pos < n) {
        assert_true(k < n_want);
        assert_int_equal(pos, want[k++]);
        pos = qlm_grapheme_next(s, n, pos);
    }
    assert_int_equal(pos, n);
    assert_int_equal(k, n_want);
    for (size_t i = n_want; i-- > 0;) {
        assert_int_equal(qlm_grapheme_prev(s, n, pos), want[i]);
        pos = want[i];
    }
    assert_int_equal(qlm_grapheme_prev(s, n, 0), 0);
}

static void test_graphemes(void **state)
{
    (void)state;
    check_boundaries("e\xcc\x81x", (size_t[]){0, 3}, 2);                      /* é (decomposed) x */
    check_boundaries("\xe6\x97\xa5\xe6\x9c\xac", (size_t[]){0, 3}, 2);          /* 日本 */
    check_boundaries("\xf0\x9f\x87\xaf\xf0\x9f\x87\xb5\xf0\x9f\x87\xba\xf0\x9f\x87\xb8", (size_t[]){0, 8}, 2); /* 🇯🇵🇺🇸 */
    check_boundaries("\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7!", (size_t[]){0, 18}, 2);
    check_boundaries("\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd", (size_t[]){0}, 1);      /* thumbs up + skin tone */
    check_boundaries("a\xff" "b", (size_t[]){0, 1, 2}, 3);                     /* a stray byte is its own */
    const char *flag = "\xf0\x9f\x87\xaf\xf0\x9f\x87\xb5";
    assert_int_equal(qlm_grapheme_cells(flag, 8, 0), 2);
}

/* ---- the editor on a pseudo-terminal ---- */

typedef struct {
    int master, slave;
} pty_pair;

static void pty_open(pty_pair *p)
{
    struct winsize ws = {.ws_row = 24, .ws_col = 80};
    assert_int_equal(openpty(&p->master, &p->slave, NULL, NULL, &ws), 0);
    /* Raw before any key is written: in cooked mode the line discipline
     * would act on the keys (erase on Backspace) before the editor runs. */
    struct termios t;
    assert_int_equal(tcgetattr(p->slave, &t), 0);
    cfmakeraw(&t);
    assert_int_equal(tcsetattr(p->slave, TCSANOW, &t), 0);
    fcntl(p->master, F_SETFL, fcntl(p->master, F_GETFL) | O_NONBLOCK);
}

/* Feed `keys`, read one line; *screen gets what the editor drew. */
static char *edit_line(const char *keys, char **screen)
{
    pty_pair p;
    pty_open(&p);
    qlm_lineedit *le;
    assert_ok(qlm_le_new(p.slave, p.slave, NULL, &le));
    assert_true(qlm_le_is_tty(le));
    size_t n = strlen(keys);
    assert_int_equal(write(p.master, keys, n), (ssize_t)n);
    char *line = NULL;
    bool empty;
    assert_int_equal(qlm_le_read(le, "> ", &line, &empty), QLM_LE_LINE);
    static char out[65536];
    size_t k = 0;
    for (ssize_t r; k < sizeof out - 1 && (r = read(p.master, out + k, sizeof out - 1 - k)) > 0;)
        k += (size_t)r;
    out[k] = 0;
    *screen = out;
    qlm_le_free(le);
    close(p.master);
    close(p.slave);
    return line;
}

/* Column the last redraw put the cursor at (1-based cells after the margin). */
static int last_cursor_col(const char *screen)
{
    const char *at = NULL;
    for (const char *s = screen; (s = strstr(s, "\x1b[0K\r\x1b[")); s++)
        at = s;
    assert_non_null(at);
    return atoi(at + 7);
}

#define LEFT "\x1b[D"
#define DEL "\x1b[3~"

static void test_wide_and_combining_editing(void **state)
{
    (void)state;
    char *screen;
    /* 日本語, then Left: the cursor sits before 語, 2 (prompt) + 2 + 2 cells in */
    char *line = edit_line("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e" LEFT "\r", &screen);
    assert_string_equal(line, "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");
    assert_int_equal(last_cursor_col(screen), 6);
    free(line);

    /* a 日 本 é(e + U+0301) 語: Left twice steps over 語 then over é whole;
     * Backspace removes 本, Delete removes é with its accent. */
    line = edit_line("a\xe6\x97\xa5\xe6\x9c\xac" "e\xcc\x81" "\xe8\xaa\x9e" LEFT LEFT "\x7f" DEL "\r", &screen);
    assert_string_equal(line, "a\xe6\x97\xa5\xe8\xaa\x9e");
    assert_int_equal(last_cursor_col(screen), 2 + 1 + 2);
    free(line);

    /* Backspace after a combining sequence removes it all; the cursor
     * column after "e" + U+0301 + U+0302 is one cell. */
    line = edit_line("xe\xcc\x81\xcc\x82" "\x7f" "y\r", &screen);
    assert_string_equal(line, "xy");
    free(line);
    line = edit_line("e\xcc\x81\xcc\x82" LEFT "\x1b[C" "z\r", &screen);
    assert_string_equal(line, "e\xcc\x81\xcc\x82z");
    assert_int_equal(last_cursor_col(screen), 2 + 2);
    free(line);

    /* A flag and an emoji ZWJ sequence: one Backspace each. */
    line = edit_line("\xf0\x9f\x87\xaf\xf0\x9f\x87\xb5" "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9" "\x7f" "\x7f" "k\r",
                     &screen);
    assert_string_equal(line, "k");
    free(line);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_widths_match_ucd),
        cmocka_unit_test(test_graphemes),
        cmocka_unit_test(test_wide_and_combining_editing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
