/* Template globals (transformers' raise_exception/strftime_now, jinja's
 * namespace/range/dict) and the str/dict methods real chat templates call. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "formats/common/utf8.h"
#include "runtime/chat/tpl_internal.h"

#define TRY(x) do { qlm_status s_ = (x); if (s_ != QLM_OK) return s_; } while (0)

enum { G_RAISE = 1, G_NAMESPACE, G_RANGE, G_STRFTIME, G_DICT };
enum {
    M_STARTSWITH = 100, M_ENDSWITH, M_SPLIT, M_RSPLIT, M_STRIP, M_LSTRIP, M_RSTRIP, M_UPPER, M_LOWER, M_TITLE,
    M_CAPITALIZE, M_REPLACE, M_FIND, M_COUNT, M_JOIN, M_ITEMS, M_KEYS, M_VALUES, M_GET
};

typedef struct {
    const char *name;
    int id;
    uint8_t type;  /* receiver type */
} named;

static const named k_globals[] = {
    {"raise_exception", G_RAISE, 0}, {"namespace", G_NAMESPACE, 0}, {"range", G_RANGE, 0},
    {"strftime_now", G_STRFTIME, 0}, {"dict", G_DICT, 0},
};

static const named k_methods[] = {
    {"startswith", M_STARTSWITH, TV_STR}, {"endswith", M_ENDSWITH, TV_STR}, {"split", M_SPLIT, TV_STR},
    {"rsplit", M_RSPLIT, TV_STR},         {"strip", M_STRIP, TV_STR},       {"lstrip", M_LSTRIP, TV_STR},
    {"rstrip", M_RSTRIP, TV_STR},         {"upper", M_UPPER, TV_STR},       {"lower", M_LOWER, TV_STR},
    {"title", M_TITLE, TV_STR},           {"capitalize", M_CAPITALIZE, TV_STR}, {"replace", M_REPLACE, TV_STR},
    {"find", M_FIND, TV_STR},             {"count", M_COUNT, TV_STR},       {"join", M_JOIN, TV_STR},
    {"items", M_ITEMS, TV_DICT},          {"keys", M_KEYS, TV_DICT},        {"values", M_VALUES, TV_DICT},
    {"get", M_GET, TV_DICT},
};

static bool name_eq(const char *a, const char *b, size_t n) { return strlen(a) == n && memcmp(a, b, n) == 0; }

bool tpl_find_global(const char *name, size_t n, tv *out)
{
    for (size_t i = 0; i < sizeof k_globals / sizeof k_globals[0]; i++)
        if (name_eq(k_globals[i].name, name, n)) {
            *out = tv_none();
            out->t = TV_FUNC;
            out->fn = k_globals[i].id;
            return true;
        }
    return false;
}

bool tpl_find_method(tpl_rt *rt, const tv *self, const char *name, size_t n, tv *out)
{
    if (self->t == TV_DICT && self->u.d->ns)
        return false; /* namespace attributes are its items */
    for (size_t i = 0; i < sizeof k_methods / sizeof k_methods[0]; i++)
        if (k_methods[i].type == self->t && name_eq(k_methods[i].name, name, n)) {
            tv *copy = tpl_alloc(rt->a, sizeof *copy);
            if (!copy)
                return false;
            *copy = *self;
            *out = tv_none();
            out->t = TV_METHOD;
            out->fn = k_methods[i].id;
            out->u.self = copy;
            return true;
        }
    return false;
}

const tv *tpl_arg(const tpl_args *a, size_t i, const char *name)
{
    if (i < a->n_pos)
        return &a->pos[i];
    for (size_t k = 0; name && k < a->n_kw; k++)
        if (name_eq(name, a->kw[k]->name, a->kw[k]->name_n))
            return &a->kwv[k];
    return NULL;
}

qlm_status tpl_check_args(const tnode *at, const char *what, const tpl_args *a, size_t max_pos,
                          const char *const *names)
{
    if (a->n_pos > max_pos)
        return tpl_err(at->line, "%s takes at most %zu positional arguments (%zu given)", what, max_pos, a->n_pos);
    for (size_t k = 0; k < a->n_kw; k++) {
        bool ok = false;
        for (size_t j = 0; names && names[j]; j++)
            ok |= name_eq(names[j], a->kw[k]->name, a->kw[k]->name_n);
        if (!ok)
            return tpl_err(at->line, "unsupported construct: keyword argument '%.*s' to %s",
                           (int)a->kw[k]->name_n, a->kw[k]->name, what);
    }
    return QLM_OK;
}

