/* SentencePiece BPE, as sentencepiece's bpe_model encodes (Llama-2,
 * TinyLlama, llama2.c vocabularies):
 *
 *  1. normalize: every ' ' becomes "▁"; a "▁" is prepended (dummy prefix)
 *     when the model asks for it;
 *  2. split into characters (an invalid UTF-8 byte is a character of its own);
 *  3. repeatedly merge the adjacent pair whose concatenation is a vocabulary
 *     piece with the highest score; among equal scores the leftmost pair;
 *  4. each final symbol is its piece's id; a symbol that is not a piece is
 *     spelled with the <0xNN> byte tokens (byte fallback), else <unk>.
 *
 * Only normal, user-defined and unused pieces take part in merges (control,
 * unknown and byte pieces do not, as in sentencepiece), and never a piece
 * whose score is -inf (tokenizer.json vocabularies: no merge produces it). Unused pieces are
 * not re-split after merging (sentencepiece would); none of the supported
 * vocabularies has one.
 *
 * Speed: a merge never crosses the boundary between a non-"▁" character and
 * a following "▁" unless some piece contains "▁" after another character.
 * spm_prepare() checks that once per vocabulary; when it holds (Llama-2,
 * llama2.c vocabularies) each word is merged on its own, which keeps the heap
 * small. Merging words independently gives exactly the same result, because
 * no candidate pair spans a boundary and the priority order within a word is
 * unchanged. No allocation happens per merge: the symbol list and the heap
 * are sized once per call.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "formats/common/utf8.h"
#include "runtime/tokenizer/tok_internal.h"

#define SPACE_SYM "\xE2\x96\x81" /* U+2581 "▁" */
#define SPM_MAX_TEXT (1u << 30)

typedef struct {
    uint32_t start, len; /* span in the normalized text; len 0 = merged away */
    int32_t prev, next;
} spm_sym;

typedef struct {
    float score;
    int32_t left, right;
    uint32_t len; /* combined length when queued: stale if it changed */
} spm_cand;

static bool mergeable(uint8_t ty)
{
    return ty == TT_NORMAL || ty == TT_USER || ty == TT_UNUSED;
}

static bool has_space_after_char(const char *s, size_t n)
{
    bool prev_other = false;
    for (size_t i = 0; i < n;) {
        bool sp = i + 3 <= n && memcmp(s + i, SPACE_SYM, 3) == 0;
        if (sp && prev_other)
            return true;
        prev_other = !sp;
        size_t cl = utf8_char_len(s + i, n - i);
        i += sp ? 3 : cl ? cl : 1;
    }
    return false;
}

qlm_status spm_prepare(qlm_tokenizer *t)
{
    t->spm_word_split = true;
    for (size_t i = 0; i < t->n_vocab; i++) {
        if (t->scores[i] != t->scores[i])
            return qlm_fail(QLM_E_VALUE, "tokenizer: token %zu has a NaN score", i);
        if (mergeable(t->types[i]) && has_space_after_char(tok_text_ptr(t, (int32_t)i), t->text_len[i]))
            t->spm_word_split = false;
    }
    return QLM_OK;
}

/* Max-heap on (score, -left). */
static bool cand_before(const spm_cand *a, const spm_cand *b)
{
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static void heap_push(spm_cand *h, size_t *n, spm_cand c)
{
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!cand_before(&c, &h[p]))
            break;
        h[i] = h[p];
        i = p;
    }
    h[i] = c;
}

static spm_cand heap_pop(spm_cand *h, size_t *n)
{
    spm_cand top = h[0], last = h[--*n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n)
            break;
        if (c + 1 < *n && cand_before(&h[c + 1], &h[c]))
            c++;
        if (!cand_before(&h[c], &last))
            break;
        h[i] = h[c];
        i = c;
    }
    if (*n)
        h[i] = last;
    return top;
}

/* Words already encoded in this call: the key is the word's bytes in the
 * normalized text, the value its ids' position in the output (ids only get
 * appended, so the position stays valid). Running text repeats words a lot. */
typedef struct {
    uint32_t hash, key_off, key_len; /* key_len 0: empty slot */
    uint32_t ids_off, n_ids;
} spm_cached;

