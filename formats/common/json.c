#include "formats/common/json.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "formats/common/mapfile.h"
#include "formats/common/utf8.h"

/* Arena: values, members and strings live in large chunks freed at once. */
typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} chunk;

struct json_doc {
    chunk *chunks;
    json_value root;
};

typedef struct {
    const char *p, *end, *start;
    json_doc *doc;
    /* scratch stacks for children of open arrays/objects */
    json_value *vstack;
    size_t vlen, vcap;
    json_member *mstack;
    size_t mlen, mcap;
} parser;

static void *arena_alloc(json_doc *d, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    chunk *c = d->chunks;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > (1u << 20) ? n : (1u << 20);
        c = malloc(sizeof(chunk) + cap);
        if (!c)
            return NULL;
        c->next = d->chunks;
        c->used = 0;
        c->cap = cap;
        d->chunks = c;
    }
    void *r = c->data + c->used;
    c->used += n;
    return r;
}

static qlm_status perr(parser *ps, qlm_status code, const char *what)
{
    size_t line = 1, col = 1;
    for (const char *q = ps->start; q < ps->p && q < ps->end; q++) {
        if (*q == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    return qlm_fail(code, "JSON: %s at line %zu, column %zu", what, line, col);
}

static void skip_ws(parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static bool read_hex4(parser *ps, unsigned *out)
{
    if (ps->end - ps->p < 4)
        return false;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(ps->p[i]);
        if (h < 0)
            return false;
        v = v * 16 + (unsigned)h;
    }
    ps->p += 4;
    *out = v;
    return true;
}

/* Parses a string starting at the opening quote. */
static qlm_status parse_string(parser *ps, const char **out, size_t *out_len)
{
    ps->p++; /* opening quote */
    const char *s = ps->p;
    size_t escapes = 0;
    /* First pass: find the end and validate; the unescaped form is never longer. */
    while (ps->p < ps->end && *ps->p != '"') {
        unsigned char c = (unsigned char)*ps->p;
        if (c < 0x20)
            return perr(ps, QLM_E_JSON, "control character in string");
        if (c == '\\') {
            escapes++;
            ps->p += 2;
            continue;
        }
        if (c >= 0x80) {
            size_t n = utf8_char_len(ps->p, (size_t)(ps->end - ps->p));
            if (n == 0)
                return perr(ps, QLM_E_UTF8, "invalid UTF-8 in string");
            ps->p += n;
            continue;
        }
        ps->p++;
    }
    if (ps->p >= ps->end)
        return perr(ps, QLM_E_JSON, "unterminated string");
    const char *e = ps->p;
    char *dst = arena_alloc(ps->doc, (size_t)(e - s) + 1);
    if (!dst)
        return qlm_fail(QLM_E_NOMEM, "JSON: out of memory");
    if (!escapes) {
        memcpy(dst, s, (size_t)(e - s));
        dst[e - s] = 0;
        *out = dst;
        *out_len = (size_t)(e - s);
        ps->p++;
        return QLM_OK;
    }
    size_t n = 0;
    ps->p = s;
    while (ps->p < e) {
        char c = *ps->p;
        if (c != '\\') {
            dst[n++] = c;
            ps->p++;
            continue;
        }
        ps->p++;
        if (ps->p >= e)
            return perr(ps, QLM_E_JSON, "bad escape");
        c = *ps->p++;
        switch (c) {
        case '"': dst[n++] = '"'; break;
        case '\\': dst[n++] = '\\'; break;
        case '/': dst[n++] = '/'; break;
        case 'b': dst[n++] = '\b'; break;
        case 'f': dst[n++] = '\f'; break;
        case 'n': dst[n++] = '\n'; break;
        case 'r': dst[n++] = '\r'; break;
        case 't': dst[n++] = '\t'; break;
        case 'u': {
            unsigned cp;
            if (!read_hex4(ps, &cp))
                return perr(ps, QLM_E_JSON, "bad \\u escape");
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned lo;
                const char *save = ps->p;
                if (e - ps->p >= 6 && ps->p[0] == '\\' && ps->p[1] == 'u') {
                    ps->p += 2;
                    if (read_hex4(ps, &lo) && lo >= 0xDC00 && lo <= 0xDFFF)
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    else {
                        ps->p = save;
                        cp = 0xFFFD;
                    }
                } else {
                    cp = 0xFFFD;
                }
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                cp = 0xFFFD;
            }
            n += utf8_encode(cp, dst + n);
            break;
        }
        default:
            return perr(ps, QLM_E_JSON, "bad escape");
        }
    }
    dst[n] = 0;
    ps->p = e + 1;
    *out = dst;
    *out_len = n;
    return QLM_OK;
}

static qlm_status parse_number(parser *ps, json_value *v)
{
    const char *s = ps->p;
    const char *q = s;
    if (q < ps->end && *q == '-') q++;
    if (q >= ps->end || *q < '0' || *q > '9')
        return perr(ps, QLM_E_JSON, "bad number");
    if (*q == '0') {
        q++;
    } else {
        while (q < ps->end && *q >= '0' && *q <= '9') q++;
    }
    bool integral = true;
    if (q < ps->end && *q == '.') {
        integral = false;
        q++;
        if (q >= ps->end || *q < '0' || *q > '9')
            return perr(ps, QLM_E_JSON, "bad number");
        while (q < ps->end && *q >= '0' && *q <= '9') q++;
    }
    if (q < ps->end && (*q == 'e' || *q == 'E')) {
        integral = false;
        q++;
        if (q < ps->end && (*q == '+' || *q == '-')) q++;
        if (q >= ps->end || *q < '0' || *q > '9')
            return perr(ps, QLM_E_JSON, "bad number");
        while (q < ps->end && *q >= '0' && *q <= '9') q++;
    }
    char buf[64];
    size_t len = (size_t)(q - s);
    char *tmp = len < sizeof buf ? buf : malloc(len + 1);
    if (!tmp)
        return qlm_fail(QLM_E_NOMEM, "JSON: out of memory");
    memcpy(tmp, s, len);
    tmp[len] = 0;
    v->type = JSON_NUMBER;
    v->u.num = strtod(tmp, NULL);
    v->is_int = false;
    if (integral) {
        errno = 0;
        long long ll = strtoll(tmp, NULL, 10);
        if (errno == 0) {
            v->is_int = true;
            v->i = ll;
        }
    }
    if (tmp != buf)
        free(tmp);
    ps->p = q;
    return QLM_OK;
}

static bool push_value(parser *ps, const json_value *v)
{
    if (ps->vlen == ps->vcap) {
        size_t cap = ps->vcap ? ps->vcap * 2 : 256;
        json_value *nv = realloc(ps->vstack, cap * sizeof *nv);
        if (!nv) return false;
        ps->vstack = nv;
        ps->vcap = cap;
    }
    ps->vstack[ps->vlen++] = *v;
    return true;
}

static bool push_member(parser *ps, const json_member *m)
{
    if (ps->mlen == ps->mcap) {
        size_t cap = ps->mcap ? ps->mcap * 2 : 256;
        json_member *nm = realloc(ps->mstack, cap * sizeof *nm);
        if (!nm) return false;
        ps->mstack = nm;
        ps->mcap = cap;
    }
    ps->mstack[ps->mlen++] = *m;
    return true;
}

static qlm_status parse_value(parser *ps, json_value *v, int depth);

static qlm_status parse_array(parser *ps, json_value *v, int depth)
{
    ps->p++;
    size_t base = ps->vlen;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
    } else {
        for (;;) {
            json_value item;
            qlm_status st = parse_value(ps, &item, depth + 1);
            if (st) return st;
            if (!push_value(ps, &item))
                return qlm_fail(QLM_E_NOMEM, "JSON: out of memory");
            skip_ws(ps);
            if (ps->p < ps->end && *ps->p == ',') {
                ps->p++;
                continue;
            }
            if (ps->p < ps->end && *ps->p == ']') {
                ps->p++;
                break;
            }
            return perr(ps, QLM_E_JSON, "expected ',' or ']'");
        }
    }
    size_t n = ps->vlen - base;
    v->type = JSON_ARRAY;
    v->n = n;
    v->u.items = NULL;
    if (n) {
        v->u.items = arena_alloc(ps->doc, n * sizeof(json_value));
        if (!v->u.items)
            return qlm_fail(QLM_E_NOMEM, "JSON: out of memory");
        memcpy(v->u.items, ps->vstack + base, n * sizeof(json_value));
    }
    ps->vlen = base;
    return QLM_OK;
}

