/* Pre-tokenizers as split stages over UTF-8 (see pretok.h).
 *
 * Each stage is a matcher `at(s, len, i, &next)`: the end of the match that
 * starts at byte i (> i), or i when none starts there, with *next the next
 * position worth trying. A regex Split with behavior Isolated keeps the
 * leftmost matches and the gaps between them as pieces; the regexes of
 * GPT-2 and Llama-3 match at every position, so they never leave gaps.
 *
 * The matchers follow the regex semantics of Oniguruma (what HF tokenizers
 * uses): alternatives are tried in order at each position, quantifiers are
 * greedy and backtrack, \s is White_Space, \p{L} and \p{N} are the general
 * category classes (marks \p{M} are neither).
 */
#include "runtime/tokenizer/pretok.h"

#include <stdint.h>
#include <string.h>

#include "formats/common/utf8.h"
#include "runtime/tokenizer/bpe.h"
#include "runtime/tokenizer/unicode.h"

typedef size_t (*stage_fn)(const char *s, size_t len, size_t i, size_t *next);

#define MAX_STAGES 6

struct qlm_pretok {
    stage_fn stages[MAX_STAGES];
    size_t n_stages;
};

/* ---- characters ---------------------------------------------------------- */

static inline uint32_t cp_at(const char *s, size_t len, size_t i, size_t *n)
{
    unsigned char c = (unsigned char)s[i];
    if (c < 0x80) {
        *n = 1;
        return c;
    }
    return utf8_decode(s + i, len - i, n);
}

/* The three-way split the GPT-2 family regexes make: \s, \p{L}, \p{N}, other. */
enum { K_WS, K_L, K_N, K_O };

static inline int kind(uint32_t cp)
{
    unsigned f = qlm_uc_flags(cp);
    if (f & QLM_UC_WS)
        return K_WS;
    switch (f & QLM_UC_CLASS) {
    case QLM_UC_L: return K_L;
    case QLM_UC_N: return K_N;
    default: return K_O;
    }
}

static inline int kind_at(const char *s, size_t len, size_t i)
{
    size_t n;
    return kind(cp_at(s, len, i, &n));
}

/* End of the run of characters of kind k starting at i. */
static size_t run_kind(const char *s, size_t len, size_t i, int k)
{
    size_t n;
    while (i < len && kind(cp_at(s, len, i, &n)) == k)
        i += n;
    return i;
}

typedef bool (*cp_pred)(uint32_t cp);

static size_t run_pred(const char *s, size_t len, size_t i, cp_pred pred)
{
    size_t n;
    while (i < len && pred(cp_at(s, len, i, &n)))
        i += n;
    return i;
}

/* Length of the contraction after an apostrophe: s|t|re|ve|m|ll|d, with
 * `ci` also their case variants as (?i:...) matches them (Unicode simple
 * case folding adds U+017F LATIN SMALL LETTER LONG S for s). */
static size_t contraction(const char *s, size_t len, bool ci)
{
    if (!len)
        return 0;
    unsigned char a = (unsigned char)s[0], b = len > 1 ? (unsigned char)s[1] : 0;
    if (ci) {
        if (a == 0xC5 && b == 0xBF)
            return 2;
        a = (unsigned char)(a | ((a >= 'A' && a <= 'Z') ? 0x20 : 0));
        b = (unsigned char)(b | ((b >= 'A' && b <= 'Z') ? 0x20 : 0));
    }
    if (a == 's' || a == 't' || a == 'm' || a == 'd')
        return 1;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
        return 2;
    return 0;
}

/* \s+(?!\S)|\s+ at a whitespace character: the whole run when it ends the
 * text or is one character long, otherwise all but its last character
 * (which then leads the next word, as in " world"). When `nl` is set, first
 * \s*[\r\n]+ : up to and including the run's last \r or \n, if any. */
