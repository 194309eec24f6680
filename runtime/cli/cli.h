/* Shared helpers for the qlm subcommands. */
#ifndef QLM_CLI_H
#define QLM_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "formats/common/err.h"

#define CMD(name, fn, summary) int fn(int argc, char **argv);
#include "runtime/cli/commands.def"
#undef CMD

/* Print "qlm: <message>" for status `st` (using qlm_errmsg()) to stderr; returns 1. */
int cli_error(qlm_status st);
/* Print "qlm <cmd>: <formatted>" to stderr; returns 2 (usage error). */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Strict numeric flag parsing: whole string must parse and lie in [lo, hi]. */
bool cli_parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out);
bool cli_parse_f64(const char *s, double lo, double hi, double *out);

/* --kv VALUE: "f32" -> QLM_KV_F32, "q8" -> QLM_KV_Q8 (include/qlm.h) into
 * *out; returns 0, or the usage-error exit status naming `cmd`. */
int cli_parse_kv(const char *cmd, const char *value, int *out);

/* For the option argv[*i]: it must be one of `known` (space-separated, with a
 * space at both ends: " -m --model ") and have a value, which is returned in
 * *value with *i advanced past it. Returns 0, or the usage-error exit status. */
int cli_option_value(const char *cmd, const char *known, int argc, char **argv, int *i, const char **value);

/* True if argv[i] is "-h" or "--help". */
bool cli_is_help(const char *arg);

#endif
