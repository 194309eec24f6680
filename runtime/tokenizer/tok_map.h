/* Exact byte-string -> id lookup for vocabularies (open addressing, linear
 * probing, power-of-two table at most half full). The map stores ids only;
 * the key bytes of id i are base + off[i], len[i], owned by the caller, so a
 * lookup of a span inside the input text needs no copy.
 * When several ids have the same text, the lowest id wins.
 */
#ifndef QLM_TOK_MAP_H
#define QLM_TOK_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "formats/common/err.h"

typedef struct {
    int32_t *slot;   /* id, or -1 for empty */
    uint32_t *hash;  /* full hash of the slot's key (cheap reject) */
    size_t mask;
    const char *base;
    const uint32_t *off, *len;
} tok_map;

qlm_status tok_map_build(tok_map *m, const char *base, const uint32_t *off, const uint32_t *len, size_t n);
void tok_map_free(tok_map *m);

static inline uint32_t tok_hash(const char *s, size_t n)
{
    /* FNV-1a: keys are short (a few bytes), where it beats anything fancier. */
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

/* Id of the exact string, or -1. */
static inline int32_t tok_map_find(const tok_map *m, const char *s, size_t n)
{
    uint32_t h = tok_hash(s, n);
    for (size_t i = h & m->mask;; i = (i + 1) & m->mask) {
        int32_t id = m->slot[i];
        if (id < 0)
            return -1;
        if (m->hash[i] == h && m->len[id] == n && __builtin_memcmp(m->base + m->off[id], s, n) == 0)
            return id;
    }
}

#endif