static size_t ws_run(const char *s, size_t len, size_t i, bool nl)
{
    size_t j = i, last = i, after_nl = 0, count = 0, n;
    while (j < len) {
        uint32_t c = cp_at(s, len, j, &n);
        if (kind(c) != K_WS)
            break;
        last = j;
        j += n;
        count++;
        if (c == '\r' || c == '\n')
            after_nl = j;
    }
    if (nl && after_nl)
        return after_nl;
    return (j == len || count == 1) ? j : last;
}

/* ---- whole-text regexes ---------------------------------------------------- */

/* 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
static size_t at_gpt2(const char *s, size_t len, size_t i, size_t *next)
{
    (void)next;
    if (s[i] == '\'') {
        size_t k = contraction(s + i + 1, len - i - 1, false);
        if (k)
            return i + 1 + k;
    }
    size_t j = (s[i] == ' ' && i + 1 < len && kind_at(s, len, i + 1) != K_WS) ? i + 1 : i;
    int k = kind_at(s, len, j);
    return k == K_WS ? ws_run(s, len, i, false) : run_kind(s, len, j, k);
}

/* (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,max}|
 * ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+ */
static size_t at_llama3_like(const char *s, size_t len, size_t i, size_t max_digits)
{
    size_t n;
    uint32_t c = cp_at(s, len, i, &n);
    if (c == '\'') {
        size_t k = contraction(s + i + 1, len - i - 1, true);
        if (k)
            return i + 1 + k;
    }
    int k = kind(c);
    if (k == K_L)
        return run_kind(s, len, i, K_L);
    if (k != K_N && c != '\r' && c != '\n' && i + n < len && kind_at(s, len, i + n) == K_L)
        return run_kind(s, len, i + n, K_L);
    if (k == K_N) {
        size_t e = i;
        for (size_t d = 0; d < max_digits && e < len && kind(cp_at(s, len, e, &n)) == K_N; d++)
            e += n;
        return e;
    }
    size_t j = (c == ' ' && i + 1 < len && kind_at(s, len, i + 1) == K_O) ? i + 1 : i;
    if (kind_at(s, len, j) == K_O) {
        size_t e = run_kind(s, len, j, K_O);
        while (e < len && (s[e] == '\r' || s[e] == '\n'))
            e++;
        return e;
    }
    return ws_run(s, len, i, true);
}

static size_t at_llama3(const char *s, size_t len, size_t i, size_t *next)
{
    (void)next;
    return at_llama3_like(s, len, i, 3);
}

static size_t at_qwen2(const char *s, size_t len, size_t i, size_t *next)
{
    (void)next;
    return at_llama3_like(s, len, i, 1);
}

/* ---- character-class splits ---------------------------------------------- */

static bool is_num(uint32_t cp) { return qlm_uc_class(cp) == QLM_UC_N; }
static bool is_letter(uint32_t cp) { return qlm_uc_class(cp) == QLM_UC_L; }
static bool is_punct(uint32_t cp) { return qlm_uc_class(cp) == QLM_UC_P; }
static bool is_nl(uint32_t cp) { return cp == '\r' || cp == '\n'; }

/* HF Punctuation: ASCII punctuation (which includes symbols like $+<=>^`|~)
 * or Unicode P*. */
static bool is_punct_or_ascii(uint32_t cp)
{
    if (cp < 0x80)
        return (cp >= 0x21 && cp <= 0x2F) || (cp >= 0x3A && cp <= 0x40) || (cp >= 0x5B && cp <= 0x60) ||
               (cp >= 0x7B && cp <= 0x7E);
    return is_punct(cp);
}

/* [一-龥ࠀ-一가-퟿]: U+0800..U+9FA5 and U+AC00..U+D7FF. */
static bool is_cjk(uint32_t cp) { return (cp >= 0x800 && cp <= 0x9FA5) || (cp >= 0xAC00 && cp <= 0xD7FF); }

typedef struct { uint32_t lo, hi; } cp_range;

