/* Template lexer: jinja2's tokeniser with trim_blocks and lstrip_blocks on.
 *
 * Data between tags becomes TK_TEXT after whitespace control:
 *  - "{%-", "{{-", "{#-" strip all whitespace (newlines included) before the tag;
 *  - otherwise "{%" and "{#" (not "{{", not "{%+") strip spaces/tabs that sit
 *    alone between the start of a line and the tag (lstrip_blocks);
 *  - "-%}", "-}}", "-#}" strip all whitespace after the tag;
 *  - "%}" and "#}" eat one following newline (trim_blocks), "+%}" does not.
 * Inside tags, tokens are names, ints, strings and operators.
 */
#include <string.h>

#include "formats/common/utf8.h"
#include "runtime/chat/tpl_internal.h"

typedef struct {
    tpl_arena *a;
    const char *s;    /* normalised source */
    size_t n, pos;
    size_t line_pos;  /* line counting cursor */
    int line;
    bool line_starting;
    tpl_token *toks;
    size_t n_toks, cap;
} lexer;

#define TRY(x) do { qlm_status s_ = (x); if (s_ != QLM_OK) return s_; } while (0)

static int line_of(lexer *L, size_t pos)
{
    for (; L->line_pos < pos && L->line_pos < L->n; L->line_pos++)
        if (L->s[L->line_pos] == '\n')
            L->line++;
    return L->line;
}

static qlm_status emit(lexer *L, tk_kind kind, size_t at, const char *p, size_t n)
{
    if (L->n_toks == L->cap) {
        size_t cap = L->cap ? L->cap * 2 : 256;
        tpl_token *t = tpl_alloc(L->a, cap * sizeof *t);
        if (!t)
            return qlm_fail_context(QLM_E_LIMIT, "chat template");
        if (L->n_toks)
            memcpy(t, L->toks, L->n_toks * sizeof *t);
        L->toks = t;
        L->cap = cap;
    }
    tpl_token *t = &L->toks[L->n_toks++];
    t->kind = kind;
    t->line = line_of(L, at);
    t->p = p;
    t->n = n;
    t->i = 0;
    return QLM_OK;
}

static bool starts(const lexer *L, size_t at, const char *lit)
{
    size_t k = strlen(lit);
    return at <= L->n && L->n - at >= k && memcmp(L->s + at, lit, k) == 0;
}

/* Python's str.rstrip() / lstrip() over UTF-8. */
static size_t skip_space(const lexer *L, size_t at) { return at + tpl_space_prefix(L->s + at, L->n - at); }

/* Newlines \r\n and \r become \n; one trailing newline is dropped. */
static qlm_status normalise(tpl_arena *a, const char *src, size_t len, const char **out, size_t *n)
{
    char *d = tpl_alloc(a, len + 1);
    if (!d)
        return qlm_fail_context(QLM_E_LIMIT, "chat template");
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        if (src[i] == '\r') {
            d[k++] = '\n';
            if (i + 1 < len && src[i + 1] == '\n')
                i++;
        } else {
            d[k++] = src[i];
        }
    }
    if (k && d[k - 1] == '\n')
        k--;
    d[k] = 0;
    *out = d;
    *n = k;
    return QLM_OK;
}

/* Leading data before a tag, whitespace control applied. `sign` is the char
 * after the tag opener; `block` is true for {% and {#. */
static qlm_status emit_data(lexer *L, size_t start, size_t end, char sign, bool block)
{
    const char *t = L->s + start;
    size_t n = end - start;
    if (sign == '-') {
        n -= tpl_space_suffix(t, n);
    } else if (sign != '+' && block) {
        size_t l_pos = n;
        while (l_pos > 0 && t[l_pos - 1] != '\n')
            l_pos--;
        if ((l_pos > 0 || L->line_starting) && l_pos < n && tpl_space_prefix(t + l_pos, n - l_pos) == n - l_pos)
            n = l_pos;
    }
    return n ? emit(L, TK_TEXT, start, t, n) : QLM_OK;
}

/* After a "%}" or "#}" (at `at`, `len` bytes, sign '-', '+' or 0): the
 * position after the whitespace it eats, and line_starting for what follows. */
