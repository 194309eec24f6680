/* Pre-tokenizers on hand-made edge cases. Each expected split is worked out
 * by hand from the regex (Oniguruma semantics: ordered alternatives, greedy
 * quantifiers with backtracking, \s = White_Space, \p{L}/\p{N} general
 * categories) and from HF's Sequence/Split(Isolated) pipeline. */
#include <stdlib.h>
#include <string.h>

#include "runtime/tokenizer/pretok.h"
#include "tests/common/testutil.h"

#define MAX_PIECES 32

typedef struct {
    const char *piece[MAX_PIECES];
    size_t len[MAX_PIECES];
    size_t n;
} pieces;

static qlm_status collect(void *ctx, const char *s, size_t len)
{
    pieces *p = ctx;
    assert_true(p->n < MAX_PIECES);
    assert_true(len > 0);
    p->piece[p->n] = s;
    p->len[p->n++] = len;
    return QLM_OK;
}

/* want: the expected pieces, NULL-terminated. */
static void check_split(const char *pre, const char *text, const char *const *want)
{
    const qlm_pretok *p = qlm_pretok_find(pre);
    assert_non_null(p);
    pieces got = {0};
    assert_ok(qlm_pretok_run(p, text, strlen(text), collect, &got));
    size_t n_want = 0;
    while (want[n_want])
        n_want++;
    bool same = got.n == n_want;
    for (size_t i = 0; same && i < n_want; i++)
        same = got.len[i] == strlen(want[i]) && !memcmp(got.piece[i], want[i], got.len[i]);
    if (!same) {
        print_error("%s split of \"%s\":\n  got ", pre, text);
        for (size_t i = 0; i < got.n; i++)
            print_error(" [%.*s]", (int)got.len[i], got.piece[i]);
        print_error("\n want");
        for (size_t i = 0; i < n_want; i++)
            print_error(" [%s]", want[i]);
        print_error("\n");
        fail();
    }
}

#define SPLIT(pre, text, ...) check_split(pre, text, (const char *const[]){__VA_ARGS__, NULL})

static void test_gpt2(void **state)
{
    (void)state;
    SPLIT("gpt-2", "Hello world", "Hello", " world");
    SPLIT("gpt-2", "I'm you're we've he'll she'd it's can't", "I", "'m", " you", "'re", " we", "'ve", " he",
          "'ll", " she", "'d", " it", "'s", " can", "'t");
    /* contractions are case-sensitive here: "'" then "T" */
    SPLIT("gpt-2", "DON'T", "DON", "'", "T");
    /* \s+(?!\S) leaves the last space to the next word */
    SPLIT("gpt-2", "a  b", "a", " ", " b");
    SPLIT("gpt-2", "a   ", "a", "   ");
    /* only a literal space joins a word: newlines and tabs stand alone */
    SPLIT("gpt-2", "x\n\ny", "x", "\n", "\n", "y");
    SPLIT("gpt-2", "\tfoo", "\t", "foo");
    SPLIT("gpt-2", "\xc2\xa0" "a", "\xc2\xa0", "a"); /* NO-BREAK SPACE is \s, not ' ' */
    SPLIT("gpt-2", "123 4567", "123", " 4567");
    SPLIT("gpt-2", "$100!!", "$", "100", "!!");
    SPLIT("gpt-2", " ?!", " ?!");
    /* CJK ideographs are \p{L} (Lo) */
    SPLIT("gpt-2", "你好 世界", "你好", " 世界");
    /* a combining mark (\p{M}) is neither letter nor number */
    SPLIT("gpt-2", "e\xcc\x81x", "e", "\xcc\x81", "x");
    /* emoji, skin tone modifier and '!' are all "other" */
    SPLIT("gpt-2", "hi \xf0\x9f\x91\x8b\xf0\x9f\x8f\xbd!", "hi", " \xf0\x9f\x91\x8b\xf0\x9f\x8f\xbd!");
    /* ² is \p{N} (No) */
    SPLIT("gpt-2", "x\xc2\xb2", "x", "\xc2\xb2");
}