static bool in_ranges(uint32_t cp, const cp_range *r, size_t n)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r[mid].hi < cp)
            lo = mid + 1;
        else if (r[mid].lo > cp)
            hi = mid;
        else
            return true;
    }
    return false;
}

/* DeepSeek-LLM's explicit letter class (cased letters of an older Unicode),
 * as code point ranges, sorted. */
static const cp_range DS_LETTERS[] = {
    {0x41, 0x5A}, {0x61, 0x7A}, {0xB5, 0xB5}, {0xC0, 0xD6}, {0xD8, 0xF6}, {0xF8, 0x1BA},
    {0x1BC, 0x1BF}, {0x1C4, 0x293}, {0x295, 0x2AF}, {0x370, 0x373}, {0x376, 0x377},
    {0x37B, 0x37D}, {0x37F, 0x37F}, {0x386, 0x386}, {0x388, 0x38A}, {0x38C, 0x38C},
    {0x38E, 0x3A1}, {0x3A3, 0x3F5}, {0x3F7, 0x481}, {0x48A, 0x52F}, {0x531, 0x556},
    {0x10A0, 0x10C5}, {0x13A0, 0x13F5}, {0x13F8, 0x13FD}, {0x1C90, 0x1CBA}, {0x1CBD, 0x1CBF},
    {0x1D00, 0x1D2B}, {0x1D6B, 0x1D77}, {0x1D79, 0x1D9A}, {0x1E00, 0x1F15}, {0x1F18, 0x1F1D},
    {0x1F20, 0x1F45}, {0x1F48, 0x1F4D}, {0x1F50, 0x1F57}, {0x1F59, 0x1F59}, {0x1F5B, 0x1F5B},
    {0x1F5D, 0x1F5D}, {0x1F5F, 0x1F7D}, {0x1F80, 0x1FB4}, {0x1FB6, 0x1FBC}, {0x1FBE, 0x1FBE},
    {0x1FC2, 0x1FC4}, {0x1FC6, 0x1FCC}, {0x1FD0, 0x1FD3}, {0x1FD6, 0x1FDB}, {0x1FE0, 0x1FEC},
    {0x1FF2, 0x1FF4}, {0x1FF6, 0x1FFC}, {0x2102, 0x2102}, {0x2107, 0x2107}, {0x210A, 0x2113},
    {0x2115, 0x2115}, {0x2119, 0x211D}, {0x2124, 0x2124}, {0x2126, 0x2126}, {0x2128, 0x2128},
    {0x212A, 0x212D}, {0x212F, 0x2134}, {0x2139, 0x2139}, {0x213C, 0x213F}, {0x2145, 0x2149},
    {0x214E, 0x214E}, {0x2183, 0x2184}, {0x2C00, 0x2C7B}, {0x2C7E, 0x2CE4}, {0x2CEB, 0x2CEE},
    {0x2CF2, 0x2CF3}, {0xA640, 0xA66D}, {0xA680, 0xA69B}, {0xA722, 0xA76F}, {0xA771, 0xA787},
    {0xA78B, 0xA78E}, {0xAB70, 0xABBF}, {0xFB00, 0xFB06}, {0xFB13, 0xFB17}, {0xFF21, 0xFF3A},
    {0xFF41, 0xFF5A}, {0x10400, 0x1044F}, {0x104B0, 0x104D3}, {0x104D8, 0x104FB},
    {0x10C80, 0x10CB2}, {0x10CC0, 0x10CF2}, {0x118A0, 0x118DF}, {0x1E900, 0x1E943},
};

/* DeepSeek-LLM's punctuation class [!-/:-~！-／：-～‘-‟　-。] (ASCII letters
 * included, as written). */
static const cp_range DS_PUNCT[] = {
    {0x21, 0x2F}, {0x3A, 0x7E}, {0x2018, 0x201F}, {0x3000, 0x3002}, {0xFF01, 0xFF0F}, {0xFF1A, 0xFF5E},
};

