/* Byte-level BPE encoding (see bpe.h): text -> valid UTF-8 -> normalizer
 * -> pre-tokenizer -> per piece, merges by (rank, position) with a binary
 * heap, as HF's Word::merge_all. Scratch memory lives for one encode call;
 * nothing is allocated per merge. */
#include <stdlib.h>
#include <string.h>

#include "formats/common/hash.h"
#include "formats/common/utf8.h"
#include "runtime/tokenizer/bpe_impl.h"
#include "runtime/tokenizer/unicode.h"

typedef struct {
    int32_t id;          /* -1 once merged into its left neighbour */
    int32_t prev, next;  /* -1 at the ends */
} symbol;

typedef struct {
    uint32_t rank, pos;
    int32_t left, right; /* the pair when queued; stale if either changed */
    int32_t merged;
} candidate;

/* Running text repeats its words, so each call keeps the ids of the short
 * pieces it has already encoded. The table is made only once a call has
 * seen enough pieces to pay for it, and stops taking entries when half full
 * (keeping probes short); it is a pure speed-up, so if it cannot be
 * allocated encoding simply goes on without it. */
#define CACHE_MIN_PIECES 256
#define CACHE_MAX_LEN 32
#define CACHE_SLOTS (1u << 16)

typedef struct {
    uint32_t hash;       /* 0 = empty slot */
    uint32_t key, ids;   /* offsets into keys[] and cids[] */
    uint8_t key_len, n_ids;
} cache_slot;

typedef struct {
    cache_slot *slot;
    char *keys;
    int32_t *cids;
    size_t n_keys, keys_cap, n_cids, cids_cap, n_entries;
} cache;

typedef struct {
    const qlm_bpe *b;
    int32_t **ids;
    size_t *n, *cap;
    symbol *sym;
    candidate *heap;
    size_t sym_cap, n_heap;
    char *text;          /* byte-level form of a piece (ignore_merges) */
    size_t text_cap;
    size_t n_pieces;
    cache cache;
} encoder;

static qlm_status emit(encoder *e, int32_t id)
{
    if (*e->n == *e->cap) {
        size_t cap = *e->cap ? 2 * *e->cap : 64;
        int32_t *p = cap <= SIZE_MAX / sizeof *p ? realloc(*e->ids, cap * sizeof *p) : NULL;
        if (!p)
            return qlm_fail(QLM_E_NOMEM, "BPE: out of memory for %zu token ids", cap);
        *e->ids = p;
        *e->cap = cap;
    }
    (*e->ids)[(*e->n)++] = id;
    return QLM_OK;
}

static bool cand_less(const candidate *x, const candidate *y)
{
    return x->rank < y->rank || (x->rank == y->rank && x->pos < y->pos);
}

static void heap_push(encoder *e, int32_t left_pos)
{
    const symbol *l = &e->sym[left_pos], *r = &e->sym[l->next];
    const merge_slot *m = merge_find(e->b, l->id, r->id);
    if (!m)
        return;
    candidate c = {m->rank, (uint32_t)left_pos, l->id, r->id, m->id};
    size_t i = e->n_heap++;
    while (i > 0 && cand_less(&c, &e->heap[(i - 1) / 2])) {
        e->heap[i] = e->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    e->heap[i] = c;
}

static candidate heap_pop(encoder *e)
{
    candidate top = e->heap[0], last = e->heap[--e->n_heap];
    size_t i = 0, n = e->n_heap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && cand_less(&e->heap[c + 1], &e->heap[c]))
            c++;
        if (!cand_less(&e->heap[c], &last))
            break;
        e->heap[i] = e->heap[c];
        i = c;
    }
    if (n)
        e->heap[i] = last;
    return top;
}

