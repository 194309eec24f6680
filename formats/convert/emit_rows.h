/* Element conversions behind the emitter (emit.c), one row at a time. */
#ifndef QLM_EMIT_ROWS_H
#define QLM_EMIT_ROWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "formats/convert/convert.h"

/* Bytes of n source elements (n % 32 == 0 for Q8_0/Q4_0, n % 128 == 0 for w4a16). */
size_t qlm_src_row_bytes(qlm_src_type t, uint64_t n);
/* Exact widening of n source elements to f32. */
void qlm_src_to_f32(qlm_src_type t, const void *src, float *dst, size_t n);
/* One row of n f32 values to the target dtype (any dtype but i32; Q4 with
 * the scale rule m; GPU block formats get their row layout,
 * formats/gpu/gpublock.h, with tensor scale ts). QLM_E_VALUE for a value the
 * target cannot hold (NaN/Inf when quantizing, f16 overflow); the message
 * names the element index within these n. */
qlm_status qlm_f32_to_target(qlm_dtype t, qlm_q4_method m, const float *x, void *out, size_t n, float ts);
/* The source type that reads a stored weight dtype (f32/f16/bf16/q8/q4);
 * false for other dtypes. */
bool qlm_src_type_of(uint32_t dtype, qlm_src_type *out);
/* True when the source bytes are already the target's bytes (lossless copy). */
bool qlm_emit_is_copy(qlm_src_type s, qlm_dtype t);

#endif