static qlm_status oom(void) { return qlm_fail_context(QLM_E_LIMIT, "chat template"); }

static qlm_status new_dict(tpl_rt *rt, tv_dict **d, bool ns, tv *out)
{
    *d = tv_dict_new(rt->a, 4);
    if (!*d)
        return oom();
    (*d)->ns = ns;
    *out = tv_none();
    out->t = TV_DICT;
    out->u.d = *d;
    return QLM_OK;
}

static qlm_status want_str(const tnode *at, const char *what, const tv *v)
{
    if (!v || v->t != TV_STR)
        return tpl_err(at->line, "%s expects a string argument, got %s", what, v ? tv_type_name(v) : "nothing");
    return QLM_OK;
}

/* ---- string helpers ------------------------------------------------------------------- */

size_t tpl_cp_count(const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; k++) {
        size_t adv;
        utf8_decode(s + i, n - i, &adv);
        i += adv;
    }
    return k;
}

qlm_status tpl_to_str(tpl_rt *rt, const tv *v, tv *out)
{
    if (v->t == TV_STR) {
        *out = *v;
        return QLM_OK;
    }
    tpl_buf b;
    tpl_buf_init(&b, rt->a, QLM_TPL_MAX_OUTPUT);
    TRY(tpl_buf_put(&b, "", 0));
    TRY(tv_write_str(&b, v));
    *out = tpl_buf_value(&b);
    return QLM_OK;
}

/* Does the code point at s[0..] belong to `chars` (NULL: whitespace)? */
static bool in_set(uint32_t cp, const tv *chars)
{
    if (!chars)
        return tpl_isspace(cp);
    for (size_t i = 0; i < chars->u.s.n;) {
        size_t adv;
        if (utf8_decode(chars->u.s.p + i, chars->u.s.n - i, &adv) == cp)
            return true;
        i += adv;
    }
    return false;
}

qlm_status tpl_strip(tpl_rt *rt, const tnode *at, const tv *s, const tv *chars, bool left, bool right, tv *out)
{
    (void)rt;
    if (chars && chars->t == TV_NONE)
        chars = NULL;
    if (chars)
        TRY(want_str(at, "strip", chars));
    const char *p = s->u.s.p;
    size_t b = 0, e = s->u.s.n;
    while (left && b < e) {
        size_t adv;
        if (!in_set(utf8_decode(p + b, e - b, &adv), chars))
            break;
        b += adv;
    }
    while (right && e > b) {
        size_t st = e - 1;
        while (st > b && e - st < 4 && ((unsigned char)p[st] & 0xc0) == 0x80)
            st--;
        size_t adv;
        uint32_t cp = utf8_decode(p + st, e - st, &adv);
        if (adv != e - st)
            st = e - 1, cp = utf8_decode(p + st, 1, &adv);
        if (!in_set(cp, chars))
            break;
        e = st;
    }
    *out = tv_str(p + b, e - b);
    return QLM_OK;
}

static char ascii_case(char c, bool upper)
{
    if (upper && c >= 'a' && c <= 'z')
        return (char)(c - 32);
    if (!upper && c >= 'A' && c <= 'Z')
        return (char)(c + 32);
    return c;
}

static bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

qlm_status tpl_case(tpl_rt *rt, const tv *s, char mode, tv *out)
{
    char *d = tpl_strdup(rt->a, s->u.s.p, s->u.s.n);
    if (!d)
        return oom();
    bool prev_alpha = false;
    for (size_t i = 0; i < s->u.s.n; i++) {
        char c = d[i];
        bool up = mode == 'u' || (mode == 'c' && i == 0) || (mode == 't' && !prev_alpha);
        d[i] = ascii_case(c, up);
        prev_alpha = is_alpha(c) || ((unsigned char)c >= 0x80);
    }
    *out = tv_str(d, s->u.s.n);
    return QLM_OK;
}

static const char *find_bytes(const char *h, size_t hn, const char *n, size_t nn)
{
    if (nn == 0)
        return h;
    for (size_t i = 0; i + nn <= hn; i++)
        if (memcmp(h + i, n, nn) == 0)
            return h + i;
    return NULL;
}