#define SPM_CACHE_MAX (1u << 20)

typedef struct {
    const qlm_tokenizer *t;
    const char *text; /* normalized */
    spm_sym *sym;
    size_t sym_cap;
    spm_cand *heap;
    size_t heap_cap, n_heap;
    spm_cached *cache;
    size_t cache_mask, cache_used;
} spm_ctx;

static void try_pair(spm_ctx *c, int32_t l, int32_t r)
{
    uint32_t len = c->sym[l].len + c->sym[r].len;
    int32_t id = tok_map_find(&c->t->map, c->text + c->sym[l].start, len);
    if (id < 0 || !mergeable(c->t->types[id]) || c->t->scores[id] == -INFINITY)
        return;
    spm_cand cand = {c->t->scores[id], l, r, len};
    heap_push(c->heap, &c->n_heap, cand);
}

/* Merges the word's symbols sym[0..m) as far as the vocabulary allows. */
static void merge_word(spm_ctx *c, int32_t m)
{
    c->n_heap = 0;
    for (int32_t i = 0; i + 1 < m; i++)
        try_pair(c, i, i + 1);
    while (c->n_heap) {
        spm_cand top = heap_pop(c->heap, &c->n_heap);
        spm_sym *l = &c->sym[top.left], *r = &c->sym[top.right];
        if (l->len == 0 || r->len == 0 || l->len + r->len != top.len)
            continue; /* stale: one side was merged since */
        l->len += r->len;
        r->len = 0;
        l->next = r->next;
        if (r->next < m)
            c->sym[r->next].prev = top.left;
        if (l->prev >= 0)
            try_pair(c, l->prev, top.left);
        if (l->next < m)
            try_pair(c, top.left, l->next);
    }
}

static qlm_status emit_symbol(const qlm_tokenizer *t, const char *s, size_t n, tok_ids *out)
{
    int32_t id = tok_map_find(&t->map, s, n);
    if (id >= 0 && mergeable(t->types[id]))
        return tok_ids_push(out, id);
    if (!t->byte_fallback) {
        if (t->unk < 0)
            return qlm_fail(QLM_E_TOKENIZER, "tokenizer: text not in the vocabulary and no <unk> token");
        return tok_ids_push(out, t->unk);
    }
    for (size_t i = 0; i < n; i++) {
        int32_t b = t->byte_id[(unsigned char)s[i]];
        if (b < 0 && (b = t->unk) < 0)
            return qlm_fail(QLM_E_TOKENIZER, "tokenizer: no <0x%02X> byte token and no <unk> token",
                            (unsigned char)s[i]);
        qlm_status st = tok_ids_push(out, b);
        if (st)
            return st;
    }
    return QLM_OK;
}

/* Normalized text: optional "▁" then the input with ' ' -> "▁". */
static char *spm_normalize(const char *text, size_t len, bool dummy_prefix, size_t *out_len)
{
    char *d = malloc(3 * len + 4);
    if (!d)
        return NULL;
    size_t k = 0;
    if (dummy_prefix) {
        memcpy(d, SPACE_SYM, 3);
        k = 3;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') {
            memcpy(d + k, SPACE_SYM, 3);
            k += 3;
        } else {
            d[k++] = text[i];
        }
    }
    *out_len = k;
    return d;
}

static bool space_at(const char *s, size_t i, size_t n)
{
    return i + 3 <= n && memcmp(s + i, SPACE_SYM, 3) == 0;
}

/* End of the word starting at i: the next "▁" that follows another character. */
static size_t word_end(const spm_ctx *c, size_t i, size_t n)
{
    if (!c->t->spm_word_split)
        return n;
    while (space_at(c->text, i, n))
        i += 3;
    while (i < n && !space_at(c->text, i, n))
        i++;
    return i;
}

static qlm_status grow(void **p, size_t *cap, size_t want, size_t elem)
{
    if (want <= *cap)
        return QLM_OK;
    size_t cap2 = *cap ? *cap : 64;
    while (cap2 < want)
        cap2 *= 2;
    void *q = realloc(*p, cap2 * elem);
    if (!q)
        return qlm_fail(QLM_E_NOMEM, "tokenizer: out of memory for a %zu-character word", want);
    *p = q;
    *cap = cap2;
    return QLM_OK;
}

