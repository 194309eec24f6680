/* `qlm convert --type q4 --method gptq`: calibrated Q4 (formats/quant/gptq.h).
 *
 * 1. The source is converted to a temporary f32 .qlm next to the output
 *    (removed afterwards) and opened as a model.
 * 2. The calibration text is tokenized and cut into sequences of calib_ctx
 *    tokens (BOS, when the vocabulary adds one, then calib_ctx - 1 text
 *    tokens), consecutive from the start of the file, until calib_tokens
 *    tokens are used or the text ends.
 * 3. Layer by layer, for each matmul input of the layer in forward order
 *    (q/k/v, attn_output, gate/up, down), the residual streams of all
 *    sequences are run through the layer with everything before that input
 *    already quantized, H = sum x x^T / n is accumulated for that input, and
 *    every weight reading it whose target is Q4 (by the emitter's rules, so
 *    --keep and the multiple-of-32 rule apply) is quantized by GPTQ and put
 *    into the model as Q4, so later inputs see the quantized weights, as at
 *    run time. Only one input's Hessian is held at a time; the Q4 blocks of
 *    the whole model are kept until the output is written.
 * 4. The source is converted again to the output with those blocks; other Q4
 *    tensors use the gptq scale rule's RTN variant.
 * Results do not depend on the thread count.
 */
#ifndef QLM_GPTQ_CONVERT_H
#define QLM_GPTQ_CONVERT_H

#include "formats/convert/convert.h"
#include "formats/quant/gptq.h"

typedef struct {
    const char *calib;     /* calibration text file (required) */
    int64_t calib_tokens;  /* token budget; 0: 8192 */
    int64_t calib_ctx;     /* tokens per sequence; 0: min(512, model context) */
    qlm_gptq_opts gptq;    /* damping, act-order, scale rule (threads from the convert options) */
} qlm_gptq_convert_opts;

qlm_status qlm_convert_gptq(const qlm_convert_opts *o, const qlm_gptq_convert_opts *g);

#endif
