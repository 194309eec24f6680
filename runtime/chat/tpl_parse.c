/* Template parser: tokens -> AST, following jinja2's grammar and precedence:
 *   condexpr: or ["if" or ["else" condexpr]]
 *   or: and ("or" and)*          and: not ("and" not)*      not: "not" not | compare
 *   compare: math1 ((== != < <= > >= in "not in") math1)*
 *   math1: concat ((+ -) concat)*    concat: math2 ("~" math2)*
 *   math2: pow ((* / // %) pow)*     pow: unary ("**" unary)*
 *   unary: (- | +) unary | primary postfix* (filter | test | call)*
 *
 * Node layout:  N_IF a=cond kids=body b=else (N_BODY, or N_IF for elif)
 *   N_FOR target a=iterable c=inline filter kids=body b=else body
 *   N_SET target a=value     N_SET_BLOCK target kids=body     N_OUTPUT a=expr
 *   E_COND a=cond b=then c=else (may be NULL)   E_BIN/E_CMP op a b
 *   E_ATTR a.name   E_INDEX a[b]   E_SLICE a[kids[0]:kids[1]:kids[2]] (NULL = omitted)
 *   E_CALL a(kids)  E_FILTER a|name(kids)  E_TEST a is [not] name(kids)
 *   E_KWARG name=a  E_LIST/E_TUPLE kids  E_DICT kids = key, value, key, value...
 */
#include <string.h>

#include "runtime/chat/tpl_internal.h"

typedef struct {
    tpl_arena *a;
    const tpl_token *t;
    size_t n, i;
    int depth;
    int loops;   /* enclosing {% for %} bodies (break/continue are only valid inside) */
} parser;

typedef struct {
    tnode **v;
    size_t n, cap;
} nvec;

#define TRY(x) do { qlm_status s_ = (x); if (s_ != QLM_OK) return s_; } while (0)

static const tpl_token *cur(const parser *P) { return &P->t[P->i]; }
static const tpl_token *peek(const parser *P, size_t k) { return &P->t[P->i + k < P->n ? P->i + k : P->n - 1]; }

static bool is_name(const tpl_token *t, const char *s)
{
    return t->kind == TK_NAME && t->n == strlen(s) && memcmp(t->p, s, t->n) == 0;
}

static bool is_op(const tpl_token *t, const char *s)
{
    return t->kind == TK_OP && t->n == strlen(s) && memcmp(t->p, s, t->n) == 0;
}

static bool skip_name(parser *P, const char *s)
{
    if (!is_name(cur(P), s))
        return false;
    P->i++;
    return true;
}

static bool skip_op(parser *P, const char *s)
{
    if (!is_op(cur(P), s))
        return false;
    P->i++;
    return true;
}

static const char *describe(const tpl_token *t, char *buf, size_t cap)
{
    switch (t->kind) {
    case TK_EOF: return "end of template";
    case TK_VAR_END: return "end of print statement";
    case TK_BLOCK_END: return "end of statement block";
    case TK_STRING: return "string literal";
    case TK_INT: return "integer literal";
    default: snprintf(buf, cap, "'%.*s'", (int)(t->n > 40 ? 40 : t->n), t->p); return buf;
    }
}

static qlm_status unexpected(const parser *P, const char *wanted)
{
    char buf[64];
    return tpl_err(cur(P)->line, "unexpected %s, expected %s", describe(cur(P), buf, sizeof buf), wanted);
}

static qlm_status expect_op(parser *P, const char *s)
{
    if (skip_op(P, s))
        return QLM_OK;
    char want[16];
    snprintf(want, sizeof want, "'%s'", s);
    return unexpected(P, want);
}

static qlm_status expect_kind(parser *P, tk_kind k, const char *what)
{
    if (cur(P)->kind != k)
        return unexpected(P, what);
    P->i++;
    return QLM_OK;
}

static qlm_status new_node(parser *P, node_kind kind, int line, tnode **out)
{
    tnode *n = tpl_alloc(P->a, sizeof *n);
    if (!n)
        return qlm_fail_context(QLM_E_LIMIT, "chat template");
    n->kind = kind;
    n->line = line;
    *out = n;
    return QLM_OK;
}