static qlm_status parse_object(parser *ps, json_value *v, int depth)
{
    ps->p++;
    size_t base = ps->mlen;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
    } else {
        for (;;) {
            json_member m;
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != '"')
                return perr(ps, QLM_E_JSON, "expected string key");
            qlm_status st = parse_string(ps, &m.key, &m.key_len);
            if (st) return st;
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':')
                return perr(ps, QLM_E_JSON, "expected ':'");
            ps->p++;
            st = parse_value(ps, &m.value, depth + 1);
            if (st) return st;
            if (!push_member(ps, &m))
                return qlm_fail(QLM_E_NOMEM, "JSON: out of memory");
            skip_ws(ps);
            if (ps->p < ps->end && *ps->p == ',') {
                ps->p++;
                continue;
            }
            if (ps->p < ps->end && *ps->p == '}') {
                ps->p++;
                break;
            }
            return perr(ps, QLM_E_JSON, "expected ',' or '}'");
        }
    }
    size_t n = ps->mlen - base;
    v->type = JSON_OBJECT;
    v->n = n;
    v->u.members = NULL;
    if (n) {
        v->u.members = arena_alloc(ps->doc, n * sizeof(json_member));
        if (!v->u.members)
            return qlm_fail(QLM_E_NOMEM, "JSON: out of memory");
        memcpy(v->u.members, ps->mstack + base, n * sizeof(json_member));
    }
    ps->mlen = base;
    return QLM_OK;
}

