/* Template filters (jinja2's builtins that chat templates use, plus
 * transformers' tojson) and tests (`x is defined`, ...). */
#include <string.h>

#include "runtime/chat/tpl_internal.h"

#define TRY(x) do { qlm_status s_ = (x); if (s_ != QLM_OK) return s_; } while (0)

static qlm_status oom(void) { return qlm_fail_context(QLM_E_LIMIT, "chat template"); }

static bool named(const tnode *n, const char *s) { return strlen(s) == n->name_n && memcmp(n->name, s, n->name_n) == 0; }

static qlm_status need_str(const tnode *at, const tv *x)
{
    if (x->t != TV_STR)
        return tpl_err(at->line, "filter '%.*s' expects a string, got %s", (int)at->name_n, at->name, tv_type_name(x));
    return QLM_OK;
}

/* list(x): list items, dict keys, string characters, undefined -> []. */
static qlm_status as_list(tpl_rt *rt, const tnode *at, const tv *x, tv *out)
{
    switch ((tv_type)x->t) {
    case TV_UNDEF: *out = tv_list(NULL, 0); return QLM_OK;
    case TV_LIST: *out = *x; out->tuple = false; return QLM_OK;
    case TV_DICT: *out = tv_list(x->u.d->keys, x->u.d->n); return QLM_OK;
    case TV_STR: {
        size_t n = tpl_cp_count(x->u.s.p, x->u.s.n), k = 0;
        tv *items = tpl_alloc(rt->a, (n ? n : 1) * sizeof(tv));
        if (!items)
            return oom();
        for (size_t i = 0; i < x->u.s.n; k++) {
            tv key = tv_int((int64_t)k), c;
            TRY(tpl_getitem(rt, at, x, &key, &c));
            items[k] = c;
            i += c.u.s.n;
        }
        *out = tv_list(items, n);
        return QLM_OK;
    }
    default: return tpl_err(at->line, "%s object is not iterable", tv_type_name(x));
    }
}

static qlm_status f_length(const tv *x, tv *out)
{
    switch ((tv_type)x->t) {
    case TV_UNDEF: *out = tv_int(0); return QLM_OK;
    case TV_STR: *out = tv_int((int64_t)tpl_cp_count(x->u.s.p, x->u.s.n)); return QLM_OK;
    case TV_LIST: *out = tv_int((int64_t)x->u.l.n); return QLM_OK;
    case TV_DICT: *out = tv_int((int64_t)x->u.d->n); return QLM_OK;
    default: return qlm_fail(QLM_E_TEMPLATE, "object of type %s has no length", tv_type_name(x));
    }
}

static qlm_status f_tojson(tpl_rt *rt, const tnode *at, const tv *x, const tpl_args *a, tv *out)
{
    static const char *const kw[] = {"indent", "sort_keys", "ensure_ascii", NULL};
    TRY(tpl_check_args(at, "tojson", a, 1, kw));
    const tv *ind = tpl_arg(a, 0, "indent"), *sort = tpl_arg(a, 1, "sort_keys"), *asc = tpl_arg(a, 2, "ensure_ascii");
    int indent = -1;
    if (ind && ind->t != TV_NONE) {
        if (ind->t != TV_INT || ind->u.i < 0 || ind->u.i > 64)
            return tpl_err(at->line, "tojson: indent must be an integer in [0, 64]");
        indent = (int)ind->u.i;
    }
    if (asc && tv_truthy(asc))
        return tpl_err(at->line, "unsupported construct: tojson(ensure_ascii=true)");
    tpl_buf b;
    tpl_buf_init(&b, rt->a, QLM_TPL_MAX_OUTPUT);
    TRY(tpl_buf_put(&b, "", 0));
    if (tv_write_json(&b, x, indent, sort && tv_truthy(sort), 0) != QLM_OK)
        return qlm_fail_context(QLM_E_TEMPLATE, "chat template line %d", at->line);
    *out = tpl_buf_value(&b);
    return QLM_OK;
}