static qlm_status push(parser *P, nvec *v, tnode *n)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 4;
        tnode **nv = tpl_alloc(P->a, cap * sizeof *nv);
        if (!nv)
            return qlm_fail_context(QLM_E_LIMIT, "chat template");
        if (v->n)
            memcpy(nv, v->v, v->n * sizeof *nv);
        v->v = nv;
        v->cap = cap;
    }
    v->v[v->n++] = n;
    return QLM_OK;
}

static void set_kids(tnode *n, const nvec *v)
{
    n->kids = v->v;
    n->n_kids = v->n;
}

static qlm_status enter(parser *P)
{
    if (++P->depth > QLM_TPL_MAX_DEPTH)
        return qlm_fail(QLM_E_LIMIT, "chat template line %d: nested deeper than %d", cur(P)->line, QLM_TPL_MAX_DEPTH);
    return QLM_OK;
}

static qlm_status parse_expr(parser *P, bool condexpr, tnode **out);
static qlm_status parse_unary(parser *P, bool with_filter, tnode **out);

/* Comma-separated expressions; a single one without a comma is itself. */
static qlm_status parse_tuple(parser *P, bool condexpr, bool parens, tnode **out)
{
    int line = cur(P)->line;
    nvec v = {0};
    bool is_tuple = false;
    for (;;) {
        if (v.n)
            TRY(expect_op(P, ","));
        const tpl_token *t = cur(P);
        if (t->kind == TK_VAR_END || t->kind == TK_BLOCK_END || is_op(t, ")") || is_name(t, "recursive") ||
            is_name(t, "if") || (v.n && t->kind == TK_EOF))
            break;
        tnode *e = NULL;
        TRY(parse_expr(P, condexpr, &e));
        TRY(push(P, &v, e));
        if (!is_op(cur(P), ","))
            break;
        is_tuple = true;
    }
    if (!is_tuple) {
        if (v.n) {
            *out = v.v[0];
            return QLM_OK;
        }
        if (!parens)
            return unexpected(P, "an expression");
    }
    TRY(new_node(P, E_TUPLE, line, out));
    set_kids(*out, &v);
    return QLM_OK;
}

/* Call arguments after "(": positional, then name=value. */
static qlm_status parse_args(parser *P, nvec *v)
{
    bool kw_seen = false;
    while (!is_op(cur(P), ")")) {
        if (v->n)
            TRY(expect_op(P, ","));
        if (is_op(cur(P), ")"))
            break;
        if (is_op(cur(P), "*") || is_op(cur(P), "**"))
            return tpl_err(cur(P)->line, "unsupported construct: *args / **kwargs in a call");
        tnode *e = NULL;
        if (cur(P)->kind == TK_NAME && is_op(peek(P, 1), "=")) {
            TRY(new_node(P, E_KWARG, cur(P)->line, &e));
            e->name = cur(P)->p;
            e->name_n = cur(P)->n;
            P->i += 2;
            TRY(parse_expr(P, true, &e->a));
            kw_seen = true;
        } else {
            if (kw_seen)
                return tpl_err(cur(P)->line, "positional argument after keyword argument");
            TRY(parse_expr(P, true, &e));
        }
        TRY(push(P, v, e));
    }
    return expect_op(P, ")");
}

static qlm_status parse_list_or_dict(parser *P, bool dict, tnode **out)
{
    int line = cur(P)->line;
    const char *close = dict ? "}" : "]";
    P->i++;
    nvec v = {0};
    while (!is_op(cur(P), close)) {
        if (v.n)
            TRY(expect_op(P, ","));
        if (is_op(cur(P), close))
            break;
        tnode *e = NULL;
        TRY(parse_expr(P, true, &e));
        TRY(push(P, &v, e));
        if (dict) {
            TRY(expect_op(P, ":"));
            TRY(parse_expr(P, true, &e));
            TRY(push(P, &v, e));
        }
    }
    P->i++;
    TRY(new_node(P, dict ? E_DICT : E_LIST, line, out));
    set_kids(*out, &v);
    return QLM_OK;
}