static bool is_ds_letter(uint32_t cp) { return in_ranges(cp, DS_LETTERS, sizeof DS_LETTERS / sizeof *DS_LETTERS); }
static bool is_ds_punct(uint32_t cp) { return in_ranges(cp, DS_PUNCT, sizeof DS_PUNCT / sizeof *DS_PUNCT); }

/* One character of the class, or a run of them. */
static size_t one_of(const char *s, size_t len, size_t i, size_t *next, cp_pred pred)
{
    size_t n;
    bool hit = pred(cp_at(s, len, i, &n));
    *next = i + n;
    return hit ? i + n : i;
}

static size_t run_of(const char *s, size_t len, size_t i, size_t *next, cp_pred pred)
{
    size_t e = run_pred(s, len, i, pred), n;
    if (e == i) {
        cp_at(s, len, i, &n);
        *next = i + n;
    }
    return e;
}

/* \s?[class]+ : greedy optional whitespace, given back if no class follows. */
static size_t ws_opt_run_of(const char *s, size_t len, size_t i, size_t *next, cp_pred pred)
{
    size_t n;
    uint32_t c = cp_at(s, len, i, &n);
    if ((qlm_uc_flags(c) & QLM_UC_WS) && i + n < len) {
        size_t e = run_pred(s, len, i + n, pred);
        if (e > i + n)
            return e;
    }
    *next = i + n;
    return run_pred(s, len, i, pred);
}

static size_t at_num1(const char *s, size_t len, size_t i, size_t *next) { return one_of(s, len, i, next, is_num); }
static size_t at_nl1(const char *s, size_t len, size_t i, size_t *next) { return one_of(s, len, i, next, is_nl); }
static size_t at_nums(const char *s, size_t len, size_t i, size_t *next) { return run_of(s, len, i, next, is_num); }
static size_t at_cjk(const char *s, size_t len, size_t i, size_t *next) { return run_of(s, len, i, next, is_cjk); }
static size_t at_puncts(const char *s, size_t len, size_t i, size_t *next)
{
    return run_of(s, len, i, next, is_punct_or_ascii);
}
static size_t at_ws_letters(const char *s, size_t len, size_t i, size_t *next)
{
    return ws_opt_run_of(s, len, i, next, is_letter);
}
static size_t at_ws_puncts(const char *s, size_t len, size_t i, size_t *next)
{
    return ws_opt_run_of(s, len, i, next, is_punct);
}
static size_t at_ws_ds_letters(const char *s, size_t len, size_t i, size_t *next)
{
    return ws_opt_run_of(s, len, i, next, is_ds_letter);
}
static size_t at_ws_ds_puncts(const char *s, size_t len, size_t i, size_t *next)
{
    return ws_opt_run_of(s, len, i, next, is_ds_punct);
}

/* \s+$ : the whitespace run that ends the piece ($ before a final \n too,
 * but earlier stages have already isolated every \n). */
static size_t at_trailing_ws(const char *s, size_t len, size_t i, size_t *next)
{
    size_t n;
    if (!(qlm_uc_flags(cp_at(s, len, i, &n)) & QLM_UC_WS)) {
        *next = i + n;
        return i;
    }
    size_t j = run_kind(s, len, i, K_WS);
    *next = j; /* no later start inside this run can reach the end either */
    return j == len ? j : i;
}

/* Stages after ByteLevel see the byte-level alphabet: one character per
 * byte, so these step byte by byte. Digits there: bytes whose stand-in is
 * \p{N} (ASCII digits, and 0xB2 0xB3 0xB9 0xBC-0xBE whose stand-ins are
 * themselves: ² ³ ¹ ¼ ½ ¾). */
static size_t at_byte_nums(const char *s, size_t len, size_t i, size_t *next)
{
    size_t e = i;
    while (e < len && is_num(qlm_bpe_byte_to_cp((uint8_t)s[e])))
        e++;
    *next = i + 1;
    return e;
}

