/* Internals of the chat-template engine: arena, values, tokens, AST.
 * Shared by tpl_lex.c, tpl_parse.c, tpl_value.c, tpl_eval.c, tpl_builtins.c. */
#ifndef QLM_TPL_INTERNAL_H
#define QLM_TPL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "formats/common/err.h"
#include "runtime/chat/template.h"

/* ---- arena: every allocation of a parse or a render, freed at once -------- */
typedef struct tpl_chunk tpl_chunk;
typedef struct {
    tpl_chunk *head;
    size_t total;   /* bytes handed out so far */
    size_t cap;     /* QLM_E_LIMIT beyond this */
} tpl_arena;

void tpl_arena_init(tpl_arena *a, size_t cap);
void tpl_arena_free(tpl_arena *a);
/* Zeroed memory, or NULL after recording QLM_E_LIMIT / QLM_E_NOMEM. */
void *tpl_alloc(tpl_arena *a, size_t n);
/* Copy of s[0..n) with a NUL after it. */
char *tpl_strdup(tpl_arena *a, const char *s, size_t n);

/* Python's str.isspace() for one code point (also jinja's \s). */
bool tpl_isspace(uint32_t cp);
/* Length of the whitespace run starting at / ending at the given end. */
size_t tpl_space_prefix(const char *s, size_t n);
size_t tpl_space_suffix(const char *s, size_t n);

/* ---- values ----------------------------------------------------------------- */
typedef enum { TV_UNDEF, TV_NONE, TV_BOOL, TV_INT, TV_STR, TV_LIST, TV_DICT, TV_FUNC, TV_METHOD } tv_type;

typedef struct tv tv;
typedef struct tv_dict tv_dict;

struct tv {
    uint8_t t;       /* tv_type */
    bool tuple;      /* TV_LIST written as a tuple: prints as (a, b) */
    int fn;          /* TV_FUNC / TV_METHOD: builtin id */
    union {
        bool b;
        int64_t i;
        struct { const char *p; size_t n; } s;
        struct { tv *v; size_t n; } l;
        tv_dict *d;
        tv *self;    /* TV_METHOD receiver */
    } u;
};

/* Insertion-ordered mapping. Plain dicts are immutable after construction;
 * namespace() objects are the one mutable kind (set ns.attr = ...). */
struct tv_dict {
    tv *keys, *vals;
    size_t n, cap;
    bool ns;
};

static inline tv tv_undef(void) { tv v = {0}; v.t = TV_UNDEF; return v; }
static inline tv tv_none(void) { tv v = {0}; v.t = TV_NONE; return v; }
static inline tv tv_bool(bool b) { tv v = {0}; v.t = TV_BOOL; v.u.b = b; return v; }
static inline tv tv_int(int64_t i) { tv v = {0}; v.t = TV_INT; v.u.i = i; return v; }
static inline tv tv_str(const char *p, size_t n) { tv v = {0}; v.t = TV_STR; v.u.s.p = p; v.u.s.n = n; return v; }
static inline tv tv_list(tv *items, size_t n) { tv v = {0}; v.t = TV_LIST; v.u.l.v = items; v.u.l.n = n; return v; }

const char *tv_type_name(const tv *v);
bool tv_truthy(const tv *v);
bool tv_equal(const tv *a, const tv *b);

/* Growable byte buffer inside an arena (strings under construction). */
typedef struct {
    tpl_arena *a;
    char *p;
    size_t n, cap, max;
} tpl_buf;

void tpl_buf_init(tpl_buf *b, tpl_arena *a, size_t max);
qlm_status tpl_buf_put(tpl_buf *b, const char *s, size_t n);
qlm_status tpl_buf_putc(tpl_buf *b, char c);
tv tpl_buf_value(tpl_buf *b);

/* str(v) and repr(v) as Python prints them; tojson as json.dumps(v,
 * ensure_ascii=False, indent=indent (<0: none), sort_keys). */
qlm_status tv_write_str(tpl_buf *b, const tv *v);
qlm_status tv_write_repr(tpl_buf *b, const tv *v);
qlm_status tv_write_json(tpl_buf *b, const tv *v, int indent, bool sort_keys, int depth);
/* Compare for sort()/dictsort(): ints/bools with ints, strings with strings. */
qlm_status tv_compare(const tv *a, const tv *b, int *out);

tv_dict *tv_dict_new(tpl_arena *a, size_t cap);
qlm_status tv_dict_set(tpl_arena *a, tv_dict *d, tv key, tv val);
const tv *tv_dict_get(const tv_dict *d, const char *key, size_t n);
const tv *tv_dict_lookup(const tv_dict *d, const tv *key);

/* A JSON value as a template value (numbers that are not integers fail). */
qlm_status tv_from_json(tpl_arena *a, const json_value *j, tv *out);

/* ---- tokens and AST ---------------------------------------------------------- */
typedef enum {
    TK_EOF, TK_TEXT, TK_VAR_BEGIN, TK_VAR_END, TK_BLOCK_BEGIN, TK_BLOCK_END,
    TK_NAME, TK_STRING, TK_INT, TK_OP
} tk_kind;

typedef struct {
    tk_kind kind;
    int line;
    const char *p;   /* text / name / unescaped string / operator spelling */
    size_t n;
    int64_t i;       /* TK_INT */
} tpl_token;

