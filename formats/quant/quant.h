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

/* How a Q4 block's scale is chosen (codes are always clamp(rne(x/d), -8, 7)):
 *   QLM_Q4_RTN      absmax rule above (GGUF Q4_0);
 *   QLM_Q4_RTN_MSE  the scale of least squared block error among
 *                   amax/8 * (1 - i/64) (largest element at code -8) and
 *                   amax/7 * (1 - i/64) (largest element at +7), i = 0..31,
 *                   each rounded up to fp16. The first candidate is RTN's
 *                   scale and only a strictly smaller error replaces it, so
 *                   no block is ever worse than with RTN. */
typedef enum { QLM_Q4_RTN, QLM_Q4_RTN_MSE } qlm_q4_method;

qlm_status qlm_quantize_q4_method(const float *x, qlm_block_q4 *out, size_t n, qlm_q4_method m);

/* Block pieces for calibrated quantizers (GPTQ) that pick codes themselves.
 * qlm_q4_scale: the signed fp16 scale `m` gives the 32 finite values x
 * (0x7C00 or above in magnitude: out of fp16 range). qlm_q4_code: the code
 * -8..7 of v under scale d != 0. qlm_q4_pack: codes -8..7 + scale -> block. */
uint16_t qlm_q4_scale(const float *x, qlm_q4_method m);
int qlm_q4_code(float v, float d);
void qlm_q4_pack(const int8_t *codes, uint16_t d, qlm_block_q4 *out);

/* Exact dequantization (fp16 scale widened, product in f32). */
void qlm_dequantize_q8(const qlm_block_q8 *b, float *out, size_t n);
void qlm_dequantize_q4(const qlm_block_q4 *b, float *out, size_t n);

#endif