static void test_llama3(void **state)
{
    (void)state;
    SPLIT("llama-bpe", "DON'T I'M", "DON", "'T", " I", "'M");
    SPLIT("llama-bpe", "12345", "123", "45");
    /* [^\r\n\p{L}\p{N}]? takes any one non-letter before a word */
    SPLIT("llama-bpe", "\tfoo (bar)", "\tfoo", " (", "bar", ")");
    /* \s*[\r\n]+ ends at the last newline of the run */
    SPLIT("llama-bpe", "a\n\n  b", "a", "\n\n", " ", " b");
    SPLIT("llama-bpe", "x !!\n\ny", "x", " !!\n\n", "y");
    SPLIT("llama-bpe", "hello  \n", "hello", "  \n");
    SPLIT("llama-bpe", "3.14", "3", ".", "14");
    SPLIT("llama-bpe", "'hello", "'hello");
}

static void test_qwen2(void **state)
{
    (void)state;
    SPLIT("qwen2", "12345", "1", "2", "3", "4", "5");
    SPLIT("qwen2", "x2y", "x", "2", "y");
    SPLIT("qwen2", "It'S 3pm", "It", "'S", " ", "3", "pm");
}

static void test_sequences(void **state)
{
    (void)state;
    /* Digits(individual) first, then the GPT-2 regex on each piece */
    SPLIT("smollm", "abc 123", "abc", " ", "1", "2", "3");
    SPLIT("starcoder", "x=10", "x", "=", "1", "0");
    /* Falcon: punctuation runs, GPT-2 regex, then digit runs and [0-9]{3} */
    SPLIT("falcon", "Hello, world!", "Hello", ",", " world", "!");
    SPLIT("falcon", "12345", "123", "45");
    /* after ByteLevel, ² is the bytes C2 B2, whose stand-ins are Â and ²: only the second is a digit */
    SPLIT("falcon", "x\xc2\xb2", "x", "\xc2", "\xb2");
    SPLIT("deepseek-coder", "foo(bar)\n12", "foo", "(", "bar", ")", "\n", "1", "2");
    SPLIT("deepseek-coder", "a  b", "a", " ", " b");
    SPLIT("deepseek-llm", "Hi 你好  ", "Hi", " ", "你好", "  ");
    SPLIT("deepseek-llm", "x 2024", "x", " ", "2024");
}

static void test_names(void **state)
{
    (void)state;
    size_t n = 0;
    for (; qlm_pretok_name(n); n++)
        assert_true(qlm_pretok_known(qlm_pretok_name(n)));
    assert_true(n >= 8);
    assert_false(qlm_pretok_known("gpt2-but-not-really"));
    assert_false(qlm_pretok_known(""));
    assert_false(qlm_pretok_known(NULL));
}

/* Whatever the bytes (valid UTF-8), the pieces tile the text exactly. */
static void test_tiling(void **state)
{
    (void)state;
    static const char text[] = "  Mixed: 'S 'll\r\n\t\tx²³ ١٢٣ ... 你好 e\xcc\x81 \xf0\x9f\x98\x80!\n\n  \xe3\x80\x80 end  ";
    for (size_t k = 0; qlm_pretok_name(k); k++) {
        pieces got = {0};
        assert_ok(qlm_pretok_run(qlm_pretok_find(qlm_pretok_name(k)), text, sizeof text - 1, collect, &got));
        const char *at = text;
        for (size_t i = 0; i < got.n; i++) {
            assert_ptr_equal(got.piece[i], at);
            at += got.len[i];
        }
        assert_ptr_equal(at, text + sizeof text - 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gpt2),      cmocka_unit_test(test_llama3), cmocka_unit_test(test_qwen2),
        cmocka_unit_test(test_sequences), cmocka_unit_test(test_names),  cmocka_unit_test(test_tiling),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