static qlm_status parse_primary(parser *P, tnode **out)
{
    const tpl_token *t = cur(P);
    tnode *n = NULL;
    if (t->kind == TK_NAME) {
        TRY(new_node(P, E_LIT, t->line, &n));
        if (is_name(t, "true") || is_name(t, "True"))
            n->lit = tv_bool(true);
        else if (is_name(t, "false") || is_name(t, "False"))
            n->lit = tv_bool(false);
        else if (is_name(t, "none") || is_name(t, "None"))
            n->lit = tv_none();
        else {
            n->kind = E_NAME;
            n->name = t->p;
            n->name_n = t->n;
        }
        P->i++;
    } else if (t->kind == TK_STRING) {
        /* adjacent literals concatenate: "a" "b" */
        size_t len = 0, k = P->i;
        for (; P->t[k].kind == TK_STRING; k++)
            len += P->t[k].n;
        char *s = tpl_alloc(P->a, len + 1);
        if (!s)
            return qlm_fail_context(QLM_E_LIMIT, "chat template");
        len = 0;
        for (; P->i < k; P->i++) {
            memcpy(s + len, P->t[P->i].p, P->t[P->i].n);
            len += P->t[P->i].n;
        }
        TRY(new_node(P, E_LIT, t->line, &n));
        n->lit = tv_str(s, len);
    } else if (t->kind == TK_INT) {
        TRY(new_node(P, E_LIT, t->line, &n));
        n->lit = tv_int(t->i);
        P->i++;
    } else if (is_op(t, "(")) {
        P->i++;
        TRY(parse_tuple(P, true, true, &n));
        TRY(expect_op(P, ")"));
    } else if (is_op(t, "[") || is_op(t, "{")) {
        TRY(parse_list_or_dict(P, is_op(t, "{"), &n));
    } else {
        return unexpected(P, "an expression");
    }
    *out = n;
    return QLM_OK;
}

/* One subscript item: an expression or a slice start:stop:step. */
static qlm_status parse_subscribed(parser *P, tnode **out, bool *is_slice, tnode *bounds[3])
{
    *is_slice = false;
    tnode *e = NULL;
    if (!is_op(cur(P), ":"))
        TRY(parse_expr(P, true, &e));
    if (!is_op(cur(P), ":")) {
        *out = e;
        return QLM_OK;
    }
    *is_slice = true;
    bounds[0] = e;
    bounds[1] = bounds[2] = NULL;
    P->i++;
    if (!is_op(cur(P), "]") && !is_op(cur(P), ",") && !is_op(cur(P), ":"))
        TRY(parse_expr(P, true, &bounds[1]));
    if (skip_op(P, ":") && !is_op(cur(P), "]") && !is_op(cur(P), ","))
        TRY(parse_expr(P, true, &bounds[2]));
    return QLM_OK;
}

static qlm_status parse_subscript(parser *P, tnode *obj, tnode **out)
{
    const tpl_token *t = cur(P);
    tnode *n = NULL;
    if (is_op(t, ".")) {
        P->i++;
        t = cur(P);
        if (t->kind == TK_INT) {
            TRY(new_node(P, E_INDEX, t->line, &n));
            TRY(new_node(P, E_LIT, t->line, &n->b));
            n->b->lit = tv_int(t->i);
        } else if (t->kind == TK_NAME) {
            TRY(new_node(P, E_ATTR, t->line, &n));
            n->name = t->p;
            n->name_n = t->n;
        } else {
            return unexpected(P, "an attribute name");
        }
        P->i++;
        n->a = obj;
        *out = n;
        return QLM_OK;
    }
    P->i++; /* [ */
    bool is_slice;
    tnode *bounds[3] = {NULL, NULL, NULL}, *key = NULL;
    TRY(parse_subscribed(P, &key, &is_slice, bounds));
    if (is_op(cur(P), ","))
        return tpl_err(cur(P)->line, "unsupported construct: tuple subscript");
    TRY(expect_op(P, "]"));
    if (is_slice) {
        TRY(new_node(P, E_SLICE, t->line, &n));
        n->kids = tpl_alloc(P->a, 3 * sizeof *n->kids);
        if (!n->kids)
            return qlm_fail_context(QLM_E_LIMIT, "chat template");
        memcpy(n->kids, bounds, sizeof bounds[0] * 3);
        n->n_kids = 3;
    } else {
        TRY(new_node(P, E_INDEX, t->line, &n));
        n->b = key;
    }
    n->a = obj;
    *out = n;
    return QLM_OK;
}

