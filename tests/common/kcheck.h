/* Bitwise checks of a kernel set against the scalar reference on
 * deterministic random inputs and edge cases. Plain C (no cmocka) so the same
 * checks run in the cmocka suite and, cross-compiled, under qemu-aarch64
 * (tests/neon/). Every reference output also goes into a SHA-256 digest that
 * depends only on the inputs, so two machines can compare their reference
 * results by digest. */
#ifndef QLM_TESTS_KCHECK_H
#define QLM_TESTS_KCHECK_H

#include "formats/common/hash.h"
#include "simd/kernels.h"

typedef struct {
    long passed, failed;
    char first_failure[256]; /* "" until something fails */
    qlm_sha256 digest;       /* of every reference output, in check order */
} kcheck;

void kcheck_init(kcheck *kc);

/* The check families; each compares every case of `k` with the reference. */
void kcheck_elementwise(kcheck *kc, const qlm_kernels *k); /* dot sum axpy *_rows rmsnorm softmax silu rope */
void kcheck_quant_act(kcheck *kc, const qlm_kernels *k);
void kcheck_mm_quant(kcheck *kc, const qlm_kernels *k);     /* mm_q8, mm_q4 */
void kcheck_mm_float(kcheck *kc, const qlm_kernels *k);     /* mm_f32, mm_f16, mm_bf16 */

/* Hex SHA-256 of the reference outputs seen so far (65 bytes incl. NUL). */
void kcheck_digest_hex(const kcheck *kc, char out[65]);

#endif
