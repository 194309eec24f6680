/* Template values: arena, strings, Python-style str()/repr()/json.dumps(). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/common/utf8.h"
#include "runtime/chat/tpl_internal.h"

struct tpl_chunk {
    tpl_chunk *next;
    size_t used, size;
    _Alignas(16) unsigned char data[];
};

void tpl_arena_init(tpl_arena *a, size_t cap)
{
    a->head = NULL;
    a->total = 0;
    a->cap = cap;
}

void tpl_arena_free(tpl_arena *a)
{
    for (tpl_chunk *c = a->head, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    a->head = NULL;
    a->total = 0;
}

void *tpl_alloc(tpl_arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n == 0)
        n = 16;
    if (n > a->cap || a->total > a->cap - n) {
        qlm_fail(QLM_E_LIMIT, "chat template: working memory exceeds %zu MiB", a->cap >> 20);
        return NULL;
    }
    tpl_chunk *c = a->head;
    if (!c || c->size - c->used < n) {
        size_t size = n > (64u << 10) ? n : (64u << 10);
        c = malloc(sizeof *c + size);
        if (!c) {
            qlm_fail(QLM_E_NOMEM, "chat template: out of memory");
            return NULL;
        }
        c->used = 0;
        c->size = size;
        c->next = a->head;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    a->total += n;
    memset(p, 0, n);
    return p;
}

char *tpl_strdup(tpl_arena *a, const char *s, size_t n)
{
    if (n == SIZE_MAX)
        return NULL;
    char *p = tpl_alloc(a, n + 1);
    if (p && n)
        memcpy(p, s, n);
    return p;
}

bool tpl_isspace(uint32_t cp)
{
    return (cp >= 0x09 && cp <= 0x0d) || (cp >= 0x1c && cp <= 0x20) || cp == 0x85 || cp == 0xa0 ||
           cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 ||
           cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

size_t tpl_space_prefix(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t adv;
        uint32_t cp = utf8_decode(s + i, n - i, &adv);
        if (!tpl_isspace(cp))
            break;
        i += adv;
    }
    return i;
}

size_t tpl_space_suffix(const char *s, size_t n)
{
    size_t end = n;
    while (end > 0) {
        size_t start = end - 1;
        while (start > 0 && end - start < 4 && ((unsigned char)s[start] & 0xc0) == 0x80)
            start--;
        size_t adv;
        uint32_t cp = utf8_decode(s + start, end - start, &adv);
        if (adv != end - start || !tpl_isspace(cp))
            break;
        end = start;
    }
    return n - end;
}

/* ---- growable buffer ---------------------------------------------------------- */

void tpl_buf_init(tpl_buf *b, tpl_arena *a, size_t max)
{
    b->a = a;
    b->p = NULL;
    b->n = b->cap = 0;
    b->max = max;
}

qlm_status tpl_buf_put(tpl_buf *b, const char *s, size_t n)
{
    if (n > b->max || b->n > b->max - n)
        return qlm_fail(QLM_E_LIMIT, "chat template: output exceeds %zu bytes", b->max);
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *p = tpl_alloc(b->a, cap);
        if (!p)
            return qlm_fail_context(QLM_E_LIMIT, "chat template");
        if (b->n)
            memcpy(p, b->p, b->n);
        b->p = p;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
    return QLM_OK;
}

qlm_status tpl_buf_putc(tpl_buf *b, char c) { return tpl_buf_put(b, &c, 1); }

tv tpl_buf_value(tpl_buf *b) { return tv_str(b->p ? b->p : "", b->n); }

/* ---- type predicates ------------------------------------------------------------ */

const char *tv_type_name(const tv *v)
{
    switch ((tv_type)v->t) {
    case TV_UNDEF: return "undefined";
    case TV_NONE: return "none";
    case TV_BOOL: return "bool";
    case TV_INT: return "int";
    case TV_STR: return "string";
    case TV_LIST: return v->tuple ? "tuple" : "list";
    case TV_DICT: return v->u.d->ns ? "namespace" : "dict";
    case TV_FUNC: return "function";
    case TV_METHOD: return "method";
    }
    return "?";
}

