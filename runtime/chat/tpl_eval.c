/* Template evaluator: statements with jinja2's scoping (a {% for %} body gets
 * a fresh scope each iteration, {% if %} none), expressions with Python
 * semantics, and the public parse/render entry points. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/common/utf8.h"
#include "runtime/chat/tpl_internal.h"

#define TRY(x) do { qlm_status s_ = (x); if (s_ != QLM_OK) return s_; } while (0)

struct qlm_template {
    tpl_arena arena;
    tnode *root;
};

typedef enum { FLOW_NEXT, FLOW_BREAK, FLOW_CONTINUE } flow;

qlm_status tpl_err(int line, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return qlm_fail(QLM_E_TEMPLATE, "chat template line %d: %s", line, msg);
}

static qlm_status step(tpl_rt *rt, int line)
{
    if (++rt->steps > QLM_TPL_MAX_STEPS)
        return qlm_fail(QLM_E_LIMIT, "chat template line %d: more than %u steps (endless loop?)", line,
                        QLM_TPL_MAX_STEPS);
    return QLM_OK;
}

static tv undef_named(const char *name, size_t n)
{
    tv v = tv_undef();
    v.u.s.p = name;
    v.u.s.n = n;
    return v;
}

static qlm_status undefined_error(int line, const tv *v)
{
    if (v->u.s.p)
        return tpl_err(line, "'%.*s' is undefined", (int)(v->u.s.n > 60 ? 60 : v->u.s.n), v->u.s.p);
    return tpl_err(line, "use of an undefined value");
}

static tv lookup(const tpl_rt *rt, const char *name, size_t n)
{
    for (const tpl_frame *f = rt->frame; f; f = f->up) {
        const tv *v = tv_dict_get(f->vars, name, n);
        if (v)
            return *v;
    }
    tv g;
    if (tpl_find_global(name, n, &g))
        return g;
    return undef_named(name, n);
}

/* ---- item and attribute access ---------------------------------------------------- */

/* Byte offset of each code point of s, plus n at the end; count in *n_cp. */
static qlm_status cp_offsets(tpl_arena *a, const char *s, size_t n, size_t **offs, size_t *n_cp)
{
    size_t *o = tpl_alloc(a, (n + 1) * sizeof *o);
    if (!o)
        return qlm_fail_context(QLM_E_LIMIT, "chat template");
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        size_t adv;
        utf8_decode(s + i, n - i, &adv);
        o[k++] = i;
        i += adv;
    }
    o[k] = n;
    *offs = o;
    *n_cp = k;
    return QLM_OK;
}

qlm_status tpl_getattr(tpl_rt *rt, const tnode *at, const tv *obj, const char *name, size_t n, tv *out)
{
    if (obj->t == TV_UNDEF)
        return undefined_error(at->line, obj);
    if (tpl_find_method(rt, obj, name, n, out))
        return QLM_OK;
    if (obj->t == TV_DICT) {
        const tv *v = tv_dict_get(obj->u.d, name, n);
        *out = v ? *v : undef_named(name, n);
        return QLM_OK;
    }
    *out = undef_named(name, n);
    return QLM_OK;
}

qlm_status tpl_getitem(tpl_rt *rt, const tnode *at, const tv *obj, const tv *key, tv *out)
{
    if (obj->t == TV_UNDEF)
        return undefined_error(at->line, obj);
    *out = tv_undef();
    if (obj->t == TV_DICT) {
        const tv *v = tv_dict_lookup(obj->u.d, key);
        if (v) {
            *out = *v;
            return QLM_OK;
        }
    } else if ((obj->t == TV_LIST || obj->t == TV_STR) && (key->t == TV_INT || key->t == TV_BOOL)) {
        int64_t i = key->t == TV_INT ? key->u.i : key->u.b;
        if (obj->t == TV_LIST) {
            int64_t len = (int64_t)obj->u.l.n;
            if (i < 0)
                i += len;
            if (i >= 0 && i < len)
                *out = obj->u.l.v[i];
            return QLM_OK;
        }
        size_t *o, ncp;
        TRY(cp_offsets(rt->a, obj->u.s.p, obj->u.s.n, &o, &ncp));
        if (i < 0)
            i += (int64_t)ncp;
        if (i >= 0 && i < (int64_t)ncp)
            *out = tv_str(obj->u.s.p + o[i], o[i + 1] - o[i]);
        return QLM_OK;
    }
    /* jinja falls back to attribute lookup for string keys (d['items'] -> method) */
    if (key->t == TV_STR && tpl_find_method(rt, obj, key->u.s.p, key->u.s.n, out))
        return QLM_OK;
    return QLM_OK;
}