static bool match_lit(parser *ps, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, lit, n) != 0)
        return false;
    ps->p += n;
    return true;
}

static qlm_status parse_value(parser *ps, json_value *v, int depth)
{
    if (depth > JSON_MAX_DEPTH)
        return perr(ps, QLM_E_LIMIT, "nesting deeper than 512");
    memset(v, 0, sizeof *v);
    skip_ws(ps);
    if (ps->p >= ps->end)
        return perr(ps, QLM_E_JSON, "unexpected end of input");
    switch (*ps->p) {
    case '{': return parse_object(ps, v, depth);
    case '[': return parse_array(ps, v, depth);
    case '"':
        v->type = JSON_STRING;
        return parse_string(ps, &v->u.str, &v->n);
    case 't':
        if (!match_lit(ps, "true")) break;
        v->type = JSON_TRUE;
        return QLM_OK;
    case 'f':
        if (!match_lit(ps, "false")) break;
        v->type = JSON_FALSE;
        return QLM_OK;
    case 'n':
        if (!match_lit(ps, "null")) break;
        v->type = JSON_NULL;
        return QLM_OK;
    default:
        if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
            return parse_number(ps, v);
    }
    return perr(ps, QLM_E_JSON, "unexpected character");
}

qlm_status json_parse(const char *text, size_t len, json_doc **out)
{
    *out = NULL;
    json_doc *d = calloc(1, sizeof *d);
    if (!d)
        return qlm_fail(QLM_E_NOMEM, "JSON: out of memory");
    parser ps = {.p = text, .end = text + len, .start = text, .doc = d};
    qlm_status st = parse_value(&ps, &d->root, 0);
    if (!st) {
        skip_ws(&ps);
        if (ps.p != ps.end)
            st = perr(&ps, QLM_E_JSON, "trailing characters after value");
    }
    free(ps.vstack);
    free(ps.mstack);
    if (st) {
        json_free(d);
        return st;
    }
    *out = d;
    return QLM_OK;
}

const json_value *json_root(const json_doc *doc) { return &doc->root; }

void json_free(json_doc *doc)
{
    if (!doc) return;
    chunk *c = doc->chunks;
    while (c) {
        chunk *n = c->next;
        free(c);
        c = n;
    }
    free(doc);
}

const json_value *json_get(const json_value *obj, const char *key)
{
    if (!obj || obj->type != JSON_OBJECT)
        return NULL;
    size_t kl = strlen(key);
    for (size_t i = obj->n; i-- > 0;) {
        const json_member *m = &obj->u.members[i];
        if (m->key_len == kl && memcmp(m->key, key, kl) == 0)
            return &m->value;
    }
    return NULL;
}

const json_value *json_at(const json_value *arr, size_t i)
{
    if (!arr || arr->type != JSON_ARRAY || i >= arr->n)
        return NULL;
    return &arr->u.items[i];
}

bool json_as_i64(const json_value *v, int64_t *out)
{
    if (!v || v->type != JSON_NUMBER || !v->is_int)
        return false;
    *out = v->i;
    return true;
}

