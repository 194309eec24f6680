/* Q8 and Q4 weight blocks (bit-compatible with GGUF Q8_0 / Q4_0, so GGUF
 * imports are lossless) and the reference round-to-nearest quantizers.
 * Exact rounding rules: docs/FORMAT.md "Quantization".
 */
#ifndef QLM_QUANT_H
#define QLM_QUANT_H

#include <stddef.h>
#include <stdint.h>

#include "formats/common/err.h"

typedef struct {
    uint16_t d;     /* fp16 scale */
    int8_t q[32];   /* x[i] = d * q[i] */
} qlm_block_q8;     /* 34 bytes, no padding */

typedef struct {
    uint16_t d;      /* fp16 scale */
    uint8_t qs[16];  /* x[i] = d*((qs[i] & 15) - 8), x[i+16] = d*((qs[i] >> 4) - 8) */
} qlm_block_q4;      /* 18 bytes */

_Static_assert(sizeof(qlm_block_q8) == 34, "q8 block layout");
_Static_assert(sizeof(qlm_block_q4) == 18, "q4 block layout");

/* Quantize n floats (n % 32 == 0) into n/32 blocks. NaN/Inf input is
 * QLM_E_VALUE (message gives the element index). */
qlm_status qlm_quantize_q8(const float *x, qlm_block_q8 *out, size_t n);
qlm_status qlm_quantize_q4(const float *x, qlm_block_q4 *out, size_t n);

/* Exact dequantization (fp16 scale widened, product in f32). */
void qlm_dequantize_q8(const qlm_block_q8 *b, float *out, size_t n);
void qlm_dequantize_q4(const qlm_block_q4 *b, float *out, size_t n);

#endif
