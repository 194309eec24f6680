/* Tokenizers exactly equal to Hugging Face tokenizers / sentencepiece:
 * byte-level BPE (GPT-2 family: SmolLM2, Qwen2/3, Llama-3) and SentencePiece
 * BPE (Llama-2 / TinyLlama / llama2.c vocabularies), with added/special
 * tokens and a streaming UTF-8-safe decoder.
 *
 * Sources: a .qlm file's tokenizer.* metadata (formats/qlm/keys.h), or
 * directly a tokenizer.json (+ tokenizer_config.json beside it), a
 * vocabulary GGUF, or a llama2.c tokenizer .bin. Converters move a tokenizer
 * into a .qlm with qlm_tok_write_meta().
 *
 * Thread-safety: a loaded tokenizer is immutable; encode/decode may run
 * concurrently on it.
 */
#ifndef QLM_TOKENIZER_H
#define QLM_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "formats/common/err.h"
#include "formats/qlm/qlmfile.h"

typedef struct qlm_tokenizer qlm_tokenizer;

/* From a .qlm's metadata. */
qlm_status qlm_tok_load_qlm(const qlm_file *f, qlm_tokenizer **out);
/* From a path: .qlm, tokenizer.json (or a HF folder containing one), a GGUF
 * (vocabulary only is enough), or a llama2.c tokenizer .bin. */
qlm_status qlm_tok_load_path(const char *path, qlm_tokenizer **out);
void qlm_tok_free(qlm_tokenizer *t);

/* Write every tokenizer.* key (and the chat template if known) into a .qlm being written. */
qlm_status qlm_tok_write_meta(const qlm_tokenizer *t, qlm_writer *w);

size_t qlm_tok_n_vocab(const qlm_tokenizer *t);
int32_t qlm_tok_bos(const qlm_tokenizer *t);   /* -1 if none */
int32_t qlm_tok_eos(const qlm_tokenizer *t);   /* -1 if none */
bool qlm_tok_add_bos(const qlm_tokenizer *t);  /* model's default for BOS at start */
/* End-of-generation: EOS and every end-of-turn id (e.g. <|im_end|>, <|eot_id|>). */
bool qlm_tok_is_eog(const qlm_tokenizer *t, int32_t id);
/* Chat template text stored with the tokenizer, or NULL. */
const char *qlm_tok_chat_template(const qlm_tokenizer *t);
/* Id of a token given its exact text (e.g. "<|im_end|>"), or -1. */
int32_t qlm_tok_find(const qlm_tokenizer *t, const char *text, size_t len);

typedef struct {
    bool add_bos;        /* prepend BOS (when the vocabulary has one) */
    bool parse_special;  /* text like "<|im_start|>" becomes the special id; non-special
                          * added tokens (e.g. Qwen3's "<think>") are matched either way,
                          * as Hugging Face does */
} qlm_tok_encode_opts;

/* Encode UTF-8 text. Invalid UTF-8 bytes are encoded deterministically (as
 * the reference would see them after replacement with U+FFFD for byte-level
 * BPE; as byte-fallback tokens for SentencePiece). opts NULL: the model's
 * add_bos, no special parsing. *ids is malloc'd (never NULL on success). */
qlm_status qlm_tok_encode(const qlm_tokenizer *t, const char *text, size_t len,
                          const qlm_tok_encode_opts *opts, int32_t **ids, size_t *n_ids);

/* Raw bytes a token contributes when decoding (after byte-level / ▁ mapping),
 * without the leading-space rule for the first token. NULL for an invalid id. */
const char *qlm_tok_piece(const qlm_tokenizer *t, int32_t id, size_t *len);
/* The token's text as stored in the vocabulary (e.g. "Ġhello", "▁the", "<0x0A>"). */
const char *qlm_tok_text(const qlm_tokenizer *t, int32_t id, size_t *len);

/* Decode a whole sequence as the reference decode(skip_special_tokens=False)
 * does. *out is malloc'd and NUL-terminated. */
qlm_status qlm_tok_decode(const qlm_tokenizer *t, const int32_t *ids, size_t n, char **out, size_t *len);

/* Longest piece in bytes (sizes the streaming decoder's output buffer). */
size_t qlm_tok_max_piece(const qlm_tokenizer *t);

/* Streaming decoder: push one id at a time; complete UTF-8 characters are
 * appended to `out`, bytes of an unfinished character are held back. What it
 * writes in total (pushes + flush) equals qlm_tok_decode() of the same ids. */
typedef struct {
    char pending[8];
    size_t n_pending;
    size_t n_tokens;  /* tokens pushed so far (leading-space rule of SentencePiece) */
} qlm_detok_stream;

void qlm_detok_init(qlm_detok_stream *s);
/* Returns the number of bytes written to out. cap >= 3 * (qlm_tok_max_piece(t) + 4)
 * is enough (each invalid byte may become a 3-byte U+FFFD); with less, output
 * that does not fit is dropped. An invalid id writes nothing. */
size_t qlm_detok_push(const qlm_tokenizer *t, qlm_detok_stream *s, int32_t id, char *out, size_t cap);
/* Flush held-back bytes at the end (invalid tail becomes U+FFFD). */
size_t qlm_detok_flush(qlm_detok_stream *s, char *out, size_t cap);

#endif