static qlm_status f_join(tpl_rt *rt, const tnode *at, const tv *x, const tpl_args *a, tv *out)
{
    static const char *const kw[] = {"d", "attribute", NULL};
    TRY(tpl_check_args(at, "join", a, 2, kw));
    const tv *sep = tpl_arg(a, 0, "d"), *attr = tpl_arg(a, 1, "attribute");
    tv list;
    TRY(as_list(rt, at, x, &list));
    tpl_buf b;
    tpl_buf_init(&b, rt->a, QLM_TPL_MAX_OUTPUT);
    TRY(tpl_buf_put(&b, "", 0));
    for (size_t i = 0; i < list.u.l.n; i++) {
        tv item = list.u.l.v[i];
        if (i && sep)
            TRY(tv_write_str(&b, sep));
        if (attr && attr->t == TV_STR)
            TRY(tpl_getattr(rt, at, &list.u.l.v[i], attr->u.s.p, attr->u.s.n, &item));
        TRY(tv_write_str(&b, &item));
    }
    *out = tpl_buf_value(&b);
    return QLM_OK;
}

static qlm_status f_reverse(tpl_rt *rt, const tnode *at, const tv *x, tv *out)
{
    tv list;
    TRY(as_list(rt, at, x, &list));
    size_t n = list.u.l.n;
    tv *items = tpl_alloc(rt->a, (n ? n : 1) * sizeof(tv));
    if (!items)
        return oom();
    for (size_t i = 0; i < n; i++)
        items[i] = list.u.l.v[n - 1 - i];
    if (x->t != TV_STR) {
        *out = tv_list(items, n);
        return QLM_OK;
    }
    tpl_buf b;
    tpl_buf_init(&b, rt->a, QLM_TPL_MAX_OUTPUT);
    TRY(tpl_buf_put(&b, "", 0));
    for (size_t i = 0; i < n; i++)
        TRY(tpl_buf_put(&b, items[i].u.s.p, items[i].u.s.n));
    *out = tpl_buf_value(&b);
    return QLM_OK;
}

/* jinja's int filter: int(x) for ints/bools/decimal strings, else default. */
static qlm_status f_int(const tv *x, const tpl_args *a, tv *out)
{
    const tv *def = tpl_arg(a, 0, "default");
    *out = def ? *def : tv_int(0);
    if (x->t == TV_INT || x->t == TV_BOOL) {
        *out = tv_int(x->t == TV_INT ? x->u.i : x->u.b);
    } else if (x->t == TV_STR) {
        size_t i = tpl_space_prefix(x->u.s.p, x->u.s.n), n = x->u.s.n - tpl_space_suffix(x->u.s.p, x->u.s.n);
        bool neg = i < n && x->u.s.p[i] == '-';
        i += i < n && (x->u.s.p[i] == '-' || x->u.s.p[i] == '+');
        int64_t v = 0;
        size_t digits = 0;
        for (; i < n && x->u.s.p[i] >= '0' && x->u.s.p[i] <= '9' && v < INT64_MAX / 10 - 10; i++, digits++)
            v = v * 10 + (x->u.s.p[i] - '0');
        if (digits && i == n)
            *out = tv_int(neg ? -v : v);
    }
    return QLM_OK;
}

/* map/select/reject/selectattr/rejectattr over a list. */
static qlm_status f_select(tpl_rt *rt, const tnode *at, const tv *x, const tpl_args *a, bool by_attr, bool keep, tv *out)
{
    tv list;
    TRY(as_list(rt, at, x, &list));
    const tv *attr = by_attr ? tpl_arg(a, 0, NULL) : NULL;
    if (by_attr && (!attr || attr->t != TV_STR))
        return tpl_err(at->line, "%.*s expects an attribute name", (int)at->name_n, at->name);
    size_t first = by_attr ? 1 : 0;
    const tv *test = tpl_arg(a, first, NULL);
    if (test && test->t != TV_STR)
        return tpl_err(at->line, "%.*s: test name must be a string", (int)at->name_n, at->name);
    tnode tnode_ = *at;
    if (test) {
        tnode_.name = test->u.s.p;
        tnode_.name_n = test->u.s.n;
    }
    tpl_args targs = {a->pos + (a->n_pos > first + 1 ? first + 1 : a->n_pos),
                      a->n_pos > first + 1 ? a->n_pos - first - 1 : 0, NULL, NULL, 0};
    tv *items = tpl_alloc(rt->a, (list.u.l.n ? list.u.l.n : 1) * sizeof(tv));
    if (!items)
        return oom();
    size_t k = 0;
    for (size_t i = 0; i < list.u.l.n; i++) {
        tv v = list.u.l.v[i];
        if (attr)
            TRY(tpl_getattr(rt, at, &list.u.l.v[i], attr->u.s.p, attr->u.s.n, &v));
        bool r;
        if (test)
            TRY(tpl_apply_test(rt, &tnode_, &v, &targs, &r));
        else
            r = tv_truthy(&v);
        if (r == keep)
            items[k++] = list.u.l.v[i];
    }
    *out = tv_list(items, k);
    return QLM_OK;
}

