/* Scalar building blocks that ISA kernel files reuse for tails, so a tail is
 * computed exactly as the reference computes it. */
#ifndef QLM_SIMD_REF_H
#define QLM_SIMD_REF_H

#include <stdint.h>

#include "simd/kernels.h"

float qlm_ref_sum16(const float *x, int64_t n);
float qlm_ref_dot16(const float *x, const float *y, int64_t n);
void qlm_ref_quant_act(const float *x, qlm_block_q8a *out, int64_t k);
/* The activation-Q8 rule (kernels.h) on one block of any length n: writes n
 * codes, returns the scale d. Also the Q8 KV cache's rule (runtime/model). */
float qlm_ref_quant_block(const float *x, int64_t n, int8_t *q);

#endif