bool tv_truthy(const tv *v)
{
    switch ((tv_type)v->t) {
    case TV_UNDEF:
    case TV_NONE: return false;
    case TV_BOOL: return v->u.b;
    case TV_INT: return v->u.i != 0;
    case TV_STR: return v->u.s.n != 0;
    case TV_LIST: return v->u.l.n != 0;
    case TV_DICT: return v->u.d->ns || v->u.d->n != 0;
    default: return true;
    }
}

/* Python: True == 1 and False == 0, so bools compare as ints. */
static bool as_number(const tv *v, int64_t *out)
{
    if (v->t == TV_INT)
        *out = v->u.i;
    else if (v->t == TV_BOOL)
        *out = v->u.b;
    else
        return false;
    return true;
}

bool tv_equal(const tv *a, const tv *b)
{
    int64_t x, y;
    if (as_number(a, &x) && as_number(b, &y))
        return x == y;
    if (a->t != b->t)
        return false;
    switch ((tv_type)a->t) {
    case TV_UNDEF:
    case TV_NONE: return true;
    case TV_STR: return a->u.s.n == b->u.s.n && memcmp(a->u.s.p, b->u.s.p, a->u.s.n) == 0;
    case TV_LIST:
        if (a->u.l.n != b->u.l.n || a->tuple != b->tuple)
            return false;
        for (size_t i = 0; i < a->u.l.n; i++)
            if (!tv_equal(&a->u.l.v[i], &b->u.l.v[i]))
                return false;
        return true;
    case TV_DICT:
        if (a->u.d->ns || b->u.d->ns)
            return a->u.d == b->u.d;
        if (a->u.d->n != b->u.d->n)
            return false;
        for (size_t i = 0; i < a->u.d->n; i++) {
            const tv *o = tv_dict_lookup(b->u.d, &a->u.d->keys[i]);
            if (!o || !tv_equal(&a->u.d->vals[i], o))
                return false;
        }
        return true;
    case TV_FUNC: return a->fn == b->fn;
    default: return false;
    }
}

qlm_status tv_compare(const tv *a, const tv *b, int *out)
{
    int64_t x, y;
    if (as_number(a, &x) && as_number(b, &y)) {
        *out = (x > y) - (x < y);
        return QLM_OK;
    }
    if (a->t == TV_STR && b->t == TV_STR) {
        size_t n = a->u.s.n < b->u.s.n ? a->u.s.n : b->u.s.n;
        int c = n ? memcmp(a->u.s.p, b->u.s.p, n) : 0;   /* UTF-8 byte order = code point order */
        if (c == 0)
            c = (a->u.s.n > b->u.s.n) - (a->u.s.n < b->u.s.n);
        *out = (c > 0) - (c < 0);
        return QLM_OK;
    }
    if (a->t == TV_LIST && b->t == TV_LIST) {
        size_t n = a->u.l.n < b->u.l.n ? a->u.l.n : b->u.l.n;
        for (size_t i = 0; i < n; i++) {
            if (tv_equal(&a->u.l.v[i], &b->u.l.v[i]))
                continue;
            return tv_compare(&a->u.l.v[i], &b->u.l.v[i], out);
        }
        *out = (a->u.l.n > b->u.l.n) - (a->u.l.n < b->u.l.n);
        return QLM_OK;
    }
    return qlm_fail(QLM_E_TEMPLATE, "cannot order %s and %s", tv_type_name(a), tv_type_name(b));
}

/* ---- dicts --------------------------------------------------------------------------- */

tv_dict *tv_dict_new(tpl_arena *a, size_t cap)
{
    tv_dict *d = tpl_alloc(a, sizeof *d);
    if (!d)
        return NULL;
    if (cap) {
        d->keys = tpl_alloc(a, cap * sizeof(tv));
        d->vals = tpl_alloc(a, cap * sizeof(tv));
        if (!d->keys || !d->vals)
            return NULL;
    }
    d->cap = cap;
    return d;
}

const tv *tv_dict_lookup(const tv_dict *d, const tv *key)
{
    for (size_t i = 0; i < d->n; i++)
        if (tv_equal(&d->keys[i], key))
            return &d->vals[i];
    return NULL;
}