static qlm_status f_map(tpl_rt *rt, const tnode *at, const tv *x, const tpl_args *a, tv *out)
{
    tv list;
    TRY(as_list(rt, at, x, &list));
    const tv *attr = tpl_arg(a, a->n_pos + 99, "attribute"), *def = tpl_arg(a, a->n_pos + 99, "default");
    const tv *filter = a->n_pos ? &a->pos[0] : NULL;
    if (!attr && (!filter || filter->t != TV_STR))
        return tpl_err(at->line, "map expects attribute=NAME or a filter name");
    tnode fnode = *at;
    if (!attr) {
        fnode.name = filter->u.s.p;
        fnode.name_n = filter->u.s.n;
    }
    tpl_args fargs = {a->pos + (a->n_pos ? 1 : 0), a->n_pos ? a->n_pos - 1 : 0, NULL, NULL, 0};
    tv *items = tpl_alloc(rt->a, (list.u.l.n ? list.u.l.n : 1) * sizeof(tv));
    if (!items)
        return oom();
    for (size_t i = 0; i < list.u.l.n; i++) {
        if (attr) {
            if (attr->t != TV_STR)
                return tpl_err(at->line, "map: attribute must be a string");
            TRY(tpl_getattr(rt, at, &list.u.l.v[i], attr->u.s.p, attr->u.s.n, &items[i]));
            if (items[i].t == TV_UNDEF && def)
                items[i] = *def;
        } else {
            TRY(tpl_apply_filter(rt, &fnode, &list.u.l.v[i], &fargs, &items[i]));
        }
    }
    *out = tv_list(items, list.u.l.n);
    return QLM_OK;
}

static qlm_status f_items(tpl_rt *rt, const tnode *at, const tv *x, tv *out)
{
    if (x->t == TV_UNDEF) {
        *out = tv_list(NULL, 0);
        return QLM_OK;
    }
    if (x->t != TV_DICT)
        return tpl_err(at->line, "items filter expects a mapping, got %s", tv_type_name(x));
    tv m;
    if (!tpl_find_method(rt, x, "items", 5, &m))
        return oom();
    tpl_args none = {0};
    return tpl_call_method(rt, at, m.u.self, m.fn, &none, out);
}

static qlm_status first_last(tpl_rt *rt, const tnode *at, const tv *x, bool last, tv *out)
{
    tv list;
    TRY(as_list(rt, at, x, &list));
    *out = list.u.l.n ? list.u.l.v[last ? list.u.l.n - 1 : 0] : tv_undef();
    return QLM_OK;
}