static qlm_status parse_call(parser *P, tnode *callee, tnode **out)
{
    tnode *n = NULL;
    TRY(new_node(P, E_CALL, cur(P)->line, &n));
    P->i++;
    nvec v = {0};
    TRY(parse_args(P, &v));
    set_kids(n, &v);
    n->a = callee;
    *out = n;
    return QLM_OK;
}

/* Dotted filter/test name ("x|foo" or "x is foo"). */
static qlm_status parse_dotted_name(parser *P, tnode *n)
{
    if (cur(P)->kind != TK_NAME)
        return unexpected(P, "a name");
    n->name = cur(P)->p;
    n->name_n = cur(P)->n;
    P->i++;
    if (is_op(cur(P), "."))
        return tpl_err(cur(P)->line, "unsupported construct: dotted filter or test name");
    return QLM_OK;
}

static qlm_status parse_filter(parser *P, tnode *x, tnode **out)
{
    tnode *n = NULL;
    TRY(new_node(P, E_FILTER, cur(P)->line, &n));
    P->i++; /* | */
    TRY(parse_dotted_name(P, n));
    if (is_op(cur(P), "(")) {
        P->i++;
        nvec v = {0};
        TRY(parse_args(P, &v));
        set_kids(n, &v);
    }
    n->a = x;
    *out = n;
    return QLM_OK;
}

static qlm_status parse_test(parser *P, tnode *x, tnode **out)
{
    tnode *n = NULL;
    TRY(new_node(P, E_TEST, cur(P)->line, &n));
    P->i++; /* is */
    n->op = skip_name(P, "not");
    TRY(parse_dotted_name(P, n));
    const tpl_token *t = cur(P);
    nvec v = {0};
    if (is_op(t, "(")) {
        P->i++;
        TRY(parse_args(P, &v));
    } else if ((t->kind == TK_NAME || t->kind == TK_STRING || t->kind == TK_INT || is_op(t, "(") || is_op(t, "[") ||
                is_op(t, "{")) &&
               !is_name(t, "else") && !is_name(t, "or") && !is_name(t, "and")) {
        if (is_name(t, "is"))
            return tpl_err(t->line, "you cannot chain multiple tests with is");
        tnode *arg = NULL;
        TRY(parse_primary(P, &arg));
        while (is_op(cur(P), ".") || is_op(cur(P), "["))
            TRY(parse_subscript(P, arg, &arg));
        TRY(push(P, &v, arg));
    }
    set_kids(n, &v);
    n->a = x;
    *out = n;
    return QLM_OK;
}

static qlm_status parse_unary(parser *P, bool with_filter, tnode **out)
{
    TRY(enter(P));
    tnode *n = NULL;
    const tpl_token *t = cur(P);
    if (is_op(t, "-") || is_op(t, "+")) {
        TRY(new_node(P, is_op(t, "-") ? E_NEG : E_POS, t->line, &n));
        P->i++;
        TRY(parse_unary(P, false, &n->a));
    } else {
        TRY(parse_primary(P, &n));
    }
    for (;;) {
        if (is_op(cur(P), ".") || is_op(cur(P), "["))
            TRY(parse_subscript(P, n, &n));
        else if (is_op(cur(P), "("))
            TRY(parse_call(P, n, &n));
        else
            break;
    }
    while (with_filter) {
        if (is_op(cur(P), "|"))
            TRY(parse_filter(P, n, &n));
        else if (is_name(cur(P), "is"))
            TRY(parse_test(P, n, &n));
        else if (is_op(cur(P), "("))
            TRY(parse_call(P, n, &n));
        else
            break;
    }
    P->depth--;
    *out = n;
    return QLM_OK;
}

typedef qlm_status (*level_fn)(parser *, tnode **);

/* Left-associative binary level: operands from `next`, operators from `ops`. */
static qlm_status parse_binary(parser *P, level_fn next, const char *const *ops, const op_kind *kinds, tnode **out)
{
    tnode *left = NULL;
    TRY(next(P, &left));
    for (;;) {
        size_t k = 0;
        while (ops[k] && !is_op(cur(P), ops[k]))
            k++;
        if (!ops[k])
            break;
        tnode *n = NULL;
        TRY(new_node(P, E_BIN, cur(P)->line, &n));
        P->i++;
        n->op = kinds[k];
        n->a = left;
        TRY(next(P, &n->b));
        left = n;
    }
    *out = left;
    return QLM_OK;
}

