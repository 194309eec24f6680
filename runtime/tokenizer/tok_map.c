#include "runtime/tokenizer/tok_map.h"

#include <stdlib.h>
#include <string.h>

qlm_status tok_map_build(tok_map *m, const char *base, const uint32_t *off, const uint32_t *len, size_t n)
{
    size_t cap = 16;
    while (cap < 2 * n + 2)
        cap *= 2;
    memset(m, 0, sizeof *m);
    m->slot = malloc(cap * sizeof *m->slot);
    m->hash = malloc(cap * sizeof *m->hash);
    if (!m->slot || !m->hash) {
        tok_map_free(m);
        return qlm_fail(QLM_E_NOMEM, "tokenizer: out of memory for a %zu-entry lookup table", n);
    }
    memset(m->slot, 0xff, cap * sizeof *m->slot);
    m->mask = cap - 1;
    m->base = base;
    m->off = off;
    m->len = len;
    for (size_t id = 0; id < n; id++) {
        const char *s = base + off[id];
        if (tok_map_find(m, s, len[id]) >= 0)
            continue; /* duplicate text: keep the lower id */
        uint32_t h = tok_hash(s, len[id]);
        size_t i = h & m->mask;
        while (m->slot[i] >= 0)
            i = (i + 1) & m->mask;
        m->slot[i] = (int32_t)id;
        m->hash[i] = h;
    }
    return QLM_OK;
}

void tok_map_free(tok_map *m)
{
    free(m->slot);
    free(m->hash);
    m->slot = NULL;
    m->hash = NULL;
}