/* Python slice bounds -> the list of indices to take. */
static qlm_status slice_indices(int line, int64_t len, const tv *b[3], int64_t *start, int64_t *stop, int64_t *stepv)
{
    int64_t st = 1;
    if (b[2] && b[2]->t != TV_NONE) {
        if (b[2]->t != TV_INT)
            return tpl_err(line, "slice step must be an integer");
        st = b[2]->u.i;
        if (st == 0)
            return tpl_err(line, "slice step cannot be zero");
    }
    int64_t lo = st < 0 ? -1 : 0, hi = st < 0 ? len - 1 : len;
    int64_t v[2] = {st < 0 ? hi : lo, st < 0 ? lo : hi};
    for (int k = 0; k < 2; k++) {
        if (!b[k] || b[k]->t == TV_NONE)
            continue;
        if (b[k]->t != TV_INT)
            return tpl_err(line, "slice indices must be integers or none");
        int64_t x = b[k]->u.i;
        if (x < 0) {
            x += len;
            if (x < lo)
                x = lo;
        } else if (x > hi) {
            x = hi;
        }
        v[k] = x;
    }
    *start = v[0];
    *stop = v[1];
    *stepv = st;
    return QLM_OK;
}

static qlm_status eval_slice(tpl_rt *rt, const tnode *e, tv *out)
{
    tv obj, bv[3];
    const tv *b[3] = {NULL, NULL, NULL};
    TRY(tpl_eval_expr(rt, e->a, &obj));
    for (int k = 0; k < 3; k++)
        if (e->kids[k]) {
            TRY(tpl_eval_expr(rt, e->kids[k], &bv[k]));
            b[k] = &bv[k];
        }
    if (obj.t == TV_UNDEF)
        return undefined_error(e->line, &obj);
    if (obj.t != TV_LIST && obj.t != TV_STR)
        return tpl_err(e->line, "cannot slice a %s", tv_type_name(&obj));
    size_t *o = NULL, len = obj.u.l.n;
    if (obj.t == TV_STR)
        TRY(cp_offsets(rt->a, obj.u.s.p, obj.u.s.n, &o, &len));
    int64_t start = 0, stop = 0, st = 1;
    TRY(slice_indices(e->line, (int64_t)len, b, &start, &stop, &st));
    size_t count = 0;
    for (int64_t i = start; st > 0 ? i < stop : i > stop; i += st)
        count++;
    if (obj.t == TV_LIST) {
        tv *items = tpl_alloc(rt->a, (count ? count : 1) * sizeof(tv));
        if (!items)
            return qlm_fail_context(QLM_E_LIMIT, "chat template");
        size_t k = 0;
        for (int64_t i = start; st > 0 ? i < stop : i > stop; i += st)
            items[k++] = obj.u.l.v[i];
        *out = tv_list(items, count);
        out->tuple = obj.tuple;
        return QLM_OK;
    }
    tpl_buf buf;
    tpl_buf_init(&buf, rt->a, QLM_TPL_MAX_OUTPUT);
    TRY(tpl_buf_put(&buf, "", 0));
    for (int64_t i = start; st > 0 ? i < stop : i > stop; i += st)
        TRY(tpl_buf_put(&buf, obj.u.s.p + o[i], o[i + 1] - o[i]));
    *out = tpl_buf_value(&buf);
    return QLM_OK;
}

/* ---- operators ---------------------------------------------------------------------- */

static bool int_of(const tv *v, int64_t *out)
{
    if (v->t == TV_INT)
        *out = v->u.i;
    else if (v->t == TV_BOOL)
        *out = v->u.b;
    else
        return false;
    return true;
}

static qlm_status repeat(tpl_rt *rt, const tv *seq, int64_t times, tv *out)
{
    if (times < 0)
        times = 0;
    size_t unit = seq->t == TV_STR ? seq->u.s.n : seq->u.l.n;
    if (unit && (uint64_t)times > QLM_TPL_MAX_OUTPUT / unit)
        return qlm_fail(QLM_E_LIMIT, "chat template: repetition result too large");
    if (seq->t == TV_STR) {
        tpl_buf b;
        tpl_buf_init(&b, rt->a, QLM_TPL_MAX_OUTPUT);
        TRY(tpl_buf_put(&b, "", 0));
        for (int64_t i = 0; i < times; i++)
            TRY(tpl_buf_put(&b, seq->u.s.p, unit));
        *out = tpl_buf_value(&b);
        return QLM_OK;
    }
    size_t n = unit * (size_t)times;
    tv *items = tpl_alloc(rt->a, (n ? n : 1) * sizeof(tv));
    if (!items)
        return qlm_fail_context(QLM_E_LIMIT, "chat template");
    for (size_t i = 0; i < n; i++)
        items[i] = seq->u.l.v[i % unit];
    *out = tv_list(items, n);
    return QLM_OK;
}

