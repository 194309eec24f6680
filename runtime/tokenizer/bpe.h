/* Byte-level BPE (GPT-2 family: GPT-2, SmolLM2, Qwen2/3, Llama-3, StarCoder,
 * Falcon, DeepSeek...) exactly as Hugging Face `tokenizers` encodes:
 *
 *   text -> pre-tokenizer (pretok.h, chosen by name) -> pieces
 *   piece bytes -> GPT-2 byte alphabet (bytes_to_unicode) -> merge by rank
 *   (lowest rank first, leftmost among equals) -> vocabulary ids.
 *
 * The caller (tokenizer.c) splits special/added tokens out of the text first;
 * qlm_bpe_encode only ever sees plain segments.
 *
 * Invalid UTF-8 in the text is encoded as Python's
 * bytes.decode("utf-8", "replace") would present it to Hugging Face: each
 * maximal ill-formed subsequence becomes U+FFFD (bytes EF BF BD). Encoding
 * never fails on any input bytes.
 *
 * Thread-safety: a built qlm_bpe is immutable; encode may run concurrently.
 */
#ifndef QLM_BPE_H
#define QLM_BPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "formats/common/err.h"

typedef struct qlm_bpe qlm_bpe;

/* tokens[i] (lens[i] bytes) is the text of id i as stored in the vocabulary
 * (byte-level form, e.g. "Ġhello"); merges[r] is "left right" (one ASCII
 * space) of rank r. `pre` is a pre-tokenizer name (qlm_pretok_known() in
 * pretok.h). Tokens that are not byte-level strings (e.g. special tokens
 * such as "<|endoftext|>") are accepted and simply never produced by a merge
 * unless the merges build them. Duplicate token strings: the lowest id wins.
 * A byte whose one-character token is missing is dropped when encoding (as
 * HF does without an unk token). Errors: QLM_E_TOKENIZER naming a merge that
 * is not "a b" or whose parts or result are not in the vocabulary;
 * QLM_E_UNSUPPORTED for an unknown `pre`; QLM_E_LIMIT for counts that do not
 * fit int32 ids. */
qlm_status qlm_bpe_new(const char *const *tokens, const size_t *lens, size_t n_vocab,
                       const char *const *merges, const size_t *merge_lens, size_t n_merges,
                       const char *pre, qlm_bpe **out);
void qlm_bpe_free(qlm_bpe *b);

/* Llama-3 style `ignore_merges` (tokenizer.json model.ignore_merges): a
 * whole pre-token that is itself in the vocabulary is emitted directly.
 * Off by default; set before the first encode. */
void qlm_bpe_set_ignore_merges(qlm_bpe *b, bool on);

/* The tokenizer.json normalizer applied before pre-tokenizing: NULL, "" or
 * "none", or "NFC" (Qwen2/Qwen3 tokenizer.json). Anything else is
 * QLM_E_UNSUPPORTED. Set before the first encode. */
qlm_status qlm_bpe_set_normalizer(qlm_bpe *b, const char *name);

/* Encode plain text. Appends ids to the growing malloc'd array (*ids, *n,
 * *cap); *ids may be NULL with *n == *cap == 0. On failure (QLM_E_NOMEM)
 * the array stays valid and owned by the caller. */
qlm_status qlm_bpe_encode(const qlm_bpe *b, const char *text, size_t len, int32_t **ids, size_t *n,
                          size_t *cap);

/* The byte-level alphabet (GPT-2's bytes_to_unicode): byte -> code point of
 * its printable stand-in ('A' -> 'A', ' ' -> U+0120 'Ġ', '\n' -> U+010A 'Ċ'),
 * and the inverse (-1 if cp is not in the alphabet). The decoder uses these. */
uint32_t qlm_bpe_byte_to_cp(uint8_t b);
int qlm_bpe_cp_to_byte(uint32_t cp);

#endif