static qlm_status reserve(encoder *e, size_t len)
{
    if (len <= e->sym_cap)
        return QLM_OK;
    /* every merge queues at most two candidates: 3 * len bounds the heap */
    if (len > INT32_MAX / 3)
        return qlm_fail(QLM_E_LIMIT, "BPE: a pre-token of %zu bytes is too long", len);
    free(e->sym);
    free(e->heap);
    e->sym = malloc(len * sizeof *e->sym);
    e->heap = malloc(3 * len * sizeof *e->heap);
    e->sym_cap = e->sym && e->heap ? len : 0;
    return e->sym_cap ? QLM_OK : qlm_fail(QLM_E_NOMEM, "BPE: out of memory for a %zu-byte pre-token", len);
}

/* ignore_merges: the whole piece's id if the vocabulary has it, else -1. */
static int32_t whole_piece(encoder *e, const char *s, size_t len, qlm_status *st)
{
    *st = QLM_OK;
    if (len > e->text_cap) {
        free(e->text);
        e->text_cap = 0;
        if (!(e->text = malloc(2 * len))) {
            *st = qlm_fail(QLM_E_NOMEM, "BPE: out of memory for a %zu-byte pre-token", len);
            return -1;
        }
        e->text_cap = len;
    }
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += utf8_encode(qlm_bpe_byte_to_cp((uint8_t)s[i]), e->text + n);
    return bpe_vocab_find(e->b, e->text, n);
}

/* One pre-token: bytes -> symbols -> merges -> ids. */
static qlm_status merge_piece(encoder *e, const char *s, size_t len)
{
    const qlm_bpe *b = e->b;
    qlm_status st;
    if (b->ignore_merges) {
        int32_t id = whole_piece(e, s, len, &st);
        if (st != QLM_OK || id >= 0)
            return st != QLM_OK ? st : emit(e, id);
    }
    if ((st = reserve(e, len)) != QLM_OK)
        return st;
    /* bytes with no token are dropped, as HF does without an unk token */
    int32_t n = 0;
    for (size_t i = 0; i < len; i++) {
        int32_t id = b->byte_id[(uint8_t)s[i]];
        if (id < 0)
            continue;
        e->sym[n] = (symbol){id, n - 1, n + 1};
        n++;
    }
    if (!n)
        return QLM_OK;
    e->sym[n - 1].next = -1;
    e->n_heap = 0;
    for (int32_t i = 0; i + 1 < n; i++)
        heap_push(e, i);
    while (e->n_heap) {
        candidate c = heap_pop(e);
        symbol *l = &e->sym[c.pos];
        if (l->id != c.left || l->next < 0 || e->sym[l->next].id != c.right)
            continue;
        symbol *r = &e->sym[l->next];
        l->id = c.merged;
        l->next = r->next;
        if (r->next >= 0)
            e->sym[r->next].prev = (int32_t)c.pos;
        r->id = -1;
        if (l->prev >= 0)
            heap_push(e, l->prev);
        if (l->next >= 0)
            heap_push(e, (int32_t)c.pos);
    }
    for (int32_t i = 0; i >= 0; i = e->sym[i].next)
        if ((st = emit(e, e->sym[i].id)) != QLM_OK)
            return st;
    return QLM_OK;
}

/* The slot holding s, or the empty slot where it would go. */
static cache_slot *cache_slot_for(const cache *c, const char *s, size_t len, uint32_t hash)
{
    for (uint32_t h = hash;; h++) {
        cache_slot *sl = &c->slot[h & (CACHE_SLOTS - 1)];
        if (!sl->hash || (sl->hash == hash && sl->key_len == len && !memcmp(c->keys + sl->key, s, len)))
            return sl;
    }
}

static bool grow(void **buf, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return true;
    size_t n = *cap ? 2 * *cap : 4096;
    while (n < need)
        n *= 2;
    void *p = realloc(*buf, n * size);
    if (!p)
        return false;
    *buf = p;
    *cap = n;
    return true;
}