const tv *tv_dict_get(const tv_dict *d, const char *key, size_t n)
{
    tv k = tv_str(key, n);
    return tv_dict_lookup(d, &k);
}

qlm_status tv_dict_set(tpl_arena *a, tv_dict *d, tv key, tv val)
{
    for (size_t i = 0; i < d->n; i++)
        if (tv_equal(&d->keys[i], &key)) {
            d->vals[i] = val;
            return QLM_OK;
        }
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        tv *k = tpl_alloc(a, cap * sizeof(tv)), *v = tpl_alloc(a, cap * sizeof(tv));
        if (!k || !v)
            return qlm_fail_context(QLM_E_LIMIT, "chat template");
        if (d->n) {
            memcpy(k, d->keys, d->n * sizeof(tv));
            memcpy(v, d->vals, d->n * sizeof(tv));
        }
        d->keys = k;
        d->vals = v;
        d->cap = cap;
    }
    d->keys[d->n] = key;
    d->vals[d->n] = val;
    d->n++;
    return QLM_OK;
}

/* ---- printing ------------------------------------------------------------------------ */

#define TRY(x) do { qlm_status s_ = (x); if (s_ != QLM_OK) return s_; } while (0)

static qlm_status write_int(tpl_buf *b, int64_t i)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%" PRId64, i);
    return tpl_buf_put(b, tmp, (size_t)n);
}

qlm_status tv_write_str(tpl_buf *b, const tv *v)
{
    switch ((tv_type)v->t) {
    case TV_UNDEF: return QLM_OK;
    case TV_NONE: return tpl_buf_put(b, "None", 4);
    case TV_BOOL: return v->u.b ? tpl_buf_put(b, "True", 4) : tpl_buf_put(b, "False", 5);
    case TV_INT: return write_int(b, v->u.i);
    case TV_STR: return tpl_buf_put(b, v->u.s.p, v->u.s.n);
    default: return tv_write_repr(b, v);
    }
}

/* Python's repr of a str: single quotes unless the text has ' and no ". */
static qlm_status write_str_repr(tpl_buf *b, const char *s, size_t n)
{
    bool sq = memchr(s, '\'', n) != NULL, dq = memchr(s, '"', n) != NULL;
    char q = (sq && !dq) ? '"' : '\'';
    TRY(tpl_buf_putc(b, q));
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        if (c == (unsigned char)q || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            TRY(tpl_buf_put(b, esc, 2));
        } else if (c == '\n') {
            TRY(tpl_buf_put(b, "\\n", 2));
        } else if (c == '\r') {
            TRY(tpl_buf_put(b, "\\r", 2));
        } else if (c == '\t') {
            TRY(tpl_buf_put(b, "\\t", 2));
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(esc, sizeof esc, "\\x%02x", c);
            TRY(tpl_buf_put(b, esc, 4));
        } else {
            TRY(tpl_buf_putc(b, (char)c));
        }
    }
    return tpl_buf_putc(b, q);
}

/* A namespace can hold itself ({% set ns.a = ns %}), so the walk is bounded
 * like tojson's rather than trusting the value graph to be a tree. */
