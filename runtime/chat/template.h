/* Chat templates: the Jinja subset that models' chat_template strings use,
 * rendered exactly as Hugging Face transformers' apply_chat_template does.
 *
 * transformers renders with jinja2's ImmutableSandboxedEnvironment,
 * trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False, the
 * loopcontrols extension ({% break %}, {% continue %}), {% generation %}
 * blocks, a `tojson` filter that is json.dumps(ensure_ascii=False), and the
 * globals raise_exception(msg) and strftime_now(fmt). The variables are
 * `messages`, `tools` (none when absent), `documents` (none),
 * `add_generation_prompt`, the special-token strings (bos_token, eos_token)
 * and any extra keyword such as `enable_thinking` (undefined when not given).
 *
 * Supported: {{ }}, {% if/elif/else %}, {% for %} (tuple targets, inline
 * `if` filter, `else`, loop.index/index0/revindex/revindex0/first/last/
 * length/previtem/nextitem), {% set %} (names, namespace attributes, block
 * set), {% break/continue %}, {% generation %}, comments, whitespace control
 * (-, +), expressions with Python semantics (int arithmetic, ~, comparisons,
 * and/or/not, in, `x if c else y`, subscripts, slices, attributes, calls),
 * tests (defined, none, string, number, ...), the filters and str/dict/list
 * methods real templates use. Values: none, bool, int, string, list, dict.
 * Anything else (macros, floats, includes, ...) is QLM_E_TEMPLATE with a
 * message naming the construct and its template line; nothing crashes.
 *
 * Limits: nesting depth, loop iterations, output size and working memory are
 * bounded (QLM_E_LIMIT), so any template text terminates in bounded space.
 */
#ifndef QLM_TEMPLATE_H
#define QLM_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

#include "formats/common/err.h"
#include "formats/common/json.h"

#define QLM_TPL_MAX_OUTPUT   (16u << 20)  /* rendered bytes */
#define QLM_TPL_MAX_MEMORY   (256u << 20) /* working memory of one render */
#define QLM_TPL_MAX_STEPS    10000000u    /* loop iterations + statements */
#define QLM_TPL_MAX_DEPTH    200          /* nesting of blocks / expressions */

typedef struct qlm_template qlm_template;

/* One chat message. Strings are UTF-8, NUL-terminated; reasoning_content
 * NULL means the key is absent (the template then sees it undefined). */
typedef struct {
    const char *role;
    const char *content;
    const char *reasoning_content;
} qlm_chat_msg;

typedef struct {
    const qlm_chat_msg *messages;
    size_t n_messages;
    bool add_generation_prompt;
    int enable_thinking;        /* -1: not passed (undefined), 0: false, 1: true */
    const char *bos_token;      /* NULL: undefined */
    const char *eos_token;      /* NULL: undefined */
    const json_value *tools;    /* JSON array of tool schemas, or NULL (none) */
} qlm_tpl_vars;

/* Parse template text (need not be NUL-terminated). Errors name the line. */
qlm_status qlm_tpl_parse(const char *src, size_t len, qlm_template **out);
void qlm_tpl_free(qlm_template *t);

/* Render with the variables transformers passes. *out is malloc'd and
 * NUL-terminated; *len excludes the NUL. */
qlm_status qlm_tpl_render(const qlm_template *t, const qlm_tpl_vars *v, char **out, size_t *len);

/* Render with an arbitrary JSON object whose members become the template's
 * variables (`tools` and `documents` default to none). For tests and the
 * `qlm template` debug command. */
qlm_status qlm_tpl_render_json(const qlm_template *t, const json_value *vars, char **out, size_t *len);

/* Built-in fallback templates (Jinja text) for --template NAME: chatml,
 * llama3, llama2, zephyr (alias tinyllama), qwen3. NULL for an unknown name. */
const char *qlm_tpl_builtin(const char *name);
/* Comma-separated list of the built-in names, for usage messages. */
const char *qlm_tpl_builtin_names(void);

#endif