/* Merge one word [a, b) of the normalized text and append its ids. */
static qlm_status encode_word(spm_ctx *c, size_t a, size_t b, tok_ids *out)
{
    qlm_status st = grow((void **)&c->sym, &c->sym_cap, b - a, sizeof *c->sym);
    if (!st)
        st = grow((void **)&c->heap, &c->heap_cap, 3 * (b - a), sizeof *c->heap);
    if (st)
        return st;
    int32_t m = 0;
    for (size_t i = a; i < b; m++) {
        size_t cl = utf8_char_len(c->text + i, b - i);
        c->sym[m] = (spm_sym){(uint32_t)i, (uint32_t)(cl ? cl : 1), m - 1, m + 1};
        i += cl ? cl : 1;
    }
    merge_word(c, m);
    for (int32_t i = 0; i < m; i = c->sym[i].next)
        if ((st = emit_symbol(c->t, c->text + c->sym[i].start, c->sym[i].len, out)))
            return st;
    return QLM_OK;
}

static spm_cached *cache_slot(spm_ctx *c, const char *key, uint32_t len, uint32_t h)
{
    for (size_t i = h & c->cache_mask;; i = (i + 1) & c->cache_mask) {
        spm_cached *e = &c->cache[i];
        if (e->key_len == 0 || (e->hash == h && e->key_len == len && memcmp(c->text + e->key_off, key, len) == 0))
            return e;
    }
}

static void cache_grow(spm_ctx *c)
{
    size_t cap = 2 * (c->cache_mask + 1);
    spm_cached *old = c->cache, *nw = calloc(cap, sizeof *nw);
    if (!nw)
        return; /* the cache is only an optimisation */
    size_t old_cap = c->cache_mask + 1;
    c->cache = nw;
    c->cache_mask = cap - 1;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].key_len)
            *cache_slot(c, c->text + old[i].key_off, old[i].key_len, old[i].hash) = old[i];
    free(old);
}

static qlm_status spm_run(spm_ctx *c, size_t n, tok_ids *out)
{
    for (size_t a = 0, b; a < n; a = b) {
        b = word_end(c, a, n);
        const char *key = c->text + a;
        uint32_t len = (uint32_t)(b - a), h = tok_hash(key, len);
        spm_cached *e = cache_slot(c, key, len, h);
        if (e->key_len) {
            qlm_status st = grow((void **)&out->v, &out->cap, out->n + e->n_ids, sizeof *out->v);
            if (st)
                return st;
            memcpy(out->v + out->n, out->v + e->ids_off, e->n_ids * sizeof *out->v);
            out->n += e->n_ids;
            continue;
        }
        size_t start = out->n;
        qlm_status st = encode_word(c, a, b, out);
        if (st)
            return st;
        if (out->n - start > UINT32_MAX || start > UINT32_MAX || c->cache_used >= SPM_CACHE_MAX)
            continue;
        *e = (spm_cached){h, (uint32_t)a, len, (uint32_t)start, (uint32_t)(out->n - start)};
        if (++c->cache_used * 2 > c->cache_mask)
            cache_grow(c);
    }
    return QLM_OK;
}

qlm_status spm_encode(const qlm_tokenizer *t, const char *text, size_t len, bool dummy_prefix, tok_ids *out)
{
    if (len == 0)
        return QLM_OK;
    if (len > SPM_MAX_TEXT)
        return qlm_fail(QLM_E_LIMIT, "tokenizer: text of %zu bytes (limit %u)", len, SPM_MAX_TEXT);
    size_t n_norm = 0;
    spm_ctx c = {.t = t, .cache_mask = 255};
    char *norm = spm_normalize(text, len, dummy_prefix && t->add_space_prefix, &n_norm);
    c.text = norm;
    c.cache = calloc(c.cache_mask + 1, sizeof *c.cache);
    qlm_status st;
    if (!norm || !c.cache)
        st = qlm_fail(QLM_E_NOMEM, "tokenizer: out of memory for %zu bytes of text", len);
    else
        st = spm_run(&c, n_norm, out);
    free(norm);
    free(c.sym);
    free(c.heap);
    free(c.cache);
    return st;
}