static qlm_status concat2(tpl_rt *rt, const tv *x, const tv *y, bool as_str, tv *out)
{
    if (x->t == TV_LIST && !as_str) {
        size_t n = x->u.l.n + y->u.l.n;
        tv *items = tpl_alloc(rt->a, (n ? n : 1) * sizeof(tv));
        if (!items)
            return qlm_fail_context(QLM_E_LIMIT, "chat template");
        if (x->u.l.n)
            memcpy(items, x->u.l.v, x->u.l.n * sizeof(tv));
        if (y->u.l.n)
            memcpy(items + x->u.l.n, y->u.l.v, y->u.l.n * sizeof(tv));
        *out = tv_list(items, n);
        return QLM_OK;
    }
    tpl_buf b;
    tpl_buf_init(&b, rt->a, QLM_TPL_MAX_OUTPUT);
    TRY(tpl_buf_put(&b, "", 0));
    TRY(tv_write_str(&b, x));
    TRY(tv_write_str(&b, y));
    *out = tpl_buf_value(&b);
    return QLM_OK;
}

static const char *const k_op_names[] = {"+", "-", "*", "/", "//", "%", "**", "~"};

static qlm_status binop(tpl_rt *rt, const tnode *e, const tv *x, const tv *y, tv *out)
{
    if (e->op == OP_CONCAT)
        return concat2(rt, x, y, true, out);
    if (x->t == TV_UNDEF)
        return undefined_error(e->line, x);
    if (y->t == TV_UNDEF)
        return undefined_error(e->line, y);
    int64_t a, b;
    bool ints = int_of(x, &a) && int_of(y, &b);
    switch (e->op) {
    case OP_ADD:
        if (ints) {
            if (__builtin_add_overflow(a, b, &a))
                break;
            *out = tv_int(a);
            return QLM_OK;
        }
        if ((x->t == TV_STR && y->t == TV_STR) || (x->t == TV_LIST && y->t == TV_LIST))
            return concat2(rt, x, y, false, out);
        break;
    case OP_SUB:
        if (ints && !__builtin_sub_overflow(a, b, &a)) {
            *out = tv_int(a);
            return QLM_OK;
        }
        break;
    case OP_MUL:
        if (ints) {
            if (__builtin_mul_overflow(a, b, &a))
                break;
            *out = tv_int(a);
            return QLM_OK;
        }
        if ((x->t == TV_STR || x->t == TV_LIST) && int_of(y, &b))
            return repeat(rt, x, b, out);
        if ((y->t == TV_STR || y->t == TV_LIST) && int_of(x, &a))
            return repeat(rt, y, a, out);
        break;
    case OP_FLOORDIV:
    case OP_MOD:
        if (!ints)
            break;
        if (b == 0)
            return tpl_err(e->line, "integer division or modulo by zero");
        if (a == INT64_MIN && b == -1)
            break;
        {
            int64_t q = a / b, r = a % b;
            if (r != 0 && ((r < 0) != (b < 0))) { /* Python floors */
                q--;
                r += b;
            }
            *out = tv_int(e->op == OP_MOD ? r : q);
        }
        return QLM_OK;
    case OP_POW:
        if (ints && b >= 0) {
            int64_t r = 1;
            if (a == 0 || a == 1)
                r = b == 0 ? 1 : a;
            else if (a == -1)
                r = b % 2 ? -1 : 1;
            else
                for (int64_t i = 0; i < b; i++)  /* |a| >= 2 overflows within 63 steps */
                    if (__builtin_mul_overflow(r, a, &r))
                        return qlm_fail(QLM_E_UNSUPPORTED, "chat template line %d: integer overflow in **", e->line);
            *out = tv_int(r);
            return QLM_OK;
        }
        break;
    case OP_DIV:
        return tpl_err(e->line, "unsupported construct: '/' (true division gives a float)");
    }
    if (ints)
        return qlm_fail(QLM_E_UNSUPPORTED, "chat template line %d: integer overflow in '%s'", e->line,
                        k_op_names[e->op]);
    return tpl_err(e->line, "unsupported operand types for %s: %s and %s", k_op_names[e->op], tv_type_name(x),
                   tv_type_name(y));
}