static void cache_put(cache *c, cache_slot *sl, uint32_t hash, const char *s, size_t len, const int32_t *ids,
                      size_t n)
{
    if (c->n_entries >= CACHE_SLOTS / 2 || n > UINT8_MAX || c->n_keys + len > UINT32_MAX ||
        c->n_cids + n > UINT32_MAX || !grow((void **)&c->keys, &c->keys_cap, c->n_keys + len, 1) ||
        !grow((void **)&c->cids, &c->cids_cap, c->n_cids + n, sizeof *c->cids))
        return;
    *sl = (cache_slot){hash, (uint32_t)c->n_keys, (uint32_t)c->n_cids, (uint8_t)len, (uint8_t)n};
    /* A piece may encode to no ids (characters outside the vocabulary and no
     * byte fallback): then cids can still be NULL, and NULL + 0 is undefined. */
    if (len)
        memcpy(c->keys + c->n_keys, s, len);
    if (n)
        memcpy(c->cids + c->n_cids, ids, n * sizeof *ids);
    c->n_keys += len;
    c->n_cids += n;
    c->n_entries++;
}

static void cache_free(cache *c)
{
    free(c->slot);
    free(c->keys);
    free(c->cids);
}

static qlm_status encode_piece(void *ctx, const char *s, size_t len)
{
    encoder *e = ctx;
    cache *c = &e->cache;
    if (++e->n_pieces == CACHE_MIN_PIECES)
        c->slot = calloc(CACHE_SLOTS, sizeof *c->slot);
    if (!c->slot || len > CACHE_MAX_LEN)
        return merge_piece(e, s, len);
    uint32_t hash = (uint32_t)qlm_xxh64(s, len, 0) | 1;
    cache_slot *sl = cache_slot_for(c, s, len, hash);
    qlm_status st;
    if (sl->hash) {
        for (size_t i = 0; i < sl->n_ids; i++)
            if ((st = emit(e, c->cids[sl->ids + i])) != QLM_OK)
                return st;
        return QLM_OK;
    }
    size_t first = *e->n;
    if ((st = merge_piece(e, s, len)) == QLM_OK)
        cache_put(c, sl, hash, s, len, *e->ids + first, *e->n - first);
    return st;
}

/* Invalid UTF-8 -> U+FFFD per maximal ill-formed subpart (see bpe.h). */
static qlm_status replace_invalid(const char *s, size_t len, char **out, size_t *out_len)
{
    if (len > SIZE_MAX / 3)
        return qlm_fail(QLM_E_OVERFLOW, "BPE: text of %zu bytes is too long", len);
    char *o = malloc(3 * len);
    if (!o)
        return qlm_fail(QLM_E_NOMEM, "BPE: out of memory for %zu bytes of text", len);
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        size_t k = utf8_char_len(s + i, len - i);
        if (k) {
            memcpy(o + n, s + i, k);
            n += k;
            i += k;
        } else {
            n += utf8_encode(0xFFFD, o + n);
            i += utf8_invalid_len(s + i, len - i);
        }
    }
    *out = o;
    *out_len = n;
    return QLM_OK;
}

qlm_status qlm_bpe_encode(const qlm_bpe *b, const char *text, size_t len, int32_t **ids, size_t *n,
                          size_t *cap)
{
    char *valid = NULL, *normal = NULL;
    size_t normal_len = 0;
    qlm_status st = QLM_OK;
    if (!utf8_valid(text, len)) {
        if ((st = replace_invalid(text, len, &valid, &len)) != QLM_OK)
            return st;
        text = valid;
    }
    if (b->nfc && (st = qlm_uc_nfc(text, len, &normal, &normal_len)) == QLM_OK && normal) {
        text = normal;
        len = normal_len;
    }
    if (st == QLM_OK) {
        encoder e = {.b = b, .ids = ids, .n = n, .cap = cap};
        st = qlm_pretok_run(b->pre, text, len, encode_piece, &e);
        free(e.sym);
        free(e.heap);
        free(e.text);
        cache_free(&e.cache);
    }
    free(valid);
    free(normal);
    return st;
}