qlm_status tpl_replace(tpl_rt *rt, const tnode *at, const tv *s, const tv *old, const tv *new_, const tv *count, tv *out)
{
    TRY(want_str(at, "replace", old));
    TRY(want_str(at, "replace", new_));
    int64_t left = -1;
    if (count && count->t != TV_NONE) {
        if (count->t != TV_INT)
            return tpl_err(at->line, "replace: count must be an integer");
        left = count->u.i;
    }
    if (old->u.s.n == 0)
        return tpl_err(at->line, "unsupported construct: replace with an empty old string");
    tpl_buf b;
    tpl_buf_init(&b, rt->a, QLM_TPL_MAX_OUTPUT);
    TRY(tpl_buf_put(&b, "", 0));
    const char *p = s->u.s.p, *end = p + s->u.s.n;
    for (const char *hit; left != 0 && (hit = find_bytes(p, (size_t)(end - p), old->u.s.p, old->u.s.n)); left--) {
        TRY(tpl_buf_put(&b, p, (size_t)(hit - p)));
        TRY(tpl_buf_put(&b, new_->u.s.p, new_->u.s.n));
        p = hit + old->u.s.n;
    }
    TRY(tpl_buf_put(&b, p, (size_t)(end - p)));
    *out = tpl_buf_value(&b);
    return QLM_OK;
}

/* str.split / str.rsplit (Python semantics, including whitespace splitting). */
static qlm_status split(tpl_rt *rt, const tnode *at, const tv *s, const tv *sep, const tv *maxv, bool from_right, tv *out)
{
    int64_t max = -1;
    if (sep && sep->t == TV_NONE)
        sep = NULL;
    if (sep)
        TRY(want_str(at, "split", sep));
    if (sep && sep->u.s.n == 0)
        return tpl_err(at->line, "split: empty separator");
    if (maxv && maxv->t != TV_NONE) {
        if (maxv->t != TV_INT)
            return tpl_err(at->line, "split: maxsplit must be an integer");
        max = maxv->u.i;
    }
    if (from_right && max >= 0)
        return tpl_err(at->line, "unsupported construct: rsplit with maxsplit");
    size_t cap = s->u.s.n + 1;
    tv *parts = tpl_alloc(rt->a, cap * sizeof(tv));
    if (!parts)
        return oom();
    size_t n = 0;
    const char *p = s->u.s.p, *end = p + s->u.s.n;
    if (sep) {
        const char *hit;
        while ((max < 0 || (int64_t)n < max) && (hit = find_bytes(p, (size_t)(end - p), sep->u.s.p, sep->u.s.n))) {
            parts[n++] = tv_str(p, (size_t)(hit - p));
            p = hit + sep->u.s.n;
        }
        parts[n++] = tv_str(p, (size_t)(end - p));
    } else {
        for (;;) {
            p += tpl_space_prefix(p, (size_t)(end - p));
            if (p == end)
                break;
            if (max >= 0 && (int64_t)n == max) {
                parts[n++] = tv_str(p, (size_t)(end - p)); /* Python keeps trailing space here */
                break;
            }
            const char *w = p;
            while (p < end) {
                size_t adv;
                if (tpl_isspace(utf8_decode(p, (size_t)(end - p), &adv)))
                    break;
                p += adv;
            }
            parts[n++] = tv_str(w, (size_t)(p - w));
        }
    }
    *out = tv_list(parts, n);
    return QLM_OK;
}

static qlm_status affix(const tnode *at, const tv *s, const tv *x, bool end, tv *out)
{
    const tv *opts = x;
    size_t n = 1;
    if (x && x->t == TV_LIST && x->tuple) {
        opts = x->u.l.v;
        n = x->u.l.n;
    }
    bool r = false;
    for (size_t i = 0; i < n; i++) {
        TRY(want_str(at, end ? "endswith" : "startswith", &opts[i]));
        size_t k = opts[i].u.s.n;
        if (k <= s->u.s.n && memcmp(s->u.s.p + (end ? s->u.s.n - k : 0), opts[i].u.s.p, k) == 0)
            r = true;
    }
    *out = tv_bool(r);
    return QLM_OK;
}