static qlm_status contains(const tnode *e, const tv *needle, const tv *hay, bool *out)
{
    *out = false;
    switch ((tv_type)hay->t) {
    case TV_UNDEF: return QLM_OK;
    case TV_STR:
        if (needle->t != TV_STR)
            return tpl_err(e->line, "'in <string>' requires string as left operand, not %s", tv_type_name(needle));
        if (needle->u.s.n == 0)
            *out = true;
        for (size_t i = 0; !*out && i + needle->u.s.n <= hay->u.s.n; i++)
            *out = memcmp(hay->u.s.p + i, needle->u.s.p, needle->u.s.n) == 0;
        return QLM_OK;
    case TV_LIST:
        for (size_t i = 0; !*out && i < hay->u.l.n; i++)
            *out = tv_equal(needle, &hay->u.l.v[i]);
        return QLM_OK;
    case TV_DICT: *out = tv_dict_lookup(hay->u.d, needle) != NULL; return QLM_OK;
    default: return tpl_err(e->line, "argument of type %s is not iterable", tv_type_name(hay));
    }
}

static qlm_status compare(const tnode *e, const tv *x, const tv *y, tv *out)
{
    bool r;
    switch (e->op) {
    case OP_EQ: r = tv_equal(x, y); break;
    case OP_NE: r = !tv_equal(x, y); break;
    case OP_IN: TRY(contains(e, x, y, &r)); break;
    case OP_NOTIN: TRY(contains(e, x, y, &r)); r = !r; break;
    default: {
        int c;
        if (tv_compare(x, y, &c) != QLM_OK)
            return tpl_err(e->line, "cannot compare %s with %s", tv_type_name(x), tv_type_name(y));
        r = e->op == OP_LT ? c < 0 : e->op == OP_LE ? c <= 0 : e->op == OP_GT ? c > 0 : c >= 0;
    }
    }
    *out = tv_bool(r);
    return QLM_OK;
}

/* ---- calls, filters, tests ------------------------------------------------------------ */

static qlm_status eval_args(tpl_rt *rt, const tnode *e, tpl_args *av)
{
    size_t n = e->n_kids ? e->n_kids : 1;
    av->pos = tpl_alloc(rt->a, n * sizeof(tv));
    av->kwv = tpl_alloc(rt->a, n * sizeof(tv));
    av->kw = tpl_alloc(rt->a, n * sizeof(tnode *));
    if (!av->pos || !av->kwv || !av->kw)
        return qlm_fail_context(QLM_E_LIMIT, "chat template");
    av->n_pos = av->n_kw = 0;
    for (size_t i = 0; i < e->n_kids; i++) {
        const tnode *k = e->kids[i];
        if (k->kind == E_KWARG) {
            av->kw[av->n_kw] = k;
            TRY(tpl_eval_expr(rt, k->a, &av->kwv[av->n_kw++]));
        } else {
            TRY(tpl_eval_expr(rt, k, &av->pos[av->n_pos++]));
        }
    }
    return QLM_OK;
}

static qlm_status eval_call(tpl_rt *rt, const tnode *e, tv *out)
{
    tv callee;
    TRY(tpl_eval_expr(rt, e->a, &callee));
    tpl_args av;
    TRY(eval_args(rt, e, &av));
    if (callee.t == TV_FUNC)
        return tpl_call_global(rt, e, callee.fn, &av, out);
    if (callee.t == TV_METHOD)
        return tpl_call_method(rt, e, callee.u.self, callee.fn, &av, out);
    if (callee.t == TV_UNDEF)
        return undefined_error(e->line, &callee);
    return tpl_err(e->line, "%s object is not callable", tv_type_name(&callee));
}

static qlm_status eval_collection(tpl_rt *rt, const tnode *e, tv *out)
{
    if (e->kind == E_DICT) {
        tv_dict *d = tv_dict_new(rt->a, e->n_kids / 2);
        if (!d)
            return qlm_fail_context(QLM_E_LIMIT, "chat template");
        for (size_t i = 0; i + 1 < e->n_kids; i += 2) {
            tv k, v;
            TRY(tpl_eval_expr(rt, e->kids[i], &k));
            TRY(tpl_eval_expr(rt, e->kids[i + 1], &v));
            if (k.t == TV_LIST || k.t == TV_DICT || k.t == TV_UNDEF)
                return tpl_err(e->line, "unhashable dict key of type %s", tv_type_name(&k));
            TRY(tv_dict_set(rt->a, d, k, v));
        }
        *out = tv_none();
        out->t = TV_DICT;
        out->u.d = d;
        return QLM_OK;
    }
    tv *items = tpl_alloc(rt->a, (e->n_kids ? e->n_kids : 1) * sizeof(tv));
    if (!items)
        return qlm_fail_context(QLM_E_LIMIT, "chat template");
    for (size_t i = 0; i < e->n_kids; i++)
        TRY(tpl_eval_expr(rt, e->kids[i], &items[i]));
    *out = tv_list(items, e->n_kids);
    out->tuple = e->kind == E_TUPLE;
    return QLM_OK;
}