static size_t after_end(lexer *L, size_t at, size_t len, char sign)
{
    size_t p = at + len;
    if (sign == '-')
        p = skip_space(L, p);
    else if (sign == 0 && p < L->n && L->s[p] == '\n')
        p++;
    L->line_starting = p > 0 && L->s[p - 1] == '\n';
    return p;
}

static qlm_status lex_comment(lexer *L, size_t begin)
{
    for (size_t i = L->pos; i < L->n; i++) {
        char sign = 0;
        size_t len = 0;
        if (starts(L, i, "+#}") || starts(L, i, "-#}"))
            sign = L->s[i], len = 3;
        else if (starts(L, i, "#}"))
            len = 2;
        if (len) {
            L->pos = after_end(L, i, len, sign);
            return QLM_OK;
        }
    }
    return tpl_err(line_of(L, begin), "missing end of comment tag");
}

/* {% raw %}...{% endraw %}: the body is data; `p` is just after "raw". */
static bool match_word_tag(const lexer *L, size_t p, const char *word, size_t *end, char *end_sign)
{
    p = skip_space(L, p);
    if (!starts(L, p, word))
        return false;
    p = skip_space(L, p + strlen(word));
    if (starts(L, p, "+%}") || starts(L, p, "-%}")) {
        *end_sign = L->s[p];
        *end = p + 3;
    } else if (starts(L, p, "%}")) {
        *end_sign = 0;
        *end = p + 2;
    } else {
        return false;
    }
    return true;
}

static qlm_status lex_raw(lexer *L, size_t begin)
{
    for (size_t i = L->pos; i < L->n; i++) {
        if (!starts(L, i, "{%"))
            continue;
        size_t p = i + 2;
        char sign = 0, end_sign;
        if (p < L->n && (L->s[p] == '-' || L->s[p] == '+'))
            sign = L->s[p++];
        size_t end;
        if (!match_word_tag(L, p, "endraw", &end, &end_sign))
            continue;
        TRY(emit_data(L, L->pos, i, sign, true));
        size_t len = end_sign ? 3 : 2;
        L->pos = after_end(L, end - len, len, end_sign);
        return QLM_OK;
    }
    return tpl_err(line_of(L, begin), "missing end of raw directive");
}

/* Python string escapes ("unicode-escape"), on the quoted body. */
static qlm_status unescape(lexer *L, size_t at, const char *s, size_t n, const char **out, size_t *out_n)
{
    char *d = tpl_alloc(L->a, n + 1);
    if (!d)
        return qlm_fail_context(QLM_E_LIMIT, "chat template");
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\' || i + 1 == n) {
            d[k++] = s[i];
            continue;
        }
        char c = s[++i], simple = 0;
        switch (c) {
        case 'n': simple = '\n'; break;
        case 't': simple = '\t'; break;
        case 'r': simple = '\r'; break;
        case 'a': simple = '\a'; break;
        case 'b': simple = '\b'; break;
        case 'f': simple = '\f'; break;
        case 'v': simple = '\v'; break;
        case '\\': case '\'': case '"': simple = c; break;
        }
        if (simple) {
            d[k++] = simple;
        } else if (c == '\n') {
            /* backslash-newline continues the line */
        } else if (c >= '0' && c <= '7') {
            uint32_t cp = 0;
            size_t j = 0;
            for (; j < 3 && i + j < n && s[i + j] >= '0' && s[i + j] <= '7'; j++)
                cp = cp * 8 + (uint32_t)(s[i + j] - '0');
            i += j - 1;
            k += utf8_encode(cp, d + k);
        } else if (c == 'x' || c == 'u' || c == 'U') {
            size_t want = c == 'x' ? 2 : c == 'u' ? 4 : 8;
            uint32_t cp = 0;
            for (size_t j = 1; j <= want; j++) {
                char h = i + j < n ? s[i + j] : 0;
                int v = (h >= '0' && h <= '9') ? h - '0' : (h >= 'a' && h <= 'f') ? h - 'a' + 10
                      : (h >= 'A' && h <= 'F') ? h - 'A' + 10 : -1;
                if (v < 0)
                    return tpl_err(line_of(L, at), "truncated \\%c escape in string literal", c);
                cp = cp * 16 + (uint32_t)v;
            }
            if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return tpl_err(line_of(L, at), "string literal escape \\%c names no Unicode character", c);
            i += want;
            k += utf8_encode(cp, d + k);  /* \xNN..\U: the escape is longer than its encoding */
        } else if (c == 'N') {
            return tpl_err(line_of(L, at), "unsupported construct: \\N{...} escape in string literal");
        } else {
            d[k++] = '\\';
            d[k++] = c;
        }
    }
    d[k] = 0;
    *out = d;
    *out_n = k;
    return QLM_OK;
}

