/* Unicode tables and NFC. NFC is checked against the Unicode consortium's
 * own conformance file, NormalizationTest.txt (Debian package unicode-data,
 * the same UCD version the tables were generated from). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/common/utf8.h"
#include "runtime/tokenizer/bpe.h"
#include "runtime/tokenizer/unicode.h"
#include "tests/common/testutil.h"

#define NORMALIZATION_TEST "/usr/share/unicode/NormalizationTest.txt.bz2"

static void test_classes(void **state)
{
    (void)state;
    static const struct { uint32_t cp; unsigned cls; } cases[] = {
        {'A', QLM_UC_L},     {'z', QLM_UC_L},     {'5', QLM_UC_N},     {'!', QLM_UC_P},
        {'$', QLM_UC_S},     {' ', QLM_UC_Z},     {0x00, QLM_UC_C},    {0xB2, QLM_UC_N},
        {0xB5, QLM_UC_L},    {0x0301, QLM_UC_M},  {0x0660, QLM_UC_N},  {0x2160, QLM_UC_N},
        {0x4E00, QLM_UC_L},  {0xAC00, QLM_UC_L},  {0x3000, QLM_UC_Z},  {0x200B, QLM_UC_C},
        {0xE000, QLM_UC_C},  {0xD800, QLM_UC_C},  {0x1F600, QLM_UC_S}, {0x1F3FD, QLM_UC_S},
        {0x20000, QLM_UC_L}, {0x10FFFF, QLM_UC_C}, {0x110000, QLM_UC_C}, {0xFFFFFFFF, QLM_UC_C},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        if (qlm_uc_class(cases[i].cp) != cases[i].cls)
            fail_msg("U+%04X: class %u, want %u", cases[i].cp, qlm_uc_class(cases[i].cp), cases[i].cls);
}

/* White_Space is a short, stable list (PropList.txt). */
static void test_white_space(void **state)
{
    (void)state;
    static const uint32_t ws[] = {0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680,
                                  0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007,
                                  0x2008, 0x2009, 0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000};
    size_t k = 0;
    for (uint32_t cp = 0; cp < 0x110000; cp++) {
        bool want = k < sizeof ws / sizeof *ws && ws[k] == cp;
        k += want;
        if (qlm_uc_is_ws(cp) != want)
            fail_msg("U+%04X: White_Space %d", cp, !want);
    }
}

/* GPT-2's bytes_to_unicode: 188 printable bytes keep their code point, the
 * other 68 take U+0100.. in byte order; cp_to_byte inverts it. */
static void test_byte_alphabet(void **state)
{
    (void)state;
    uint32_t next = 0x100;
    for (unsigned b = 0; b < 256; b++) {
        bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
        uint32_t want = printable ? b : next++;
        assert_int_equal(qlm_bpe_byte_to_cp((uint8_t)b), want);
        assert_int_equal(qlm_bpe_cp_to_byte(want), (int)b);
    }
    assert_int_equal(next, 0x100 + 68);
    assert_int_equal(qlm_bpe_byte_to_cp(' '), 0x120);  /* Ġ */
    assert_int_equal(qlm_bpe_byte_to_cp('\n'), 0x10A); /* Ċ */
    assert_int_equal(qlm_bpe_cp_to_byte(0x144), -1);
    assert_int_equal(qlm_bpe_cp_to_byte(0x7F), -1);
    assert_int_equal(qlm_bpe_cp_to_byte(' '), -1);
}

/* "0044 0307" -> UTF-8; returns the byte length. */
static size_t parse_cps(const char *field, char *out)
{
    size_t n = 0;
    for (char *e; *field && *field != ';'; field = e) {
        unsigned long cp = strtoul(field, &e, 16);
        assert_true(e != field && cp <= 0x10FFFF);
        n += utf8_encode((uint32_t)cp, out + n);
        while (*e == ' ')
            e++;
    }
    return n;
}

static void expect_nfc(const char *in, size_t in_len, const char *want, size_t want_len, const char *line)
{
    char *out;
    size_t out_len;
    assert_ok(qlm_uc_nfc(in, in_len, &out, &out_len));
    const char *got = out ? out : in;
    size_t got_len = out ? out_len : in_len;
    if (got_len != want_len || memcmp(got, want, want_len))
        fail_msg("NFC mismatch on NormalizationTest line: %s", line);
    free(out);
}

static void test_nfc_conformance(void **state)
{
    (void)state;
    FILE *f = fopen(NORMALIZATION_TEST, "rb");
    if (!f)
        fail_msg("%s missing: install the Debian package unicode-data", NORMALIZATION_TEST);
    fclose(f);
    FILE *p = popen("bzcat " NORMALIZATION_TEST, "r");
    assert_non_null(p);
    static bool listed[0x110000];
    char line[1024], c[5][256];
    size_t n[5], lines = 0;
    bool part1 = false;
    while (fgets(line, sizeof line, p)) {
        if (line[0] == '@') {
            part1 = !strncmp(line, "@Part1", 6);
            continue;
        }
        if (line[0] == '#' || line[0] == '\n')
            continue;
        const char *field = line;
        for (int k = 0; k < 5; k++) {
            n[k] = parse_cps(field, c[k]);
            field = strchr(field, ';');
            assert_non_null(field);
            field++;
        }
        /* NFC(c1) = NFC(c2) = NFC(c3) = c2; NFC(c4) = NFC(c5) = c4 */
        for (int k = 0; k < 3; k++)
            expect_nfc(c[k], n[k], c[1], n[1], line);
        for (int k = 3; k < 5; k++)
            expect_nfc(c[k], n[k], c[3], n[3], line);
        if (part1) {
            size_t adv;
            listed[utf8_decode(c[0], n[0], &adv)] = true;
        }
        lines++;
    }
    assert_int_equal(pclose(p), 0);
    assert_true(lines > 19000);
    /* every character not listed in part 1 is its own NFC */
    for (uint32_t cp = 0; cp < 0x110000; cp++) {
        if (listed[cp] || (cp >= 0xD800 && cp <= 0xDFFF))
            continue;
        char s[4];
        size_t len = utf8_encode(cp, s);
        char hex[16];
        snprintf(hex, sizeof hex, "U+%04X", cp);
        expect_nfc(s, len, s, len, hex);
    }
}

static void test_nfc_examples(void **state)
{
    (void)state;
    /* already NFC: no copy */
    char *out;
    size_t len;
    assert_ok(qlm_uc_nfc("caf\xc3\xa9", 5, &out, &len));
    assert_null(out);
    /* e + COMBINING ACUTE -> é; Hangul jamo L V T -> one syllable */
    expect_nfc("cafe\xcc\x81", 6, "caf\xc3\xa9", 5, "e+acute");
    expect_nfc("\xe1\x84\x80\xe1\x85\xa1\xe1\x86\xa8", 9, "\xea\xb0\x81", 3, "jamo");
    /* a lone combining mark stays */
    expect_nfc("\xcc\x81", 2, "\xcc\x81", 2, "lone mark");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classes),         cmocka_unit_test(test_white_space),
        cmocka_unit_test(test_byte_alphabet),   cmocka_unit_test(test_nfc_examples),
        cmocka_unit_test(test_nfc_conformance),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