static qlm_status eval_inner(tpl_rt *rt, const tnode *e, tv *out)
{
    tv x, y;
    switch (e->kind) {
    case E_LIT: *out = e->lit; return QLM_OK;
    case E_NAME: *out = lookup(rt, e->name, e->name_n); return QLM_OK;
    case E_LIST:
    case E_TUPLE:
    case E_DICT: return eval_collection(rt, e, out);
    case E_ATTR:
        TRY(tpl_eval_expr(rt, e->a, &x));
        return tpl_getattr(rt, e, &x, e->name, e->name_n, out);
    case E_INDEX:
        TRY(tpl_eval_expr(rt, e->a, &x));
        TRY(tpl_eval_expr(rt, e->b, &y));
        return tpl_getitem(rt, e, &x, &y, out);
    case E_SLICE: return eval_slice(rt, e, out);
    case E_CALL: return eval_call(rt, e, out);
    case E_FILTER: {
        tpl_args av;
        TRY(tpl_eval_expr(rt, e->a, &x));
        TRY(eval_args(rt, e, &av));
        return tpl_apply_filter(rt, e, &x, &av, out);
    }
    case E_TEST: {
        tpl_args av;
        bool r;
        TRY(tpl_eval_expr(rt, e->a, &x));
        TRY(eval_args(rt, e, &av));
        if (av.n_kw)
            return tpl_err(e->line, "unsupported construct: keyword arguments to a test");
        TRY(tpl_apply_test(rt, e, &x, &av, &r));
        *out = tv_bool(e->op ? !r : r);
        return QLM_OK;
    }
    case E_NOT:
        TRY(tpl_eval_expr(rt, e->a, &x));
        *out = tv_bool(!tv_truthy(&x));
        return QLM_OK;
    case E_NEG:
    case E_POS: {
        int64_t i;
        TRY(tpl_eval_expr(rt, e->a, &x));
        if (!int_of(&x, &i))
            return tpl_err(e->line, "bad operand type for unary %s: %s", e->kind == E_NEG ? "-" : "+",
                           tv_type_name(&x));
        if (e->kind == E_NEG && i == INT64_MIN)
            return qlm_fail(QLM_E_UNSUPPORTED, "chat template line %d: integer overflow", e->line);
        *out = tv_int(e->kind == E_NEG ? -i : i);
        return QLM_OK;
    }
    case E_BIN:
        TRY(tpl_eval_expr(rt, e->a, &x));
        TRY(tpl_eval_expr(rt, e->b, &y));
        return binop(rt, e, &x, &y, out);
    case E_CMP:
        TRY(tpl_eval_expr(rt, e->a, &x));
        TRY(tpl_eval_expr(rt, e->b, &y));
        return compare(e, &x, &y, out);
    case E_AND:
    case E_OR:
        TRY(tpl_eval_expr(rt, e->a, &x));
        if (tv_truthy(&x) == (e->kind == E_OR)) {
            *out = x;
            return QLM_OK;
        }
        return tpl_eval_expr(rt, e->b, out);
    case E_COND:
        TRY(tpl_eval_expr(rt, e->a, &x));
        if (tv_truthy(&x))
            return tpl_eval_expr(rt, e->b, out);
        if (e->c)
            return tpl_eval_expr(rt, e->c, out);
        *out = tv_undef();
        return QLM_OK;
    default: return tpl_err(e->line, "internal: statement where an expression was expected");
    }
}

qlm_status tpl_eval_expr(tpl_rt *rt, const tnode *e, tv *out)
{
    if (++rt->depth > 4 * QLM_TPL_MAX_DEPTH)
        return qlm_fail(QLM_E_LIMIT, "chat template line %d: evaluation nested too deeply", e->line);
    qlm_status st = eval_inner(rt, e, out);
    rt->depth--;
    return st;
}

/* ---- statements ------------------------------------------------------------------------- */

static qlm_status exec_body(tpl_rt *rt, tnode *const *kids, size_t n, tpl_buf *out, flow *fl);