static qlm_status lex_string(lexer *L)
{
    size_t at = L->pos;
    char q = L->s[at];
    size_t i = at + 1;
    while (i < L->n && L->s[i] != q)
        i += (L->s[i] == '\\' && i + 1 < L->n) ? 2 : 1;
    if (i >= L->n)
        return tpl_err(line_of(L, at), "unterminated string literal");
    const char *p = NULL;
    size_t n = 0;
    TRY(unescape(L, at, L->s + at + 1, i - at - 1, &p, &n));
    TRY(emit(L, TK_STRING, at, p, n));
    L->pos = i + 1;
    return QLM_OK;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_name0(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }

static int digit_val(char c)
{
    c = (char)(c | 0x20);
    return is_digit(c) ? c - '0' : (c >= 'a' && c <= 'z') ? c - 'a' + 10 : 99;
}

static qlm_status lex_number(lexer *L)
{
    size_t at = L->pos, i = at;
    int base = 10;
    if (L->s[i] == '0' && i + 1 < L->n && strchr("bBoOxX", L->s[i + 1]) && L->s[i + 1]) {
        char b = (char)(L->s[i + 1] | 0x20);
        base = b == 'b' ? 2 : b == 'o' ? 8 : 16;
        i += 2;
    }
    int64_t v = 0;
    size_t digits = 0;
    for (; i < L->n; i++) {
        char c = L->s[i];
        if (c == '_' && i + 1 < L->n && digit_val(L->s[i + 1]) < base)
            continue;
        int d = digit_val(c);
        if (d >= base || !(is_digit(c) || base == 16))
            break;
        if (v > (INT64_MAX - d) / base)
            return tpl_err(line_of(L, at), "integer literal too large");
        v = v * base + d;
        digits++;
    }
    if (!digits)
        return tpl_err(line_of(L, at), "malformed number literal");
    if (i < L->n && (L->s[i] == '.' || L->s[i] == 'e' || L->s[i] == 'E') && i + 1 < L->n &&
        (is_digit(L->s[i + 1]) || L->s[i + 1] == '+' || L->s[i + 1] == '-'))
        return tpl_err(line_of(L, at), "unsupported construct: float literal");
    TRY(emit(L, TK_INT, at, L->s + at, i - at));
    L->toks[L->n_toks - 1].i = v;
    L->pos = i;
    return QLM_OK;
}

static const char *const k_ops[] = {"//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[", "]",
                                    "(", ")", "{", "}", ">", "<", "=", ".", ":", "|", ",", ";"};

/* Tokens inside {{ }} or {% %} up to and including the end delimiter. */
static qlm_status lex_tag(lexer *L, bool block, size_t begin)
{
    char stack[QLM_TPL_MAX_DEPTH];
    int depth = 0;
    for (;;) {
        L->pos = skip_space(L, L->pos);
        if (L->pos >= L->n)
            return tpl_err(line_of(L, begin), "unexpected end of template inside a %s tag", block ? "{% %}" : "{{ }}");
        size_t at = L->pos;
        if (depth == 0) {
            const char *close = block ? "%}" : "}}";
            char sign = 0;
            size_t len = 0;
            if (block && starts(L, at, "+%}"))
                sign = '+', len = 3;
            else if (L->s[at] == '-' && starts(L, at + 1, close))
                sign = '-', len = 3;
            else if (starts(L, at, close))
                len = 2;
            if (len) {
                TRY(emit(L, block ? TK_BLOCK_END : TK_VAR_END, at, L->s + at, len));
                if (block) {
                    L->pos = after_end(L, at, len, sign);
                } else {
                    L->pos = sign == '-' ? skip_space(L, at + len) : at + len;
                    L->line_starting = L->pos > 0 && L->s[L->pos - 1] == '\n';
                }
                return QLM_OK;
            }
        }
        char c = L->s[at];
        if (is_digit(c)) {
            TRY(lex_number(L));
        } else if (is_name0(c)) {
            size_t i = at;
            while (i < L->n && (is_name0(L->s[i]) || is_digit(L->s[i])))
                i++;
            TRY(emit(L, TK_NAME, at, L->s + at, i - at));
            L->pos = i;
        } else if (c == '\'' || c == '"') {
            TRY(lex_string(L));
        } else {
            size_t k = 0;
            while (k < sizeof k_ops / sizeof k_ops[0] && !starts(L, at, k_ops[k]))
                k++;
            if (k == sizeof k_ops / sizeof k_ops[0]) {
                size_t adv;
                uint32_t cp = utf8_decode(L->s + at, L->n - at, &adv);
                return tpl_err(line_of(L, at), "unexpected character U+%04X inside a tag", cp);
            }
            const char *op = k_ops[k];
            if (strchr("([{", op[0])) {
                if (depth == QLM_TPL_MAX_DEPTH)
                    return qlm_fail(QLM_E_LIMIT, "chat template line %d: brackets nested deeper than %d",
                                    line_of(L, at), QLM_TPL_MAX_DEPTH);
                stack[depth++] = op[0] == '(' ? ')' : op[0] == '[' ? ']' : '}';
            } else if (strchr(")]}", op[0])) {
                if (depth == 0)
                    return tpl_err(line_of(L, at), "unexpected '%c'", op[0]);
                if (stack[--depth] != op[0])
                    return tpl_err(line_of(L, at), "unexpected '%c', expected '%c'", op[0], stack[depth]);
            }
            TRY(emit(L, TK_OP, at, op, strlen(op)));
            L->pos = at + strlen(op);
        }
    }
}

qlm_status tpl_lex(tpl_arena *a, const char *src, size_t len, tpl_token **toks, size_t *n)
{
    lexer L = {.a = a, .line = 1, .line_starting = true};
    TRY(normalise(a, src, len, &L.s, &L.n));
    while (L.pos < L.n) {
        size_t t = L.pos;
        while (t + 1 < L.n && !(L.s[t] == '{' && (L.s[t + 1] == '{' || L.s[t + 1] == '%' || L.s[t + 1] == '#')))
            t++;
        if (t + 1 >= L.n) {
            TRY(emit(&L, TK_TEXT, L.pos, L.s + L.pos, L.n - L.pos));
            break;
        }
        char kind = L.s[t + 1];
        size_t p = t + 2;
        char sign = 0;
        if (p < L.n && (L.s[p] == '-' || L.s[p] == '+'))
            sign = L.s[p++];
        size_t raw_end;
        char raw_sign;
        if (kind == '%' && match_word_tag(&L, p, "raw", &raw_end, &raw_sign)) {
            TRY(emit_data(&L, L.pos, t, sign, true));
            L.pos = raw_sign == '-' ? skip_space(&L, raw_end) : raw_end;
            TRY(lex_raw(&L, t));
            continue;
        }
        TRY(emit_data(&L, L.pos, t, sign, kind != '{'));
        L.line_starting = false;
        L.pos = p;
        if (kind == '#') {
            TRY(lex_comment(&L, t));
        } else {
            TRY(emit(&L, kind == '%' ? TK_BLOCK_BEGIN : TK_VAR_BEGIN, t, L.s + t, 2));
            TRY(lex_tag(&L, kind == '%', t));
        }
    }
    TRY(emit(&L, TK_EOF, L.n, L.s + L.n, 0));
    *toks = L.toks;
    *n = L.n_toks;
    return QLM_OK;
}
