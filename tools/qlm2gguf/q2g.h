/* The parts of qlm2gguf (tools/qlm2gguf/README.md): the model's hyper-
 * parameters and tensors (qlm2gguf.c) and its tokenizer (tok_export.c), each
 * written as llama.cpp names them. */
#ifndef QLM_TOOLS_Q2G_H
#define QLM_TOOLS_Q2G_H

#include <stdint.h>

#include "formats/qlm/qlmfile.h"
#include "tools/qlm2gguf/ggufw.h"

/* The .qlm's tokenizer.* keys as tokenizer.ggml.* keys. llama.cpp wants one
 * token per embedding row: a vocabulary shorter than n_rows (Qwen's padded
 * embeddings) is padded with unused "[PAD<id>]" tokens, as its converter does. */
qlm_status q2g_tokenizer(const qlm_file *f, uint64_t n_rows, ggufw *w);

#endif