static qlm_status bind(tpl_rt *rt, const tnode *target, const tv *v)
{
    tv_dict *vars = rt->frame->vars;
    if (target->kind == E_NAME)
        return tv_dict_set(rt->a, vars, tv_str(target->name, target->name_n), *v);
    if (target->kind == E_ATTR) {
        tv ns = lookup(rt, target->a->name, target->a->name_n);
        if (ns.t != TV_DICT || !ns.u.d->ns)
            return tpl_err(target->line, "cannot assign attribute on non-namespace object");
        return tv_dict_set(rt->a, ns.u.d, tv_str(target->name, target->name_n), *v);
    }
    if (v->t != TV_LIST)
        return tpl_err(target->line, "cannot unpack a %s", tv_type_name(v));
    if (v->u.l.n != target->n_kids)
        return tpl_err(target->line, "%s values to unpack (expected %zu, got %zu)",
                       v->u.l.n > target->n_kids ? "too many" : "not enough", target->n_kids, v->u.l.n);
    for (size_t i = 0; i < target->n_kids; i++)
        TRY(bind(rt, target->kids[i], &v->u.l.v[i]));
    return QLM_OK;
}

static qlm_status push_frame(tpl_rt *rt, tpl_frame *f)
{
    f->vars = tv_dict_new(rt->a, 0);
    if (!f->vars)
        return qlm_fail_context(QLM_E_LIMIT, "chat template");
    f->up = rt->frame;
    rt->frame = f;
    return QLM_OK;
}

/* The values a {% for %} walks: list items, dict keys, string characters. */
static qlm_status iterable(tpl_rt *rt, const tnode *s, const tv *it, tv **items, size_t *n)
{
    switch ((tv_type)it->t) {
    case TV_UNDEF: *n = 0; *items = NULL; return QLM_OK;
    case TV_LIST: *items = it->u.l.v; *n = it->u.l.n; return QLM_OK;
    case TV_DICT: *items = it->u.d->keys; *n = it->u.d->n; return QLM_OK;
    case TV_STR: {
        size_t *o, ncp;
        TRY(cp_offsets(rt->a, it->u.s.p, it->u.s.n, &o, &ncp));
        tv *v = tpl_alloc(rt->a, (ncp ? ncp : 1) * sizeof(tv));
        if (!v)
            return qlm_fail_context(QLM_E_LIMIT, "chat template");
        for (size_t i = 0; i < ncp; i++)
            v[i] = tv_str(it->u.s.p + o[i], o[i + 1] - o[i]);
        *items = v;
        *n = ncp;
        return QLM_OK;
    }
    default: return tpl_err(s->line, "%s object is not iterable", tv_type_name(it));
    }
}

/* Items that pass the inline `if`, evaluated with the target bound. */
static qlm_status filter_items(tpl_rt *rt, const tnode *s, tv **items, size_t *n)
{
    tv *kept = tpl_alloc(rt->a, (*n ? *n : 1) * sizeof(tv));
    if (!kept)
        return qlm_fail_context(QLM_E_LIMIT, "chat template");
    size_t k = 0;
    for (size_t i = 0; i < *n; i++) {
        tpl_frame f;
        TRY(step(rt, s->line));
        TRY(push_frame(rt, &f));
        qlm_status st = bind(rt, s->target, &(*items)[i]);
        tv c;
        if (st == QLM_OK)
            st = tpl_eval_expr(rt, s->c, &c);
        rt->frame = f.up;
        TRY(st);
        if (tv_truthy(&c))
            kept[k++] = (*items)[i];
    }
    *items = kept;
    *n = k;
    return QLM_OK;
}

static qlm_status loop_object(tpl_rt *rt, const tv *items, size_t n, size_t i, tv *out)
{
    tv_dict *d = tv_dict_new(rt->a, 12);
    if (!d)
        return qlm_fail_context(QLM_E_LIMIT, "chat template");
    struct { const char *k; tv v; } e[] = {
        {"index", tv_int((int64_t)i + 1)},        {"index0", tv_int((int64_t)i)},
        {"revindex", tv_int((int64_t)(n - i))},   {"revindex0", tv_int((int64_t)(n - i - 1))},
        {"first", tv_bool(i == 0)},               {"last", tv_bool(i + 1 == n)},
        {"length", tv_int((int64_t)n)},           {"depth", tv_int(1)},
        {"depth0", tv_int(0)},
        {"previtem", i > 0 ? items[i - 1] : undef_named("previtem", 8)},
        {"nextitem", i + 1 < n ? items[i + 1] : undef_named("nextitem", 8)},
    };
    for (size_t k = 0; k < sizeof e / sizeof e[0]; k++)
        TRY(tv_dict_set(rt->a, d, tv_str(e[k].k, strlen(e[k].k)), e[k].v));
    *out = tv_none();
    out->t = TV_DICT;
    out->u.d = d;
    return QLM_OK;
}