/* Tokenise `src` (newlines normalised, one trailing newline dropped, trim and
 * lstrip rules applied to TK_TEXT). Tokens and strings live in `a`. */
qlm_status tpl_lex(tpl_arena *a, const char *src, size_t len, tpl_token **toks, size_t *n);

typedef enum {
    /* statements */
    N_BODY, N_TEXT, N_OUTPUT, N_IF, N_FOR, N_SET, N_SET_BLOCK, N_BREAK, N_CONTINUE,
    /* expressions */
    E_LIT, E_NAME, E_LIST, E_TUPLE, E_DICT, E_ATTR, E_INDEX, E_SLICE, E_CALL, E_KWARG,
    E_FILTER, E_TEST, E_NOT, E_NEG, E_POS, E_BIN, E_AND, E_OR, E_COND, E_CMP
} node_kind;

/* Binary and comparison operators (E_BIN, E_CMP). */
typedef enum {
    OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_FLOORDIV, OP_MOD, OP_POW, OP_CONCAT,
    OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_IN, OP_NOTIN
} op_kind;

typedef struct tnode tnode;
struct tnode {
    node_kind kind;
    int line;
    int op;             /* op_kind; E_TEST: 1 when negated ("is not") */
    const char *name;   /* E_NAME, E_ATTR, E_KWARG, E_FILTER, E_TEST names; N_TEXT data */
    size_t name_n;
    tnode *a, *b, *c;   /* operands / condition / iterable / value (see tpl_parse.c) */
    tnode *target;      /* N_FOR, N_SET, N_SET_BLOCK: E_NAME, E_ATTR (ns.x) or E_TUPLE of names */
    tnode **kids;       /* bodies, list/dict items, call arguments, slice bounds */
    size_t n_kids;
    tv lit;             /* E_LIT */
};

/* Parse the token stream into a N_BODY root. */
qlm_status tpl_parse_tokens(tpl_arena *a, const tpl_token *toks, size_t n, tnode **root);

/* ---- evaluation -------------------------------------------------------------- */
typedef struct tpl_frame tpl_frame;
struct tpl_frame {
    tpl_frame *up;
    tv_dict *vars;
};

typedef struct {
    tpl_arena *a;
    tpl_frame *frame;
    uint64_t steps;
    int depth;
} tpl_rt;

/* Evaluated call arguments: positional values, then name=value pairs. */
typedef struct {
    tv *pos;
    size_t n_pos;
    const tnode **kw;   /* E_KWARG nodes (names) */
    tv *kwv;
    size_t n_kw;
} tpl_args;

/* Builtin globals (raise_exception, namespace, range, strftime_now, dict)
 * and methods (str.strip, dict.items, ...), stored as tv.fn ids. */
bool tpl_find_global(const char *name, size_t n, tv *out);
bool tpl_find_method(tpl_rt *rt, const tv *self, const char *name, size_t n, tv *out);
qlm_status tpl_call_global(tpl_rt *rt, const tnode *call, int fn, const tpl_args *a, tv *out);
qlm_status tpl_call_method(tpl_rt *rt, const tnode *call, const tv *self, int fn, const tpl_args *a, tv *out);
qlm_status tpl_apply_filter(tpl_rt *rt, const tnode *node, const tv *x, const tpl_args *a, tv *out);
qlm_status tpl_apply_test(tpl_rt *rt, const tnode *node, const tv *x, const tpl_args *a, bool *out);

/* Argument i (positional) or `name` (keyword), else NULL. Fails if more
 * than max_pos positional or a keyword not in `names` (NULL-terminated). */
const tv *tpl_arg(const tpl_args *a, size_t i, const char *name);
qlm_status tpl_check_args(const tnode *at, const char *what, const tpl_args *a, size_t max_pos,
                          const char *const *names);

/* String helpers shared by filters and methods (Python semantics). */
qlm_status tpl_strip(tpl_rt *rt, const tnode *at, const tv *s, const tv *chars, bool left, bool right, tv *out);
/* mode: 'u' upper, 'l' lower, 'c' capitalize, 't' title (ASCII letters only). */
qlm_status tpl_case(tpl_rt *rt, const tv *s, char mode, tv *out);
qlm_status tpl_replace(tpl_rt *rt, const tnode *at, const tv *s, const tv *old, const tv *new_, const tv *count, tv *out);
/* str(v) as a new string value. */
qlm_status tpl_to_str(tpl_rt *rt, const tv *v, tv *out);
/* Number of code points. */
size_t tpl_cp_count(const char *s, size_t n);

/* Evaluate an expression (tpl_eval.c); used by filters that call tests. */
qlm_status tpl_eval_expr(tpl_rt *rt, const tnode *e, tv *out);
/* Item lookup obj[key] with jinja's getitem rules (undefined when missing). */
qlm_status tpl_getitem(tpl_rt *rt, const tnode *at, const tv *obj, const tv *key, tv *out);
/* Attribute lookup obj.name (methods first, then items). */
qlm_status tpl_getattr(tpl_rt *rt, const tnode *at, const tv *obj, const char *name, size_t n, tv *out);

/* QLM_E_TEMPLATE "template line L: ..." */
qlm_status tpl_err(int line, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
