/* A small .qlm written through the public writer with one tensor of every
 * dtype and one metadata entry of every type; shared by the qlmfile suites
 * and the fuzz seed generator. Tensor bytes come from a fixed LCG, so a test
 * can regenerate exactly what was written. */
#ifndef QLM_TEST_QLMFIXTURE_H
#define QLM_TEST_QLMFIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "formats/qlm/qlmfile.h"

typedef struct {
    const char *name;
    qlm_dtype dtype;
    uint32_t rank;
    uint64_t dims[QLM_MAX_RANK];
    uint64_t nbytes;
} tu_fix_tensor;

extern const tu_fix_tensor tu_fix_tensors[];
extern const size_t tu_fix_n_tensors;

/* Deterministic content of tensor i (seeded by i). */
void tu_fix_data(size_t i, uint8_t *buf, size_t n);
/* Write the fixture to path; `n_tensors` of them (<= tu_fix_n_tensors), with
 * all metadata when `with_meta`. Fails the test on error. */
void tu_qlm_fixture(const char *path, size_t n_tensors, int with_meta);

/* Metadata values the fixture writes. */
#define TU_FIX_I64 (-1234567890123LL)
#define TU_FIX_U64 (18446744073709551615ULL)
#define TU_FIX_F64 (1e-5)
#define TU_FIX_STR "h\xc3\xa9llo \xe2\x82\xac"
extern const int32_t tu_fix_i32s[5];
extern const char *const tu_fix_strs[4];

#endif