static qlm_status write_repr(tpl_buf *b, const tv *v, int depth)
{
    if (depth > QLM_TPL_MAX_DEPTH)
        return qlm_fail(QLM_E_LIMIT, "chat template: value nested deeper than %d (does a namespace contain itself?)",
                        QLM_TPL_MAX_DEPTH);
    switch ((tv_type)v->t) {
    case TV_STR: return write_str_repr(b, v->u.s.p, v->u.s.n);
    case TV_LIST: {
        TRY(tpl_buf_putc(b, v->tuple ? '(' : '['));
        for (size_t i = 0; i < v->u.l.n; i++) {
            if (i)
                TRY(tpl_buf_put(b, ", ", 2));
            TRY(write_repr(b, &v->u.l.v[i], depth + 1));
        }
        if (v->tuple && v->u.l.n == 1)
            TRY(tpl_buf_putc(b, ','));
        return tpl_buf_putc(b, v->tuple ? ')' : ']');
    }
    case TV_DICT: {
        if (v->u.d->ns)
            TRY(tpl_buf_put(b, "<Namespace ", 11));
        TRY(tpl_buf_putc(b, '{'));
        for (size_t i = 0; i < v->u.d->n; i++) {
            if (i)
                TRY(tpl_buf_put(b, ", ", 2));
            TRY(write_repr(b, &v->u.d->keys[i], depth + 1));
            TRY(tpl_buf_put(b, ": ", 2));
            TRY(write_repr(b, &v->u.d->vals[i], depth + 1));
        }
        TRY(tpl_buf_putc(b, '}'));
        return v->u.d->ns ? tpl_buf_putc(b, '>') : QLM_OK;
    }
    case TV_UNDEF: return tpl_buf_put(b, "Undefined", 9);
    case TV_FUNC:
    case TV_METHOD: return tpl_buf_put(b, "<function>", 10);
    default: return tv_write_str(b, v);
    }
}

qlm_status tv_write_repr(tpl_buf *b, const tv *v)
{
    return write_repr(b, v, 0);
}

/* json.dumps(ensure_ascii=False): escape only " \ and control characters. */
static qlm_status write_json_string(tpl_buf *b, const char *s, size_t n)
{
    TRY(tpl_buf_putc(b, '"'));
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *e = NULL;
        switch (c) {
        case '"': e = "\\\""; break;
        case '\\': e = "\\\\"; break;
        case '\n': e = "\\n"; break;
        case '\r': e = "\\r"; break;
        case '\t': e = "\\t"; break;
        case '\b': e = "\\b"; break;
        case '\f': e = "\\f"; break;
        }
        if (e) {
            TRY(tpl_buf_put(b, e, 2));
        } else if (c < 0x20) {
            char esc[8];
            snprintf(esc, sizeof esc, "\\u%04x", c);
            TRY(tpl_buf_put(b, esc, 6));
        } else {
            TRY(tpl_buf_putc(b, (char)c));
        }
    }
    return tpl_buf_putc(b, '"');
}

static qlm_status json_newline(tpl_buf *b, int indent, int level)
{
    TRY(tpl_buf_putc(b, '\n'));
    for (int i = 0; i < indent * level; i++)
        TRY(tpl_buf_putc(b, ' '));
    return QLM_OK;
}

/* Keys are sorted by a simple insertion sort of indices (dicts are small). */
static qlm_status sorted_order(tpl_arena *a, const tv_dict *d, bool sort, size_t **out)
{
    size_t *ord = tpl_alloc(a, (d->n ? d->n : 1) * sizeof *ord);
    if (!ord)
        return qlm_fail_context(QLM_E_LIMIT, "chat template");
    for (size_t i = 0; i < d->n; i++) {
        ord[i] = i;
        if (!sort)
            continue;
        for (size_t j = i; j > 0; j--) {
            int c;
            TRY(tv_compare(&d->keys[ord[j - 1]], &d->keys[ord[j]], &c));
            if (c <= 0)
                break;
            size_t t = ord[j];
            ord[j] = ord[j - 1];
            ord[j - 1] = t;
        }
    }
    *out = ord;
    return QLM_OK;
}

/* Python json.dumps turns keys that are not strings into strings. */
static qlm_status write_json_key(tpl_buf *b, const tv *k)
{
    switch ((tv_type)k->t) {
    case TV_STR: return write_json_string(b, k->u.s.p, k->u.s.n);
    case TV_INT: TRY(tpl_buf_putc(b, '"')); TRY(write_int(b, k->u.i)); return tpl_buf_putc(b, '"');
    case TV_BOOL: return tpl_buf_put(b, k->u.b ? "\"true\"" : "\"false\"", k->u.b ? 6 : 7);
    case TV_NONE: return tpl_buf_put(b, "\"null\"", 6);
    default: return qlm_fail(QLM_E_TEMPLATE, "tojson: keys must be str, int, bool or None, not %s", tv_type_name(k));
    }
}

