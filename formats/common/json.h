/* A small, strict JSON (RFC 8259) DOM parser for config.json, tokenizer.json,
 * safetensors headers, chat-template test data and the CLI's --json inputs.
 *
 * Contract:
 *  - json_parse() never reads outside [text, text+len) and never recurses
 *    deeper than JSON_MAX_DEPTH (deeper nesting is QLM_E_JSON, not a crash).
 *  - Strings are unescaped to UTF-8, NUL-terminated, with their byte length in
 *    `n` (they may contain U+0000). Invalid UTF-8 in the input is QLM_E_UTF8.
 *    A lone UTF-16 surrogate escape (\udXXX without its pair) becomes U+FFFD.
 *  - Objects keep member order; duplicate keys are kept (json_get returns the
 *    last one, as Python's json does).
 *  - Numbers keep their double value; integers that fit int64 exactly also set
 *    is_int and i.
 *  - All memory belongs to the json_doc; json_free() releases it.
 * Errors carry "line L, column C" of the offending byte.
 */
#ifndef QLM_JSON_H
#define QLM_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "formats/common/err.h"

#define JSON_MAX_DEPTH 512

typedef enum { JSON_NULL, JSON_FALSE, JSON_TRUE, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } json_type;

typedef struct json_value json_value;
typedef struct json_member json_member;

struct json_value {
    json_type type;
    bool is_int;       /* JSON_NUMBER that is an exact int64 */
    size_t n;          /* string bytes / array items / object members */
    union {
        double num;
        const char *str;
        json_value *items;
        json_member *members;
    } u;
    int64_t i;         /* valid when is_int */
};

struct json_member {
    const char *key;
    size_t key_len;
    json_value value;
};

typedef struct json_doc json_doc;

qlm_status json_parse(const char *text, size_t len, json_doc **out);
/* Read the file at `path` (refused above max_bytes) and parse it; a parse
 * error's message is prefixed with the path. */
qlm_status json_parse_file(const char *path, size_t max_bytes, json_doc **out);
const json_value *json_root(const json_doc *doc);
void json_free(json_doc *doc);

/* Lookups; NULL when absent or when `v` has the wrong type. */
const json_value *json_get(const json_value *obj, const char *key);
const json_value *json_at(const json_value *arr, size_t i);

/* Typed accessors: return false (and leave *out alone) on a type mismatch. */
bool json_as_i64(const json_value *v, int64_t *out);
bool json_as_f64(const json_value *v, double *out);
bool json_as_bool(const json_value *v, bool *out);
const char *json_as_str(const json_value *v, size_t *len); /* NULL unless string */

/* Convenience: obj[key] as the type, else `def`. */
int64_t json_get_i64(const json_value *obj, const char *key, int64_t def);
double json_get_f64(const json_value *obj, const char *key, double def);
bool json_get_bool(const json_value *obj, const char *key, bool def);
const char *json_get_str(const json_value *obj, const char *key); /* NULL if absent */

/* Write `s` as a JSON string literal (quotes included, control characters and
 * non-UTF-8 bytes escaped as \u00XX) to `f`. */
void json_write_string(FILE *f, const char *s, size_t len);

/* Write `v` as JSON text that parses back to the same value (member order and
 * duplicates kept; numbers round-trip). indent > 0: pretty-printed with that
 * many spaces per level starting at nesting `depth`; 0: one line. */
void json_write_value(FILE *f, const json_value *v, int indent, int depth);

#endif
