/* `qlm convert`: Hugging Face folder / GGUF / llama2.c checkpoint -> .qlm.
 *
 * Each source reader (from_hf.c, from_gguf.c, from_llama2c.c) fills the model
 * metadata (formats/qlm/keys.h) and the tokenizer metadata
 * (runtime/tokenizer/tokenizer.h: qlm_tok_write_meta) into the writer, then
 * hands every tensor, already renamed to qlm's tensor names and in Hugging Face
 * row order, to the emitter below. The emitter alone decides the stored dtype
 * and does the conversion, so every source follows the same rules:
 *   - 1-D tensors (norms, biases) -> F32;
 *   - a tensor whose innermost dim is not a multiple of 32 cannot be Q8/Q4: it
 *     is stored as F16 (F32 if the source is F32), with a printed note;
 *   - --keep PATTERN=TYPE rules (first match wins; PATTERN is a glob on the
 *     qlm tensor name) override the target type;
 *   - a source already in Q8_0/Q4_0 whose target is the same type is copied
 *     block for block (lossless); to another type it is dequantized exactly first;
 *   - a w4a16 source (an int4 checkpoint) stays w4a16 whatever --type says,
 *     so its codes, scales and zero points are kept; only a --keep rule
 *     converts it (dequantized exactly first); an index source (SRC_I32)
 *     is stored i32 whatever the rules say;
 *   - Q4 targets use q4_method's scale rule (quant.h), except tensors listed
 *     in `pre` (blocks a calibrated quantizer such as GPTQ made), which are
 *     written as given.
 */
#ifndef QLM_CONVERT_H
#define QLM_CONVERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "formats/common/err.h"
#include "formats/qlm/qlmfile.h"
#include "formats/quant/quant.h"

/* Source element types the emitter accepts. SRC_W4A16: rows of w4a16
 * blocks (formats/gpu/gpublock.h), what GPTQ/AWQ/Marlin checkpoints unpack to;
 * SRC_I32: an index tensor (an act-order input permutation), stored i32. */
typedef enum { SRC_F32, SRC_F16, SRC_BF16, SRC_Q8_0, SRC_Q4_0, SRC_W4A16, SRC_I32 } qlm_src_type;

typedef struct {
    char pattern[128];
    qlm_dtype type;
} qlm_keep_rule;

/* Ready-made blocks for one tensor (its whole Q4 data, nbytes exact). */
typedef struct {
    const char *name;
    const void *data;
    size_t nbytes;
} qlm_prequant;

typedef struct {
    const char *src;            /* HF folder, .gguf, or llama2.c .bin */
    const char *out;            /* output .qlm path */
    const char *tokenizer;      /* llama2.c tokenizer .bin (required for llama2.c) */
    qlm_dtype type;             /* default target for 2-D weights */
    const qlm_keep_rule *keep;  /* --keep rules */
    size_t n_keep;
    qlm_q4_method q4_method;    /* scale rule of Q4 targets */
    const qlm_prequant *pre;    /* tensors stored from these blocks when their target is Q4 */
    size_t n_pre;
    int threads;                /* 0: default */
    /* Called after each tensor: source bytes done/total, tensors done/total
     * and the tensor's name (the CLI draws a bar); NULL: none. */
    void (*progress)(void *user, uint64_t bytes_done, uint64_t bytes_total, size_t done, size_t total,
                     const char *tensor);
    void *progress_user;
    bool quiet;                 /* no summary / notes */
} qlm_convert_opts;

/* Full conversion; detects the source kind. Writes via a temp file + rename. */
qlm_status qlm_convert(const qlm_convert_opts *o);

/* ---- emitter, shared by the source readers ---- */
typedef struct qlm_emitter qlm_emitter;

/* Declare a tensor (name in qlm naming; dims row-major). Call for all tensors
 * before the first emit_data; returns the target dtype chosen. */
qlm_status qlm_emit_declare(qlm_emitter *e, const char *name, uint32_t rank, const uint64_t *dims,
                            qlm_src_type src_type, qlm_dtype *chosen);
/* Convert and write the data of a declared tensor (same order as declared). */
qlm_status qlm_emit_data(qlm_emitter *e, const char *name, const void *src_data, size_t src_nbytes);

/* ---- source readers (one file each), called by qlm_convert() ----
 * Each writes the model keys (formats/qlm/keys.h) and the tokenizer keys
 * (qlm_tok_write_meta) into `w`, declares every tensor, then emits every
 * tensor's data. qlm_convert() opens/finishes the writer and prints the summary. */
qlm_status qlm_src_hf(const qlm_convert_opts *o, qlm_writer *w, qlm_emitter *e);      /* from_hf.c */
qlm_status qlm_src_gguf(const qlm_convert_opts *o, qlm_writer *w, qlm_emitter *e);    /* from_gguf.c */
qlm_status qlm_src_llama2c(const qlm_convert_opts *o, qlm_writer *w, qlm_emitter *e); /* from_llama2c.c */

#endif
