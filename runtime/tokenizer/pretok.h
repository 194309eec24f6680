/* Pre-tokenizers of the byte-level BPE vocabularies: hand-written matchers
 * over UTF-8 (unicode.h classes), each equal to the Hugging Face
 * pre_tokenizer sequence of the vocabularies it names. No regex engine.
 *
 * A pre-tokenizer is a sequence of split stages, as HF's Sequence of
 * Split(..., Isolated) / Digits / Punctuation / ByteLevel: every stage cuts
 * each piece of the stage before it into matches and the gaps between them.
 *
 * Names follow llama.cpp's `tokenizer.ggml.pre` values:
 *   "gpt-2"      ByteLevel regex 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 *                (also "gpt-neox", "mpt": the GPT-NeoX tokenizer.json; "default")
 *   "llama-bpe"  (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 *   "qwen2"      the same with \p{N} (single digits): Qwen2, Qwen2.5, Qwen3
 *   "smollm"     Digits(individual_digits) then the GPT-2 regex (also "starcoder", "refact")
 *   "falcon"     Punctuation(contiguous), GPT-2 regex, then on the byte-level
 *                text Digits(contiguous) and Split([0-9]{3})
 *   "deepseek-coder", "deepseek-llm"  their Split sequences (see pretok.c)
 */
#ifndef QLM_PRETOK_H
#define QLM_PRETOK_H

#include <stdbool.h>
#include <stddef.h>

#include "formats/common/err.h"

typedef struct qlm_pretok qlm_pretok;

/* True if `name` is a pre-tokenizer qlm implements (see the list above). */
bool qlm_pretok_known(const char *name);

/* The i-th supported name (for error messages and tests), NULL past the end. */
const char *qlm_pretok_name(size_t i);

/* The pre-tokenizer called `name`, or NULL. Static: never freed. */
const qlm_pretok *qlm_pretok_find(const char *name);

/* Receives each piece in order; a non-OK return stops the run. */
typedef qlm_status (*qlm_pretok_sink)(void *ctx, const char *piece, size_t len);

/* Split valid UTF-8 text into pieces (their concatenation is the text). */
qlm_status qlm_pretok_run(const qlm_pretok *p, const char *text, size_t len, qlm_pretok_sink sink,
                          void *ctx);

#endif
