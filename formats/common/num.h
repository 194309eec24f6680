/* Strict parsing of numbers a person typed (command-line flags, REPL
 * commands): the whole string must be one number within [lo, hi]; no
 * trailing text, no overflow, no NaN. One routine, so that `--top-k 40` and
 * `/set top_k 40` accept exactly the same spellings. */
#ifndef QLM_NUM_H
#define QLM_NUM_H

#include <stdbool.h>
#include <stdint.h>

/* Decimal integer. False (and *out untouched) unless it parses and fits. */
bool qlm_parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out);
/* Decimal or hex float, "inf" included where the range allows it. */
bool qlm_parse_f64(const char *s, double lo, double hi, double *out);

#endif