/* [0-9]{3} (ASCII; the same on raw and byte-level text). */
static size_t at_digits3(const char *s, size_t len, size_t i, size_t *next)
{
    *next = i + 1;
    for (size_t k = 0; k < 3; k++)
        if (i + k >= len || s[i + k] < '0' || s[i + k] > '9')
            return i;
    return i + 3;
}

/* ---- the table --------------------------------------------------------------- */

static const qlm_pretok GPT2 = {{at_gpt2}, 1};
static const qlm_pretok LLAMA3 = {{at_llama3}, 1};
static const qlm_pretok QWEN2 = {{at_qwen2}, 1};
static const qlm_pretok SMOLLM = {{at_num1, at_gpt2}, 2};
static const qlm_pretok FALCON = {{at_puncts, at_gpt2, at_byte_nums, at_digits3}, 4};
/* Split [\r\n], \s?\p{L}+, \s?\p{P}+, [一-龥ࠀ-一가-퟿]+, Digits(individual) */
static const qlm_pretok DEEPSEEK_CODER = {{at_nl1, at_ws_letters, at_ws_puncts, at_cjk, at_num1}, 5};
/* Split [\r\n], \s?[letters]+, \s?[punct]+, \s+$, [一-龥ࠀ-一가-퟿]+, \p{N}+ */
static const qlm_pretok DEEPSEEK_LLM = {{at_nl1, at_ws_ds_letters, at_ws_ds_puncts, at_trailing_ws, at_cjk, at_nums}, 6};

static const struct {
    const char *name;
    const qlm_pretok *pre;
} NAMES[] = {
    {"gpt-2", &GPT2},       {"gpt-neox", &GPT2},     {"mpt", &GPT2},           {"default", &GPT2},
    {"llama-bpe", &LLAMA3}, {"llama3", &LLAMA3},     {"qwen2", &QWEN2},        {"smollm", &SMOLLM},
    {"starcoder", &SMOLLM}, {"refact", &SMOLLM},     {"falcon", &FALCON},      {"deepseek-coder", &DEEPSEEK_CODER},
    {"deepseek-llm", &DEEPSEEK_LLM},
};

#define N_NAMES (sizeof NAMES / sizeof *NAMES)

const qlm_pretok *qlm_pretok_find(const char *name)
{
    for (size_t i = 0; name && i < N_NAMES; i++)
        if (!strcmp(name, NAMES[i].name))
            return NAMES[i].pre;
    return NULL;
}

bool qlm_pretok_known(const char *name) { return qlm_pretok_find(name) != NULL; }

const char *qlm_pretok_name(size_t i) { return i < N_NAMES ? NAMES[i].name : NULL; }

static qlm_status run_stage(const qlm_pretok *p, size_t k, const char *s, size_t len, qlm_pretok_sink sink,
                            void *ctx)
{
    if (k == p->n_stages)
        return sink(ctx, s, len);
    stage_fn at = p->stages[k];
    size_t gap = 0, i = 0;
    qlm_status st;
    while (i < len) {
        size_t next = i + 1;
        size_t e = at(s, len, i, &next);
        if (e <= i) {
            i = next;
            continue;
        }
        if (gap < i && (st = run_stage(p, k + 1, s + gap, i - gap, sink, ctx)) != QLM_OK)
            return st;
        if ((st = run_stage(p, k + 1, s + i, e - i, sink, ctx)) != QLM_OK)
            return st;
        gap = i = e;
    }
    if (gap < len)
        return run_stage(p, k + 1, s + gap, len - gap, sink, ctx);
    return QLM_OK;
}

qlm_status qlm_pretok_run(const qlm_pretok *p, const char *text, size_t len, qlm_pretok_sink sink, void *ctx)
{
    return run_stage(p, 0, text, len, sink, ctx);
}