static qlm_status exec_for(tpl_rt *rt, const tnode *s, tpl_buf *out)
{
    tv it, *items = NULL;
    size_t n = 0;
    TRY(tpl_eval_expr(rt, s->a, &it));
    TRY(iterable(rt, s, &it, &items, &n));
    if (s->c)
        TRY(filter_items(rt, s, &items, &n));
    if (n == 0 && s->b) {
        flow fl = FLOW_NEXT;
        return exec_body(rt, s->b->kids, s->b->n_kids, out, &fl);
    }
    for (size_t i = 0; i < n; i++) {
        tpl_frame f;
        tv loop;
        flow fl = FLOW_NEXT;
        TRY(step(rt, s->line));
        TRY(push_frame(rt, &f));
        qlm_status st = loop_object(rt, items, n, i, &loop);
        if (st == QLM_OK)
            st = tv_dict_set(rt->a, f.vars, tv_str("loop", 4), loop);
        if (st == QLM_OK)
            st = bind(rt, s->target, &items[i]);
        if (st == QLM_OK)
            st = exec_body(rt, s->kids, s->n_kids, out, &fl);
        rt->frame = f.up;
        TRY(st);
        if (fl == FLOW_BREAK)
            break;
    }
    return QLM_OK;
}

static qlm_status exec_stmt(tpl_rt *rt, const tnode *s, tpl_buf *out, flow *fl)
{
    TRY(step(rt, s->line));
    tv v;
    switch (s->kind) {
    case N_TEXT: return tpl_buf_put(out, s->name, s->name_n);
    case N_OUTPUT:
        TRY(tpl_eval_expr(rt, s->a, &v));
        return tv_write_str(out, &v);
    case N_IF:
        for (const tnode *b = s; b;) {
            TRY(tpl_eval_expr(rt, b->a, &v));
            if (tv_truthy(&v))
                return exec_body(rt, b->kids, b->n_kids, out, fl);
            b = b->b;
            if (b && b->kind == N_BODY)
                return exec_body(rt, b->kids, b->n_kids, out, fl);
        }
        return QLM_OK;
    case N_FOR: return exec_for(rt, s, out);
    case N_SET:
        TRY(tpl_eval_expr(rt, s->a, &v));
        return bind(rt, s->target, &v);
    case N_SET_BLOCK: {
        tpl_buf b;
        tpl_buf_init(&b, rt->a, QLM_TPL_MAX_OUTPUT);
        TRY(tpl_buf_put(&b, "", 0));
        TRY(exec_body(rt, s->kids, s->n_kids, &b, fl));
        v = tpl_buf_value(&b);
        return bind(rt, s->target, &v);
    }
    case N_BODY: return exec_body(rt, s->kids, s->n_kids, out, fl);
    case N_BREAK: *fl = FLOW_BREAK; return QLM_OK;
    case N_CONTINUE: *fl = FLOW_CONTINUE; return QLM_OK;
    default: return tpl_err(s->line, "internal: expression where a statement was expected");
    }
}

static qlm_status exec_body(tpl_rt *rt, tnode *const *kids, size_t n, tpl_buf *out, flow *fl)
{
    if (++rt->depth > 4 * QLM_TPL_MAX_DEPTH)
        return qlm_fail(QLM_E_LIMIT, "chat template: blocks nested too deeply");
    qlm_status st = QLM_OK;
    for (size_t i = 0; i < n && st == QLM_OK && *fl == FLOW_NEXT; i++)
        st = exec_stmt(rt, kids[i], out, fl);
    rt->depth--;
    return st;
}

/* ---- public entry points ------------------------------------------------------------------ */

qlm_status qlm_tpl_parse(const char *src, size_t len, qlm_template **out)
{
    *out = NULL;
    if (!utf8_valid(src, len))
        return qlm_fail(QLM_E_UTF8, "chat template is not valid UTF-8");
    qlm_template *t = calloc(1, sizeof *t);
    if (!t)
        return qlm_fail(QLM_E_NOMEM, "out of memory");
    tpl_arena_init(&t->arena, QLM_TPL_MAX_MEMORY);
    tpl_token *toks;
    size_t n = 0;
    qlm_status st = tpl_lex(&t->arena, src, len, &toks, &n);
    if (st == QLM_OK)
        st = tpl_parse_tokens(&t->arena, toks, n, &t->root);
    if (st != QLM_OK) {
        qlm_tpl_free(t);
        return st;
    }
    *out = t;
    return QLM_OK;
}

