/* The tokenizer's internal layout, shared by the importers, the encoders and
 * the decoder. Not a public interface: everything outside runtime/tokenizer/
 * uses tokenizer.h.
 *
 * Every importer (tokenizer.json, GGUF, llama2.c, .qlm) fills a tok_build
 * with *borrowed* strings and calls tok_build_finish(), which copies what it
 * keeps, derives the rest (decoded pieces, lookup map, added-token matcher,
 * EOG set) and creates the encoder. So every source ends in exactly the same
 * object and the same validation.
 */
#ifndef QLM_TOK_INTERNAL_H
#define QLM_TOK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "formats/common/err.h"
#include "runtime/tokenizer/tokenizer.h"
#include "runtime/tokenizer/tok_map.h"

/* Token types, as in GGUF / sentencepiece (formats/qlm/keys.h: tokenizer.token_types). */
enum { TT_NORMAL = 1, TT_UNKNOWN = 2, TT_CONTROL = 3, TT_USER = 4, TT_UNUSED = 5, TT_BYTE = 6 };

typedef enum { TOK_BPE = 0, TOK_SPM = 1 } tok_kind;

/* Limits: anything larger is not a real vocabulary and would only serve to
 * make us allocate from a hostile count. */
#define TOK_MAX_VOCAB (1u << 22)
#define TOK_MAX_TOKEN_BYTES 4096u
#define TOK_MAX_EOG 64

struct qlm_bpe;

struct qlm_tokenizer {
    tok_kind kind;
    size_t n_vocab;
    char *arena;               /* token texts, then decoded pieces, NUL-separated */
    uint32_t *text_off, *text_len;
    uint32_t *piece_off, *piece_len;
    float *scores;             /* spm: merge priority (higher first); NULL for bpe */
    uint8_t *types;            /* TT_* */
    size_t max_piece;          /* longest decoded piece */
    tok_map map;               /* exact text -> lowest id */

    char **merges;             /* bpe: "left right", rank order (kept for .qlm) */
    size_t *merge_lens;
    size_t n_merges;
    char *pre;                 /* bpe pre-tokenizer name */
    char *normalizer;          /* bpe: "NFC" or NULL */
    bool ignore_merges;        /* bpe */

    int32_t bos, eos, unk, pad;
    int32_t eog[TOK_MAX_EOG];
    size_t n_eog;
    bool add_bos, add_eos, add_space_prefix, byte_fallback;
    char *chat_template;       /* NUL-terminated */
    size_t chat_template_len;

    /* Added tokens (types unknown/control/user) for splitting the input,
     * bucketed by first byte, longest first within a bucket. */
    int32_t *added;
    uint32_t added_start[257];

    /* spm */
    int32_t byte_id[256];      /* id of <0xNN>, -1 if absent */
    bool spm_word_split;       /* no piece has "▁" after a non-"▁" character (see spm.c) */

    struct qlm_bpe *bpe;
};

/* Borrowed description of a tokenizer; all pointers must stay valid until
 * tok_build_finish() returns. */
typedef struct {
    tok_kind kind;
    size_t n_vocab;
    const char *const *tokens;  /* [n_vocab] token texts as stored ("▁the", "Ġhello") */
    const size_t *token_lens;
    const float *scores;        /* [n_vocab] or NULL (spm requires them) */
    const uint8_t *types;       /* [n_vocab] TT_*, or NULL for all normal */
    const char *const *merges;  /* bpe */
    const size_t *merge_lens;
    size_t n_merges;
    const char *pre;            /* bpe; NULL = "default" */
    const char *normalizer;     /* bpe: NULL or "NFC" */
    bool ignore_merges;         /* bpe */
    int32_t bos, eos, unk, pad; /* -1 none */
    const int32_t *eog;         /* extra end-of-generation ids (EOS is always one) */
    size_t n_eog;
    bool add_bos, add_eos, add_space_prefix, byte_fallback;
    const char *chat_template;  /* NULL if none */
    size_t chat_template_len;
    const char *origin;         /* for error messages: the file */
} tok_build;

/* Defaults: no special ids, no flags. */
void tok_build_init(tok_build *b, tok_kind kind);
qlm_status tok_build_finish(const tok_build *b, qlm_tokenizer **out);

/* Importers (tok_hfjson.c, tok_gguf.c, tok_llama2c.c, tok_qlm.c). */
qlm_status tok_load_hf(const char *path, qlm_tokenizer **out);
qlm_status tok_load_gguf(const char *path, qlm_tokenizer **out);
qlm_status tok_load_llama2c(const char *path, qlm_tokenizer **out);

/* "<0xNN>" (sentencepiece's byte pieces, upper-case hex) -> NN, else -1. */
int tok_byte_piece_value(const char *s, size_t n);

/* A growing id array (encode output). */
typedef struct {
    int32_t *v;
    size_t n, cap;
} tok_ids;
qlm_status tok_ids_push(tok_ids *a, int32_t id);

/* SentencePiece BPE of one text fragment (spm.c). */
qlm_status spm_encode(const qlm_tokenizer *t, const char *text, size_t len, bool dummy_prefix, tok_ids *out);
/* Validates scores and derives spm_word_split (called by tok_build_finish). */
qlm_status spm_prepare(qlm_tokenizer *t);

static inline const char *tok_text_ptr(const qlm_tokenizer *t, int32_t id)
{
    return t->arena + t->text_off[id];
}

#endif
