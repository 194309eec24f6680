/* Test fixture: a byte-level BPE built straight from a tokenizer.json or a
 * vocabulary GGUF under $QLM_SHARED, with the added tokens that the product
 * (tokcore's tokenizer.c) splits out of the text before the BPE sees it.
 * Every failure fails the running cmocka test. */
#ifndef QLM_BPE_FIXTURE_H
#define QLM_BPE_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/tokenizer/bpe.h"

typedef struct {
    qlm_bpe *bpe;
    size_t n_vocab;
    const char **tok;     /* id -> stored text (into doc/gguf below) */
    size_t *tok_len;
    int32_t *added;       /* ids of added tokens, matched in the text */
    size_t n_added;
    void *doc, *gguf;     /* what tok points into */
    char *text;
} bpe_fixture;

/* rel: path under QLM_SHARED; pre: pretok.h name; normalizer: NULL or "NFC". */
void bf_load_json(bpe_fixture *f, const char *rel, const char *pre, const char *normalizer);
/* models/ggml-vocab/ggml-vocab-NAME.gguf; pre from tokenizer.ggml.pre, else NAME. */
void bf_load_gguf(bpe_fixture *f, const char *name);
void bf_free(bpe_fixture *f);

/* HF's default encode: added tokens are matched in the text (leftmost,
 * longest), the segments between go through the BPE. *ids is malloc'd. */
void bf_encode(const bpe_fixture *f, const char *s, size_t len, int32_t **ids, size_t *n);

/* The bytes the ids spell (byte-level alphabet inverted); malloc'd. */
char *bf_decode(const bpe_fixture *f, const int32_t *ids, size_t n, size_t *len);

#endif