bool json_as_f64(const json_value *v, double *out)
{
    if (!v || v->type != JSON_NUMBER)
        return false;
    *out = v->u.num;
    return true;
}

bool json_as_bool(const json_value *v, bool *out)
{
    if (!v || (v->type != JSON_TRUE && v->type != JSON_FALSE))
        return false;
    *out = v->type == JSON_TRUE;
    return true;
}

const char *json_as_str(const json_value *v, size_t *len)
{
    if (!v || v->type != JSON_STRING)
        return NULL;
    if (len) *len = v->n;
    return v->u.str;
}

int64_t json_get_i64(const json_value *obj, const char *key, int64_t def)
{
    int64_t r = def;
    json_as_i64(json_get(obj, key), &r);
    return r;
}

double json_get_f64(const json_value *obj, const char *key, double def)
{
    double r = def;
    json_as_f64(json_get(obj, key), &r);
    return r;
}

bool json_get_bool(const json_value *obj, const char *key, bool def)
{
    bool r = def;
    json_as_bool(json_get(obj, key), &r);
    return r;
}

const char *json_get_str(const json_value *obj, const char *key)
{
    return json_as_str(json_get(obj, key), NULL);
}

void json_write_string(FILE *f, const char *s, size_t len)
{
    fputc('"', f);
    size_t i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            fputc('\\', f);
            fputc(c, f);
            i++;
        } else if (c == '\n') {
            fputs("\\n", f);
            i++;
        } else if (c == '\r') {
            fputs("\\r", f);
            i++;
        } else if (c == '\t') {
            fputs("\\t", f);
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            fprintf(f, "\\u%04x", c);
            i++;
        } else if (c < 0x80) {
            fputc(c, f);
            i++;
        } else {
            size_t n = utf8_char_len(s + i, len - i);
            if (n == 0) {
                fprintf(f, "\\u%04x", c); /* raw byte, not UTF-8: escape it */
                i++;
            } else {
                fwrite(s + i, 1, n, f);
                i += n;
            }
        }
    }
    fputc('"', f);
}

/* Numbers: exact integers as integers; others with 17 significant digits
 * (round-trips a double) and a ".0" when that would read back as an integer;
 * literals that overflowed to infinity as 1e999. */
static void write_number(FILE *f, const json_value *v)
{
    if (v->is_int) {
        fprintf(f, "%lld", (long long)v->i);
        return;
    }
    if (isinf(v->u.num)) { /* a literal beyond the double range: keep it beyond */
        fputs(v->u.num > 0 ? "1e999" : "-1e999", f);
        return;
    }
    char buf[40];
    snprintf(buf, sizeof buf, "%.17g", v->u.num);
    fputs(buf, f);
    if (!strpbrk(buf, ".eE"))
        fputs(".0", f);
}

void json_write_value(FILE *f, const json_value *v, int indent, int depth)
{
    const char *sep = indent > 0 ? ",\n" : ", ";
    switch (v->type) {
    case JSON_NULL: fputs("null", f); return;
    case JSON_FALSE: fputs("false", f); return;
    case JSON_TRUE: fputs("true", f); return;
    case JSON_NUMBER: write_number(f, v); return;
    case JSON_STRING: json_write_string(f, v->u.str, v->n); return;
    case JSON_ARRAY:
    case JSON_OBJECT: break;
    }
    int obj = v->type == JSON_OBJECT;
    fputc(obj ? '{' : '[', f);
    for (size_t i = 0; i < v->n; i++) {
        fputs(i ? sep : (indent > 0 ? "\n" : ""), f);
        if (indent > 0)
            fprintf(f, "%*s", indent * (depth + 1), "");
        if (obj) {
            json_write_string(f, v->u.members[i].key, v->u.members[i].key_len);
            fputs(": ", f);
        }
        json_write_value(f, obj ? &v->u.members[i].value : &v->u.items[i], indent, depth + 1);
    }
    if (indent > 0 && v->n)
        fprintf(f, "\n%*s", indent * depth, "");
    fputc(obj ? '}' : ']', f);
}

qlm_status json_parse_file(const char *path, size_t max_bytes, json_doc **out)
{
    char *text;
    size_t len;
    qlm_status rc = qlm_read_file(path, max_bytes, &text, &len);
    if (rc)
        return rc;
    rc = json_parse(text, len, out);
    free(text);
    return rc ? qlm_fail_context(rc, "%s", path) : QLM_OK;
}