qlm_status tpl_apply_filter(tpl_rt *rt, const tnode *at, const tv *x, const tpl_args *a, tv *out)
{
    static const char *const none[] = {NULL};
    if (named(at, "default") || named(at, "d")) {
        static const char *const kw[] = {"default_value", "boolean", NULL};
        TRY(tpl_check_args(at, "default", a, 2, kw));
        const tv *def = tpl_arg(a, 0, "default_value"), *boolean = tpl_arg(a, 1, "boolean");
        bool use = x->t == TV_UNDEF || (boolean && tv_truthy(boolean) && !tv_truthy(x));
        *out = use ? (def ? *def : tv_str("", 0)) : *x;
        return QLM_OK;
    }
    if (named(at, "tojson"))
        return f_tojson(rt, at, x, a, out);
    if (named(at, "join"))
        return f_join(rt, at, x, a, out);
    if (named(at, "map"))
        return f_map(rt, at, x, a, out);
    if (named(at, "select") || named(at, "reject"))
        return f_select(rt, at, x, a, false, named(at, "select"), out);
    if (named(at, "selectattr") || named(at, "rejectattr"))
        return f_select(rt, at, x, a, true, named(at, "selectattr"), out);
    if (named(at, "replace")) {
        TRY(tpl_check_args(at, "replace", a, 3, none));
        tv s;
        TRY(tpl_to_str(rt, x, &s));
        return tpl_replace(rt, at, &s, tpl_arg(a, 0, NULL), tpl_arg(a, 1, NULL), tpl_arg(a, 2, NULL), out);
    }
    if (named(at, "trim")) {
        static const char *const kw[] = {"chars", NULL};
        TRY(tpl_check_args(at, "trim", a, 1, kw));
        tv s;
        TRY(tpl_to_str(rt, x, &s));
        return tpl_strip(rt, at, &s, tpl_arg(a, 0, "chars"), true, true, out);
    }
    if (named(at, "int")) {
        static const char *const kw[] = {"default", NULL};
        TRY(tpl_check_args(at, "int", a, 1, kw));
        return f_int(x, a, out);
    }
    TRY(tpl_check_args(at, "filter", a, 0, none));
    if (named(at, "length") || named(at, "count")) {
        if (f_length(x, out) != QLM_OK)
            return qlm_fail_context(QLM_E_TEMPLATE, "chat template line %d", at->line);
        return QLM_OK;
    }
    if (named(at, "string"))
        return tpl_to_str(rt, x, out);
    if (named(at, "safe")) {
        *out = *x;
        return QLM_OK;
    }
    if (named(at, "list"))
        return as_list(rt, at, x, out);
    if (named(at, "first") || named(at, "last"))
        return first_last(rt, at, x, named(at, "last"), out);
    if (named(at, "reverse"))
        return f_reverse(rt, at, x, out);
    if (named(at, "items"))
        return f_items(rt, at, x, out);
    if (named(at, "abs")) {
        if (x->t != TV_INT || x->u.i == INT64_MIN)
            return tpl_err(at->line, "abs expects an integer");
        *out = tv_int(x->u.i < 0 ? -x->u.i : x->u.i);
        return QLM_OK;
    }
    static const char *const cases[] = {"upper", "lower", "capitalize", "title"};
    for (size_t k = 0; k < 4; k++)
        if (named(at, cases[k])) {
            tv s;
            TRY(tpl_to_str(rt, x, &s));
            TRY(need_str(at, &s));
            return tpl_case(rt, &s, "ulct"[k], out);
        }
    return tpl_err(at->line, "unsupported construct: filter '%.*s'", (int)(at->name_n > 40 ? 40 : at->name_n),
                   at->name);
}

/* ---- tests -------------------------------------------------------------------------------- */

