/* Pre-tokenizers of the byte-level BPE vocabularies: hand-written matchers
 * over UTF-8 (unicode.h categories), each equal to the Hugging Face
 * pre_tokenizer sequence (regex Split / ByteLevel / Digits / Punctuation) of
 * the vocabularies it names. No general regex engine.
 *
 * Names follow llama.cpp's `tokenizer.ggml.pre` values:
 *   "gpt-2"        GPT-2 regex  's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 *                  (also "gpt-neox", "mpt", "default": GPT-NeoX/MPT tokenizer.json)
 *   "llama-bpe"    Llama-3 regex (case-insensitive contractions, \p{N}{1,3})
 *   "qwen2"        Qwen2/Qwen3 regex (as Llama-3 but single \p{N})
 *   "smollm"       Digits(individual) + GPT-2 regex (also "starcoder", "refact")
 *   "falcon"       Punctuation + GPT-2 regex + Digits + [0-9]{3} isolation
 *   "deepseek-llm", "deepseek-coder"  their Split sequences
 */
#ifndef QLM_PRETOK_H
#define QLM_PRETOK_H

#include <stdbool.h>
#include <stddef.h>

/* True if `name` is a pre-tokenizer qlm implements (see the list above). */
bool qlm_pretok_known(const char *name);

/* NULL-terminated list of every supported name, for error messages. */
const char *const *qlm_pretok_names(void);

#endif
