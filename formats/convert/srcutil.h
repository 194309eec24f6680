/* Helpers shared by the GGUF and llama2.c source readers.
 *
 * Q/K row order: Meta's checkpoints (hence llama2.c's, and llama.cpp's GGUFs of
 * `llama` models, whose converter permutes Hugging Face weights back) rotate
 * interleaved pairs (2i, 2i+1) of each head in RoPE; Hugging Face rotates
 * (i, i + head_dim/2), and qlm uses Hugging Face order. Within each head,
 * source row 2i + j (j = 0, 1) becomes row j*head_dim/2 + i: the inverse of
 * w.reshape(n_head, 2, head_dim/2, cols).swapaxes(1, 2). Whole rows move, so
 * rows of Q8/Q4 blocks stay bit-identical (the import stays lossless).
 */
#ifndef QLM_SRCUTIL_H
#define QLM_SRCUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "formats/convert/convert.h"
#include "formats/convert/hfconfig.h"

/* n_rows rows of row_bytes each, n_head heads; src and dst must not overlap.
 * QLM_E_SHAPE if n_rows is not n_head times an even head_dim. */
qlm_status qlm_qk_unpermute(const void *src, void *dst, uint64_t n_rows, uint64_t n_head, size_t row_bytes);
/* The inverse, Hugging Face order -> interleaved (what llama.cpp's converter
 * stores for `llama` GGUFs; the GGUF exporter tools/qlm2gguf uses it). */
qlm_status qlm_qk_permute(const void *src, void *dst, uint64_t n_rows, uint64_t n_head, size_t row_bytes);

/* Heads whose rows a GGUF stores permuted for tensor `name` (the Q and K
 * weights of `llama` models; Qwen GGUFs keep Hugging Face order), or 0. */
uint64_t qlm_gguf_qk_heads(const qlm_hfconfig *h, const char *name);

/* qlm_emit_data(), first un-permuting the n_rows rows when n_head > 0. */
qlm_status qlm_emit_hf_order(qlm_emitter *e, const char *name, const void *data, size_t nbytes, uint64_t n_rows,
                             uint64_t n_head);

/* general.name = the file name of `path` without directory and extension. */
qlm_status qlm_write_name_from_path(qlm_writer *w, const char *path);

#endif