static qlm_status parse_unary_f(parser *P, tnode **out) { return parse_unary(P, true, out); }

static qlm_status parse_pow(parser *P, tnode **out)
{
    static const char *const ops[] = {"**", NULL};
    static const op_kind kinds[] = {OP_POW};
    return parse_binary(P, parse_unary_f, ops, kinds, out);
}

static qlm_status parse_math2(parser *P, tnode **out)
{
    static const char *const ops[] = {"*", "/", "//", "%", NULL};
    static const op_kind kinds[] = {OP_MUL, OP_DIV, OP_FLOORDIV, OP_MOD};
    return parse_binary(P, parse_pow, ops, kinds, out);
}

static qlm_status parse_concat(parser *P, tnode **out)
{
    static const char *const ops[] = {"~", NULL};
    static const op_kind kinds[] = {OP_CONCAT};
    return parse_binary(P, parse_math2, ops, kinds, out);
}

static qlm_status parse_math1(parser *P, tnode **out)
{
    static const char *const ops[] = {"+", "-", NULL};
    static const op_kind kinds[] = {OP_ADD, OP_SUB};
    return parse_binary(P, parse_concat, ops, kinds, out);
}

/* a < b < c is (a < b) and (b < c); operands are side-effect free. */
static qlm_status parse_compare(parser *P, tnode **out)
{
    static const char *const ops[] = {"==", "!=", "<", "<=", ">", ">=", NULL};
    static const op_kind kinds[] = {OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE};
    tnode *left = NULL, *result = NULL;
    TRY(parse_math1(P, &left));
    for (;;) {
        int line = cur(P)->line, op = -1;
        for (size_t k = 0; ops[k]; k++)
            if (is_op(cur(P), ops[k]))
                op = kinds[k];
        if (op >= 0)
            P->i++;
        else if (skip_name(P, "in"))
            op = OP_IN;
        else if (is_name(cur(P), "not") && is_name(peek(P, 1), "in")) {
            P->i += 2;
            op = OP_NOTIN;
        } else
            break;
        tnode *cmp = NULL;
        TRY(new_node(P, E_CMP, line, &cmp));
        cmp->op = op;
        cmp->a = left;
        TRY(parse_math1(P, &cmp->b));
        left = cmp->b;
        if (result) {
            tnode *and = NULL;
            TRY(new_node(P, E_AND, line, &and));
            and->a = result;
            and->b = cmp;
            cmp = and;
        }
        result = cmp;
    }
    *out = result ? result : left;
    return QLM_OK;
}

static qlm_status parse_not(parser *P, tnode **out)
{
    if (is_name(cur(P), "not")) {
        TRY(enter(P));
        TRY(new_node(P, E_NOT, cur(P)->line, out));
        P->i++;
        TRY(parse_not(P, &(*out)->a));
        P->depth--;
        return QLM_OK;
    }
    return parse_compare(P, out);
}

static qlm_status parse_logic(parser *P, bool is_or, tnode **out)
{
    tnode *left = NULL;
    TRY(is_or ? parse_logic(P, false, &left) : parse_not(P, &left));
    while (is_name(cur(P), is_or ? "or" : "and")) {
        tnode *n = NULL;
        TRY(new_node(P, is_or ? E_OR : E_AND, cur(P)->line, &n));
        P->i++;
        n->a = left;
        TRY(is_or ? parse_logic(P, false, &n->b) : parse_not(P, &n->b));
        left = n;
    }
    *out = left;
    return QLM_OK;
}

static qlm_status parse_expr(parser *P, bool condexpr, tnode **out)
{
    TRY(enter(P));
    tnode *e = NULL;
    TRY(parse_logic(P, true, &e));
    while (condexpr && is_name(cur(P), "if")) {
        tnode *n = NULL;
        TRY(new_node(P, E_COND, cur(P)->line, &n));
        P->i++;
        n->b = e;
        TRY(parse_logic(P, true, &n->a));
        if (skip_name(P, "else"))
            TRY(parse_expr(P, true, &n->c));
        e = n;
    }
    P->depth--;
    *out = e;
    return QLM_OK;
}

