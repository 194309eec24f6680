/* The BPE merge engine on tiny hand-made vocabularies, where the expected
 * ids follow directly from the algorithm's definition: apply the merge of
 * lowest rank first, the leftmost occurrence among equals, until no pair
 * has a merge. Also construction errors and invalid UTF-8. */
#include <stdlib.h>
#include <string.h>

#include "formats/common/utf8.h"
#include "runtime/tokenizer/bpe.h"
#include "tests/common/testutil.h"

/* Ids 0..255: the byte-level characters in byte order; then `extra`. */
typedef struct {
    char text[300][16];
    const char *tok[300];
    size_t len[300];
    size_t n;
} vocab;

static void vocab_init(vocab *v, const char *const *extra)
{
    v->n = 0;
    for (unsigned b = 0; b < 256; b++, v->n++) {
        v->len[v->n] = utf8_encode(qlm_bpe_byte_to_cp((uint8_t)b), v->text[v->n]);
        v->tok[v->n] = v->text[v->n];
    }
    for (; extra && *extra; extra++, v->n++) {
        v->len[v->n] = strlen(*extra);
        memcpy(v->text[v->n], *extra, v->len[v->n]);
        v->tok[v->n] = v->text[v->n];
    }
}

static qlm_bpe *build(const vocab *v, const char *const *merges, const char *pre)
{
    size_t n = 0, lens[64];
    for (; merges && merges[n]; n++)
        lens[n] = strlen(merges[n]);
    qlm_bpe *b;
    assert_ok(qlm_bpe_new(v->tok, v->len, v->n, merges, lens, n, pre, &b));
    return b;
}

static void expect(const qlm_bpe *b, const char *text, size_t len, const int32_t *want, size_t n_want)
{
    int32_t *ids = NULL;
    size_t n = 0, cap = 0;
    assert_ok(qlm_bpe_encode(b, text, len, &ids, &n, &cap));
    assert_int_equal(n, n_want);
    if (n)
        assert_memory_equal(ids, want, n * sizeof *ids);
    free(ids);
}

#define EXPECT(b, text, ...)                                                                       \
    do {                                                                                           \
        const int32_t want_[] = {__VA_ARGS__};                                                     \
        expect(b, text, strlen(text), want_, sizeof want_ / sizeof *want_);                        \
    } while (0)

static void test_rank_order(void **state)
{
    (void)state;
    vocab v;
    vocab_init(&v, (const char *const[]){"bc", "ab", "abc", NULL}); /* ids 256, 257, 258 */
    /* "b c" has the lower rank, so "abc" is a + bc, and "a bc" is no merge */
    qlm_bpe *b = build(&v, (const char *const[]){"b c", "a b", "ab c", NULL}, "gpt-2");
    EXPECT(b, "abc", 'a', 256);
    qlm_bpe_free(b);
    /* with the ranks swapped: ab first, then ab + c */
    b = build(&v, (const char *const[]){"a b", "b c", "ab c", NULL}, "gpt-2");
    EXPECT(b, "abc", 258);
    EXPECT(b, "cab", 'c', 257);
    qlm_bpe_free(b);
}

static void test_leftmost(void **state)
{
    (void)state;
    vocab v;
    vocab_init(&v, (const char *const[]){"aa", "aaa", NULL}); /* 256, 257 */
    qlm_bpe *b = build(&v, (const char *const[]){"a a", "aa a", NULL}, "gpt-2");
    /* aaaa: (a a) a a -> aa (a a) -> aa aa: "aa a" never applies */
    EXPECT(b, "aaaa", 256, 256);
    /* aaa: (a a) a -> aa a -> aaa */
    EXPECT(b, "aaa", 257);
    EXPECT(b, "aaaaa", 256, 257);
    qlm_bpe_free(b);
}

static void test_ignore_merges(void **state)
{
    (void)state;
    vocab v;
    vocab_init(&v, (const char *const[]){"ab", "abc", NULL}); /* 256, 257; no merge makes abc */
    qlm_bpe *b = build(&v, (const char *const[]){"a b", NULL}, "gpt-2");
    EXPECT(b, "abc", 256, 'c');
    qlm_bpe_set_ignore_merges(b, true);
    EXPECT(b, "abc", 257);
    EXPECT(b, "abcd", 256, 'c', 'd'); /* not a vocabulary word: merged as usual */
    qlm_bpe_free(b);
}