void qlm_tpl_free(qlm_template *t)
{
    if (!t)
        return;
    tpl_arena_free(&t->arena);
    free(t);
}

/* Runs the template with `globals` as the outermost scope. */
static qlm_status render(const qlm_template *t, tpl_arena *a, tv_dict *globals, char **out, size_t *len)
{
    tpl_frame g = {NULL, globals}, top;
    tpl_rt rt = {.a = a, .frame = &g};
    TRY(push_frame(&rt, &top));
    tpl_buf b;
    tpl_buf_init(&b, a, QLM_TPL_MAX_OUTPUT);
    TRY(tpl_buf_put(&b, "", 0));
    flow fl = FLOW_NEXT;
    TRY(exec_body(&rt, t->root->kids, t->root->n_kids, &b, &fl));
    char *s = malloc(b.n + 1);
    if (!s)
        return qlm_fail(QLM_E_NOMEM, "out of memory");
    memcpy(s, b.p, b.n + 1);
    *out = s;
    *len = b.n;
    return QLM_OK;
}

static qlm_status set_str(tpl_arena *a, tv_dict *d, const char *k, const char *v)
{
    return tv_dict_set(a, d, tv_str(k, strlen(k)), v ? tv_str(v, strlen(v)) : tv_undef());
}

static qlm_status build_vars(tpl_arena *a, const qlm_tpl_vars *v, tv_dict *g)
{
    tv *msgs = tpl_alloc(a, (v->n_messages ? v->n_messages : 1) * sizeof(tv));
    if (!msgs)
        return qlm_fail_context(QLM_E_LIMIT, "chat template");
    for (size_t i = 0; i < v->n_messages; i++) {
        const qlm_chat_msg *m = &v->messages[i];
        tv_dict *d = tv_dict_new(a, 3);
        if (!d)
            return qlm_fail_context(QLM_E_LIMIT, "chat template");
        TRY(set_str(a, d, "role", m->role ? m->role : ""));
        TRY(set_str(a, d, "content", m->content ? m->content : ""));
        if (m->reasoning_content)
            TRY(set_str(a, d, "reasoning_content", m->reasoning_content));
        msgs[i] = tv_none();
        msgs[i].t = TV_DICT;
        msgs[i].u.d = d;
    }
    TRY(tv_dict_set(a, g, tv_str("messages", 8), tv_list(msgs, v->n_messages)));
    tv tools = tv_none();
    if (v->tools)
        TRY(tv_from_json(a, v->tools, &tools));
    TRY(tv_dict_set(a, g, tv_str("tools", 5), tools));
    TRY(tv_dict_set(a, g, tv_str("documents", 9), tv_none()));
    TRY(tv_dict_set(a, g, tv_str("add_generation_prompt", 21), tv_bool(v->add_generation_prompt)));
    if (v->enable_thinking >= 0)
        TRY(tv_dict_set(a, g, tv_str("enable_thinking", 15), tv_bool(v->enable_thinking != 0)));
    if (v->bos_token)
        TRY(set_str(a, g, "bos_token", v->bos_token));
    if (v->eos_token)
        TRY(set_str(a, g, "eos_token", v->eos_token));
    return QLM_OK;
}

qlm_status qlm_tpl_render(const qlm_template *t, const qlm_tpl_vars *v, char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    tpl_arena a;
    tpl_arena_init(&a, QLM_TPL_MAX_MEMORY);
    tv_dict *g = tv_dict_new(&a, 8);
    qlm_status st = g ? build_vars(&a, v, g) : qlm_fail_context(QLM_E_LIMIT, "chat template");
    if (st == QLM_OK)
        st = render(t, &a, g, out, len);
    tpl_arena_free(&a);
    return st;
}

qlm_status qlm_tpl_render_json(const qlm_template *t, const json_value *vars, char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    if (!vars || vars->type != JSON_OBJECT)
        return qlm_fail(QLM_E_ARG, "chat template variables must be a JSON object");
    tpl_arena a;
    tpl_arena_init(&a, QLM_TPL_MAX_MEMORY);
    tv g;
    qlm_status st = tv_from_json(&a, vars, &g);
    if (st == QLM_OK && !tv_dict_get(g.u.d, "tools", 5))
        st = tv_dict_set(&a, g.u.d, tv_str("tools", 5), tv_none());
    if (st == QLM_OK && !tv_dict_get(g.u.d, "documents", 9))
        st = tv_dict_set(&a, g.u.d, tv_str("documents", 9), tv_none());
    if (st == QLM_OK)
        st = render(t, &a, g.u.d, out, len);
    tpl_arena_free(&a);
    return st;
}
