/* The runner behind tests/unit/test_malformed_*.c: one malformed input, one
 * real CLI invocation, one verdict. A case passes when qlm either rejects the
 * input the documented way (exit 1, stderr exactly one line starting
 * "qlm: " — so no sanitizer report, no second message) or, where the case
 * allows it, accepts it gracefully (exit 0, nothing on stderr). Anything
 * else (a crash, a signal, exit 2, a multi-line report) fails the test with
 * the case's label and the child's stderr. */
#ifndef QLM_TESTS_MALCASE_H
#define QLM_TESTS_MALCASE_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    MC_REJECT,  /* must fail: exit 1, one line */
    MC_EITHER,  /* rejected, or accepted gracefully */
    MC_ACCEPT   /* must succeed (a documented graceful result) */
} mc_expect;

typedef struct {
    unsigned n_cases, n_rejected, n_accepted;
} mc_stats;

/* Write `len` bytes to `path` (replacing it). */
void mc_write(const char *path, const void *data, size_t len);
/* Run the qlm binary with args (NULL-terminated, without argv[0]). */
void mc_check(mc_stats *s, const char *label, mc_expect e, const char *const *args);

/* Deterministic pseudo-random numbers (splitmix64) for "random" cut points. */
uint64_t mc_rand(uint64_t *state);

/* The boundary values every integer field is set to: 0, all ones (max /
 * -1), the sign bit (most negative), the top positive value, and the
 * original value +1 and -1. Returns how many were written to out (6). */
size_t mc_edge_values(uint64_t orig, unsigned bytes, uint64_t out[6]);
/* Little-endian field store of `bytes` (1..8) bytes. */
void mc_store(uint8_t *p, uint64_t v, unsigned bytes);
uint64_t mc_load(const uint8_t *p, unsigned bytes);

#endif