/* ---- statements ---------------------------------------------------------------- */

static qlm_status parse_body(parser *P, const char *const *ends, tnode **out);

/* Assignment target: name, ns.attr (set only), or a, b. */
static qlm_status parse_target(parser *P, bool allow_attr, tnode **out)
{
    nvec v = {0};
    int line = cur(P)->line;
    bool parens = skip_op(P, "(");
    for (;;) {
        if (cur(P)->kind != TK_NAME)
            return unexpected(P, "a variable name to assign to");
        tnode *n = NULL;
        TRY(new_node(P, E_NAME, cur(P)->line, &n));
        n->name = cur(P)->p;
        n->name_n = cur(P)->n;
        P->i++;
        if (allow_attr && v.n == 0 && is_op(cur(P), ".")) {
            tnode *attr = NULL;
            TRY(new_node(P, E_ATTR, cur(P)->line, &attr));
            P->i++;
            if (cur(P)->kind != TK_NAME)
                return unexpected(P, "an attribute name");
            attr->a = n;
            attr->name = cur(P)->p;
            attr->name_n = cur(P)->n;
            P->i++;
            *out = attr;
            return QLM_OK;
        }
        TRY(push(P, &v, n));
        if (!skip_op(P, ","))
            break;
    }
    if (parens)
        TRY(expect_op(P, ")"));
    if (v.n == 1 && !parens) {
        *out = v.v[0];
        return QLM_OK;
    }
    TRY(new_node(P, E_TUPLE, line, out));
    set_kids(*out, &v);
    return QLM_OK;
}

static qlm_status end_tag(parser *P) { return expect_kind(P, TK_BLOCK_END, "end of statement block"); }

/* Consumes "{% name" of the closing tag found by parse_body. */
static const tpl_token *closing_name(parser *P)
{
    P->i++; /* {% */
    return &P->t[P->i++];
}

static qlm_status parse_if(parser *P, int line, tnode **out)
{
    static const char *const ends[] = {"elif", "else", "endif", NULL};
    tnode *n = NULL;
    TRY(new_node(P, N_IF, line, &n));
    TRY(parse_tuple(P, false, false, &n->a));
    TRY(end_tag(P));
    tnode *body = NULL;
    TRY(parse_body(P, ends, &body));
    n->kids = body->kids;
    n->n_kids = body->n_kids;
    const tpl_token *t = closing_name(P);
    if (is_name(t, "elif")) {
        TRY(enter(P));
        TRY(parse_if(P, t->line, &n->b));
        P->depth--;
    } else if (is_name(t, "else")) {
        static const char *const endif[] = {"endif", NULL};
        TRY(end_tag(P));
        TRY(parse_body(P, endif, &n->b));
        closing_name(P);
        TRY(end_tag(P));
    } else {
        TRY(end_tag(P));
    }
    *out = n;
    return QLM_OK;
}

static qlm_status parse_for(parser *P, int line, tnode **out)
{
    static const char *const ends[] = {"endfor", "else", NULL};
    static const char *const endfor[] = {"endfor", NULL};
    tnode *n = NULL;
    TRY(new_node(P, N_FOR, line, &n));
    TRY(parse_target(P, false, &n->target));
    if (!skip_name(P, "in"))
        return unexpected(P, "'in'");
    TRY(parse_tuple(P, false, false, &n->a));
    if (skip_name(P, "if"))
        TRY(parse_expr(P, true, &n->c));
    if (is_name(cur(P), "recursive"))
        return tpl_err(cur(P)->line, "unsupported construct: recursive for loop");
    TRY(end_tag(P));
    P->loops++;
    tnode *body = NULL;
    TRY(parse_body(P, ends, &body));
    P->loops--;
    n->kids = body->kids;
    n->n_kids = body->n_kids;
    if (is_name(closing_name(P), "else")) {
        TRY(end_tag(P));
        TRY(parse_body(P, endfor, &n->b));
        closing_name(P);
    }
    TRY(end_tag(P));
    *out = n;
    return QLM_OK;
}