static qlm_status join(tpl_rt *rt, const tnode *at, const tv *sep, const tv *seq, tv *out)
{
    if (!seq || seq->t != TV_LIST)
        return tpl_err(at->line, "join expects a list");
    tpl_buf b;
    tpl_buf_init(&b, rt->a, QLM_TPL_MAX_OUTPUT);
    TRY(tpl_buf_put(&b, "", 0));
    for (size_t i = 0; i < seq->u.l.n; i++) {
        if (seq->u.l.v[i].t != TV_STR)
            return tpl_err(at->line, "join: sequence item %zu: expected str, %s found", i,
                           tv_type_name(&seq->u.l.v[i]));
        if (i)
            TRY(tpl_buf_put(&b, sep->u.s.p, sep->u.s.n));
        TRY(tpl_buf_put(&b, seq->u.l.v[i].u.s.p, seq->u.l.v[i].u.s.n));
    }
    *out = tpl_buf_value(&b);
    return QLM_OK;
}

static qlm_status dict_view(tpl_rt *rt, const tv_dict *d, int fn, tv *out)
{
    tv *items = tpl_alloc(rt->a, (d->n ? d->n : 1) * sizeof(tv));
    if (!items)
        return oom();
    for (size_t i = 0; i < d->n; i++) {
        if (fn == M_KEYS) {
            items[i] = d->keys[i];
        } else if (fn == M_VALUES) {
            items[i] = d->vals[i];
        } else {
            tv *pair = tpl_alloc(rt->a, 2 * sizeof(tv));
            if (!pair)
                return oom();
            pair[0] = d->keys[i];
            pair[1] = d->vals[i];
            items[i] = tv_list(pair, 2);
            items[i].tuple = true;
        }
    }
    *out = tv_list(items, d->n);
    return QLM_OK;
}

qlm_status tpl_call_method(tpl_rt *rt, const tnode *call, const tv *self, int fn, const tpl_args *a, tv *out)
{
    static const char *const none[] = {NULL};
    const tv *a0 = tpl_arg(a, 0, NULL), *a1 = tpl_arg(a, 1, NULL);
    const char *what = "method";
    for (size_t i = 0; i < sizeof k_methods / sizeof k_methods[0]; i++)
        if (k_methods[i].id == fn)
            what = k_methods[i].name;
    switch (fn) {
    case M_SPLIT:
    case M_RSPLIT: {
        static const char *const kw[] = {"sep", "maxsplit", NULL};
        TRY(tpl_check_args(call, what, a, 2, kw));
        return split(rt, call, self, tpl_arg(a, 0, "sep"), tpl_arg(a, 1, "maxsplit"), fn == M_RSPLIT, out);
    }
    case M_REPLACE:
        TRY(tpl_check_args(call, what, a, 3, none));
        return tpl_replace(rt, call, self, a0, a1, tpl_arg(a, 2, NULL), out);
    case M_GET:
        TRY(tpl_check_args(call, what, a, 2, none));
        if (!a0)
            return tpl_err(call->line, "get expects a key");
        {
            const tv *v = tv_dict_lookup(self->u.d, a0);
            *out = v ? *v : a1 ? *a1 : tv_none();
        }
        return QLM_OK;
    default: break;
    }
    TRY(tpl_check_args(call, what, a, fn == M_STRIP || fn == M_LSTRIP || fn == M_RSTRIP || fn == M_STARTSWITH ||
                                              fn == M_ENDSWITH || fn == M_FIND || fn == M_COUNT || fn == M_JOIN
                                          ? 1 : 0,
                       none));
    switch (fn) {
    case M_STARTSWITH:
    case M_ENDSWITH: return affix(call, self, a0, fn == M_ENDSWITH, out);
    case M_STRIP:
    case M_LSTRIP:
    case M_RSTRIP: return tpl_strip(rt, call, self, a0, fn != M_RSTRIP, fn != M_LSTRIP, out);
    case M_UPPER: return tpl_case(rt, self, 'u', out);
    case M_LOWER: return tpl_case(rt, self, 'l', out);
    case M_TITLE: return tpl_case(rt, self, 't', out);
    case M_CAPITALIZE: return tpl_case(rt, self, 'c', out);
    case M_FIND:
    case M_COUNT: {
        TRY(want_str(call, what, a0));
        const char *p = self->u.s.p, *end = p + self->u.s.n, *hit;
        if (fn == M_FIND) {
            hit = find_bytes(p, self->u.s.n, a0->u.s.p, a0->u.s.n);
            *out = tv_int(hit ? (int64_t)tpl_cp_count(p, (size_t)(hit - p)) : -1);
            return QLM_OK;
        }
        if (a0->u.s.n == 0) {
            *out = tv_int((int64_t)tpl_cp_count(p, self->u.s.n) + 1);
            return QLM_OK;
        }
        int64_t k = 0;
        for (; (hit = find_bytes(p, (size_t)(end - p), a0->u.s.p, a0->u.s.n)); k++)
            p = hit + a0->u.s.n;
        *out = tv_int(k);
        return QLM_OK;
    }
    case M_JOIN: return join(rt, call, self, a0, out);
    case M_ITEMS:
    case M_KEYS:
    case M_VALUES: return dict_view(rt, self->u.d, fn, out);
    }
    return tpl_err(call->line, "internal: unknown method");
}