qlm_status tv_write_json(tpl_buf *b, const tv *v, int indent, bool sort_keys, int depth)
{
    if (depth > QLM_TPL_MAX_DEPTH)
        return qlm_fail(QLM_E_LIMIT, "tojson: nesting deeper than %d", QLM_TPL_MAX_DEPTH);
    const char *sep = indent >= 0 ? "," : ", ";
    switch ((tv_type)v->t) {
    case TV_NONE: return tpl_buf_put(b, "null", 4);
    case TV_BOOL: return v->u.b ? tpl_buf_put(b, "true", 4) : tpl_buf_put(b, "false", 5);
    case TV_INT: return write_int(b, v->u.i);
    case TV_STR: return write_json_string(b, v->u.s.p, v->u.s.n);
    case TV_LIST:
        if (v->u.l.n == 0)
            return tpl_buf_put(b, "[]", 2);
        TRY(tpl_buf_putc(b, '['));
        for (size_t i = 0; i < v->u.l.n; i++) {
            if (i)
                TRY(tpl_buf_put(b, sep, strlen(sep)));
            if (indent >= 0)
                TRY(json_newline(b, indent, depth + 1));
            TRY(tv_write_json(b, &v->u.l.v[i], indent, sort_keys, depth + 1));
        }
        if (indent >= 0)
            TRY(json_newline(b, indent, depth));
        return tpl_buf_putc(b, ']');
    case TV_DICT: {
        const tv_dict *d = v->u.d;
        if (d->ns)
            break;
        if (d->n == 0)
            return tpl_buf_put(b, "{}", 2);
        size_t *ord = NULL;
        TRY(sorted_order(b->a, d, sort_keys, &ord));
        TRY(tpl_buf_putc(b, '{'));
        for (size_t i = 0; i < d->n; i++) {
            if (i)
                TRY(tpl_buf_put(b, sep, strlen(sep)));
            if (indent >= 0)
                TRY(json_newline(b, indent, depth + 1));
            TRY(write_json_key(b, &d->keys[ord[i]]));
            TRY(tpl_buf_put(b, ": ", 2));
            TRY(tv_write_json(b, &d->vals[ord[i]], indent, sort_keys, depth + 1));
        }
        if (indent >= 0)
            TRY(json_newline(b, indent, depth));
        return tpl_buf_putc(b, '}');
    }
    default: break;
    }
    return qlm_fail(QLM_E_TEMPLATE, "tojson: object of type %s is not JSON serializable", tv_type_name(v));
}

qlm_status tv_from_json(tpl_arena *a, const json_value *j, tv *out)
{
    switch (j->type) {
    case JSON_NULL: *out = tv_none(); return QLM_OK;
    case JSON_FALSE: *out = tv_bool(false); return QLM_OK;
    case JSON_TRUE: *out = tv_bool(true); return QLM_OK;
    case JSON_NUMBER:
        if (!j->is_int)
            return qlm_fail(QLM_E_UNSUPPORTED, "chat template: non-integer number %g in the variables", j->u.num);
        *out = tv_int(j->i);
        return QLM_OK;
    case JSON_STRING: *out = tv_str(j->u.str, j->n); return QLM_OK;
    case JSON_ARRAY: {
        tv *items = tpl_alloc(a, (j->n ? j->n : 1) * sizeof(tv));
        if (!items)
            return qlm_fail_context(QLM_E_LIMIT, "chat template");
        for (size_t i = 0; i < j->n; i++)
            TRY(tv_from_json(a, &j->u.items[i], &items[i]));
        *out = tv_list(items, j->n);
        return QLM_OK;
    }
    case JSON_OBJECT: {
        tv_dict *d = tv_dict_new(a, j->n);
        if (!d)
            return qlm_fail_context(QLM_E_LIMIT, "chat template");
        for (size_t i = 0; i < j->n; i++) {
            tv val;
            TRY(tv_from_json(a, &j->u.members[i].value, &val));
            TRY(tv_dict_set(a, d, tv_str(j->u.members[i].key, j->u.members[i].key_len), val));
        }
        out->t = TV_DICT;
        out->tuple = false;
        out->u.d = d;
        return QLM_OK;
    }
    }
    return qlm_fail(QLM_E_JSON, "chat template: bad JSON value");
}