static void test_pieces_do_not_merge(void **state)
{
    (void)state;
    vocab v;
    vocab_init(&v, (const char *const[]){"\xc4\xa0" "a", "a\xc4\xa0", NULL}); /* "Ġa" 256, "aĠ" 257 */
    qlm_bpe *b = build(&v, (const char *const[]){"a \xc4\xa0", "\xc4\xa0 a", NULL}, "gpt-2");
    /* "a a" pre-tokenizes to "a" " a": the rank-0 merge a+Ġ would cross pieces */
    EXPECT(b, "a a", 'a', 256);
    qlm_bpe_free(b);
}

static void test_invalid_utf8(void **state)
{
    (void)state;
    vocab v;
    vocab_init(&v, NULL);
    qlm_bpe *b = build(&v, NULL, "gpt-2");
    /* one U+FFFD (EF BF BD) per maximal ill-formed subpart: E2 82 is one, FF one, C3 (cut) one */
    const char text[] = "a\xe2\x82" "b\xff\xc3";
    const int32_t want[] = {'a', 0xEF, 0xBF, 0xBD, 'b', 0xEF, 0xBF, 0xBD, 0xEF, 0xBF, 0xBD};
    expect(b, text, sizeof text - 1, want, sizeof want / sizeof *want);
    /* NUL bytes are ordinary */
    const int32_t nul[] = {'x', 0, 'y'};
    expect(b, "x\0y", 3, nul, 3);
    expect(b, "", 0, NULL, 0);
    qlm_bpe_free(b);
}

static void test_missing_byte_dropped(void **state)
{
    (void)state;
    vocab v;
    vocab_init(&v, NULL);
    v.len['q'] = 0; /* the token for 'q' is now "" */
    v.tok['q'] = "";
    qlm_bpe *b = build(&v, NULL, "gpt-2");
    EXPECT(b, "aqb", 'a', 'b');
    qlm_bpe_free(b);
}

static void test_errors(void **state)
{
    (void)state;
    vocab v;
    vocab_init(&v, (const char *const[]){"ab", NULL});
    qlm_bpe *b;
    const char *bad[][2] = {{"a x", "gpt-2"}, {"ab", "gpt-2"}, {"a  b", "gpt-2"}, {"a b", "no-such-pre"},
                            {"b a", "gpt-2"}};
    const qlm_status want[] = {QLM_E_TOKENIZER, QLM_E_TOKENIZER, QLM_E_TOKENIZER, QLM_E_UNSUPPORTED,
                               QLM_E_TOKENIZER};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        const char *m = bad[i][0];
        size_t len = strlen(m);
        if (!strcmp(m, "a x"))
            v.len['x'] = 0, v.tok['x'] = ""; /* "x" is no token */
        assert_status(qlm_bpe_new(v.tok, v.len, v.n, &m, &len, 1, bad[i][1], &b), want[i]);
        assert_null(b);
        assert_true(strlen(qlm_errmsg()) > 0);
        vocab_init(&v, (const char *const[]){"ab", NULL});
    }
    assert_status(qlm_bpe_new(v.tok, v.len, v.n, NULL, NULL, 0, NULL, &b), QLM_E_UNSUPPORTED);
    assert_status(qlm_bpe_new(v.tok, v.len, 0, NULL, NULL, 0, "gpt-2", &b), QLM_E_LIMIT);
    assert_ok(qlm_bpe_new(v.tok, v.len, v.n, NULL, NULL, 0, "gpt-2", &b));
    assert_status(qlm_bpe_set_normalizer(b, "NFKC"), QLM_E_UNSUPPORTED);
    assert_ok(qlm_bpe_set_normalizer(b, "NFC"));
    assert_ok(qlm_bpe_set_normalizer(b, NULL));
    qlm_bpe_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rank_order),          cmocka_unit_test(test_leftmost),
        cmocka_unit_test(test_ignore_merges),       cmocka_unit_test(test_pieces_do_not_merge),
        cmocka_unit_test(test_invalid_utf8),        cmocka_unit_test(test_missing_byte_dropped),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