/* ---- globals ----------------------------------------------------------------------------- */

static qlm_status range(tpl_rt *rt, const tnode *call, const tpl_args *a, tv *out)
{
    int64_t v[3] = {0, 0, 1};
    if (a->n_pos < 1 || a->n_pos > 3 || a->n_kw)
        return tpl_err(call->line, "range expects 1 to 3 integer arguments");
    for (size_t i = 0; i < a->n_pos; i++) {
        if (a->pos[i].t != TV_INT)
            return tpl_err(call->line, "range arguments must be integers");
        v[a->n_pos == 1 ? 1 : i] = a->pos[i].u.i;
    }
    if (v[2] == 0)
        return tpl_err(call->line, "range() arg 3 must not be zero");
    /* jinja's sandbox refuses ranges longer than 100000 */
    size_t n = 0;
    for (int64_t i = v[0]; v[2] > 0 ? i < v[1] : i > v[1]; i += v[2])
        if (++n > 100000)
            return tpl_err(call->line, "range too big (more than 100000 items)");
    tv *items = tpl_alloc(rt->a, (n ? n : 1) * sizeof(tv));
    if (!items)
        return oom();
    for (size_t k = 0; k < n; k++)
        items[k] = tv_int(v[0] + (int64_t)k * v[2]);
    *out = tv_list(items, n);
    return QLM_OK;
}

qlm_status tpl_call_global(tpl_rt *rt, const tnode *call, int fn, const tpl_args *a, tv *out)
{
    switch (fn) {
    case G_RAISE: {
        tv msg = tv_str("", 0);
        if (a->n_pos)
            TRY(tpl_to_str(rt, &a->pos[0], &msg));
        return qlm_fail(QLM_E_TEMPLATE, "chat template line %d raised an error: %.*s", call->line,
                        (int)(msg.u.s.n > 300 ? 300 : msg.u.s.n), msg.u.s.p);
    }
    case G_NAMESPACE:
    case G_DICT: {
        tv_dict *d;
        TRY(new_dict(rt, &d, fn == G_NAMESPACE, out));
        if (a->n_pos > 1 || (a->n_pos == 1 && a->pos[0].t != TV_DICT))
            return tpl_err(call->line, "%s expects keyword arguments or one dict",
                           fn == G_NAMESPACE ? "namespace" : "dict");
        for (size_t i = 0; a->n_pos && i < a->pos[0].u.d->n; i++)
            TRY(tv_dict_set(rt->a, d, a->pos[0].u.d->keys[i], a->pos[0].u.d->vals[i]));
        for (size_t i = 0; i < a->n_kw; i++)
            TRY(tv_dict_set(rt->a, d, tv_str(a->kw[i]->name, a->kw[i]->name_n), a->kwv[i]));
        return QLM_OK;
    }
    case G_RANGE: return range(rt, call, a, out);
    case G_STRFTIME: {
        if (a->n_pos != 1 || a->pos[0].t != TV_STR || a->n_kw)
            return tpl_err(call->line, "strftime_now expects one format string");
        char *fmt = tpl_strdup(rt->a, a->pos[0].u.s.p, a->pos[0].u.s.n);
        char *buf = tpl_alloc(rt->a, 512);
        if (!fmt || !buf)
            return oom();
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        size_t n = strftime(buf, 512, fmt, &tm);
        *out = tv_str(buf, n);
        return QLM_OK;
    }
    }
    return tpl_err(call->line, "internal: unknown function");
}
