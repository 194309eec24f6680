/* Internals shared by bpe.c (tables, construction) and bpe_encode.c. */
#ifndef QLM_BPE_IMPL_H
#define QLM_BPE_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/tokenizer/bpe.h"
#include "runtime/tokenizer/pretok.h"

typedef struct {
    uint64_t key;   /* left << 32 | right; UINT64_MAX = empty */
    uint32_t rank;
    int32_t id;
} merge_slot;

struct qlm_bpe {
    const qlm_pretok *pre;
    bool ignore_merges;
    bool nfc;
    size_t n_vocab;
    char *text;        /* every token string, back to back */
    size_t *off;       /* token i is text[off[i] .. off[i+1]) */
    int32_t *vocab;    /* hash slots: id, or -1 = empty */
    size_t vocab_mask;
    merge_slot *merges;
    size_t merge_mask;
    int32_t byte_id[256]; /* id of each byte's one-character token, -1 if absent */
};

static inline uint64_t pair_hash(uint64_t key)
{
    key ^= key >> 31;
    key *= 0x9E3779B97F4A7C15ull;
    return key ^ (key >> 29);
}

/* The merge of the pair (left, right), or NULL. */
static inline const merge_slot *merge_find(const qlm_bpe *b, int32_t left, int32_t right)
{
    uint64_t key = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
    for (size_t h = pair_hash(key) & b->merge_mask;; h = (h + 1) & b->merge_mask) {
        const merge_slot *m = &b->merges[h];
        if (m->key == key)
            return m;
        if (m->key == UINT64_MAX)
            return NULL;
    }
}

/* Id of the token whose stored text is s[0..len), or -1. */
int32_t bpe_vocab_find(const qlm_bpe *b, const char *s, size_t len);

#endif