static bool is_lower_upper(const tv *x, bool upper)
{
    if (x->t != TV_STR)
        return false;
    bool cased = false;
    for (size_t i = 0; i < x->u.s.n; i++) {
        char c = x->u.s.p[i];
        if ((upper && c >= 'a' && c <= 'z') || (!upper && c >= 'A' && c <= 'Z'))
            return false;
        cased |= (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    }
    return cased;
}

static qlm_status compare_test(const tnode *at, const tv *x, const tv *y, const char *op, bool *out)
{
    if (!y)
        return tpl_err(at->line, "test '%.*s' needs an argument", (int)at->name_n, at->name);
    if (!strcmp(op, "eq") || !strcmp(op, "ne")) {
        *out = tv_equal(x, y) == !strcmp(op, "eq");
        return QLM_OK;
    }
    int c;
    if (tv_compare(x, y, &c) != QLM_OK)
        return tpl_err(at->line, "cannot compare %s with %s", tv_type_name(x), tv_type_name(y));
    *out = !strcmp(op, "lt") ? c < 0 : !strcmp(op, "le") ? c <= 0 : !strcmp(op, "gt") ? c > 0 : c >= 0;
    return QLM_OK;
}

qlm_status tpl_apply_test(tpl_rt *rt, const tnode *at, const tv *x, const tpl_args *a, bool *out)
{
    (void)rt;
    const tv *y = a->n_pos ? &a->pos[0] : NULL;
    tv_type t = (tv_type)x->t;
    static const struct { const char *name, *op; } cmp[] = {
        {"eq", "eq"}, {"equalto", "eq"}, {"==", "eq"}, {"ne", "ne"}, {"!=", "ne"}, {"lt", "lt"}, {"lessthan", "lt"},
        {"<", "lt"},  {"le", "le"},      {"<=", "le"}, {"gt", "gt"}, {"greaterthan", "gt"}, {">", "gt"},
        {"ge", "ge"}, {">=", "ge"},
    };
    for (size_t k = 0; k < sizeof cmp / sizeof cmp[0]; k++)
        if (named(at, cmp[k].name))
            return compare_test(at, x, y, cmp[k].op, out);
    if (named(at, "defined")) *out = t != TV_UNDEF;
    else if (named(at, "undefined")) *out = t == TV_UNDEF;
    else if (named(at, "none")) *out = t == TV_NONE;
    else if (named(at, "boolean")) *out = t == TV_BOOL;
    else if (named(at, "true")) *out = t == TV_BOOL && x->u.b;
    else if (named(at, "false")) *out = t == TV_BOOL && !x->u.b;
    else if (named(at, "integer")) *out = t == TV_INT;
    else if (named(at, "number")) *out = t == TV_INT || t == TV_BOOL;
    else if (named(at, "float")) *out = false;
    else if (named(at, "string")) *out = t == TV_STR;
    else if (named(at, "mapping")) *out = t == TV_DICT && !x->u.d->ns;
    else if (named(at, "iterable")) *out = t == TV_STR || t == TV_LIST || t == TV_DICT || t == TV_UNDEF;
    else if (named(at, "sequence")) *out = t == TV_STR || t == TV_LIST || (t == TV_DICT && !x->u.d->ns);
    else if (named(at, "callable")) *out = t == TV_FUNC || t == TV_METHOD;
    else if (named(at, "lower")) *out = is_lower_upper(x, false);
    else if (named(at, "upper")) *out = is_lower_upper(x, true);
    else if (named(at, "sameas")) *out = y && x->t == y->t && tv_equal(x, y);
    else if (named(at, "even") || named(at, "odd") || named(at, "divisibleby")) {
        int64_t d = named(at, "divisibleby") ? (y && y->t == TV_INT ? y->u.i : 0) : 2;
        if (t != TV_INT || d == 0)
            return tpl_err(at->line, "test '%.*s' needs integers (and a non-zero divisor)", (int)at->name_n, at->name);
        int64_t r = x->u.i % d;
        *out = named(at, "odd") ? r != 0 : r == 0;
    } else if (named(at, "in")) {
        if (!y || (y->t != TV_LIST && y->t != TV_STR && y->t != TV_DICT))
            return tpl_err(at->line, "test 'in' needs a container argument");
        if (y->t == TV_STR) {
            if (t != TV_STR)
                return tpl_err(at->line, "'in <string>' requires string as left operand");
            *out = false;
            for (size_t i = 0; !*out && i + x->u.s.n <= y->u.s.n; i++)
                *out = memcmp(y->u.s.p + i, x->u.s.p, x->u.s.n) == 0;
        } else if (y->t == TV_DICT) {
            *out = tv_dict_lookup(y->u.d, x) != NULL;
        } else {
            *out = false;
            for (size_t i = 0; !*out && i < y->u.l.n; i++)
                *out = tv_equal(x, &y->u.l.v[i]);
        }
    } else
        return tpl_err(at->line, "unsupported construct: test '%.*s'", (int)(at->name_n > 40 ? 40 : at->name_n),
                       at->name);
    return QLM_OK;
}