static qlm_status parse_set(parser *P, int line, tnode **out)
{
    static const char *const endset[] = {"endset", NULL};
    tnode *n = NULL;
    TRY(new_node(P, N_SET, line, &n));
    TRY(parse_target(P, true, &n->target));
    if (skip_op(P, "=")) {
        TRY(parse_tuple(P, true, false, &n->a));
        TRY(end_tag(P));
    } else {
        if (n->target->kind != E_NAME)
            return tpl_err(line, "unsupported construct: block set of a namespace attribute or tuple");
        if (is_op(cur(P), "|"))
            return tpl_err(line, "unsupported construct: filtered block set");
        TRY(end_tag(P));
        tnode *body = NULL;
        TRY(parse_body(P, endset, &body));
        closing_name(P);
        TRY(end_tag(P));
        n->kind = N_SET_BLOCK;
        n->kids = body->kids;
        n->n_kids = body->n_kids;
    }
    *out = n;
    return QLM_OK;
}

static qlm_status parse_statement(parser *P, tnode **out)
{
    const tpl_token *t = cur(P);
    int line = t->line;
    if (t->kind != TK_NAME)
        return unexpected(P, "a statement name");
    P->i++;
    if (is_name(t, "if"))
        return parse_if(P, line, out);
    if (is_name(t, "for"))
        return parse_for(P, line, out);
    if (is_name(t, "set"))
        return parse_set(P, line, out);
    if (is_name(t, "break") || is_name(t, "continue")) {
        if (!P->loops)
            return tpl_err(line, "'%.*s' outside of a for loop", (int)t->n, t->p);
        TRY(new_node(P, is_name(t, "break") ? N_BREAK : N_CONTINUE, line, out));
        return end_tag(P);
    }
    if (is_name(t, "generation")) {
        /* transformers' {% generation %} marks assistant text; it renders its body */
        static const char *const ends[] = {"endgeneration", NULL};
        TRY(end_tag(P));
        TRY(parse_body(P, ends, out));
        closing_name(P);
        return end_tag(P);
    }
    static const char *const known[] = {"macro", "call", "filter", "include", "import", "from", "extends",
                                        "block", "with", "autoescape", "do", NULL};
    for (size_t k = 0; known[k]; k++)
        if (is_name(t, known[k]))
            return tpl_err(line, "unsupported construct: {%% %s %%}", known[k]);
    return tpl_err(line, "unknown or misplaced tag '%.*s'", (int)(t->n > 40 ? 40 : t->n), t->p);
}

/* Statements until "{% <one of ends>" (left unconsumed) or the end. */
static qlm_status parse_body(parser *P, const char *const *ends, tnode **out)
{
    TRY(enter(P));
    tnode *body = NULL;
    TRY(new_node(P, N_BODY, cur(P)->line, &body));
    nvec v = {0};
    for (;;) {
        const tpl_token *t = cur(P);
        tnode *n = NULL;
        if (t->kind == TK_EOF) {
            if (ends)
                return tpl_err(t->line, "unexpected end of template, expected '%s'", ends[0]);
            break;
        }
        if (t->kind == TK_TEXT) {
            TRY(new_node(P, N_TEXT, t->line, &n));
            n->name = t->p;
            n->name_n = t->n;
            P->i++;
        } else if (t->kind == TK_VAR_BEGIN) {
            TRY(new_node(P, N_OUTPUT, t->line, &n));
            P->i++;
            TRY(parse_tuple(P, true, false, &n->a));
            TRY(expect_kind(P, TK_VAR_END, "end of print statement"));
        } else if (t->kind == TK_BLOCK_BEGIN) {
            const tpl_token *name = peek(P, 1);
            bool end = false;
            for (size_t k = 0; ends && ends[k]; k++)
                end |= is_name(name, ends[k]);
            if (end)
                break;
            P->i++;
            TRY(parse_statement(P, &n));
        } else {
            return unexpected(P, "template text or a tag");
        }
        TRY(push(P, &v, n));
    }
    set_kids(body, &v);
    P->depth--;
    *out = body;
    return QLM_OK;
}

qlm_status tpl_parse_tokens(tpl_arena *a, const tpl_token *toks, size_t n, tnode **root)
{
    parser P = {.a = a, .t = toks, .n = n};
    return parse_body(&P, NULL, root);
}
