/* Byte-level BPE (see bpe.h).
 *
 * Tables: an open-addressing hash of the token strings (as stored, in the
 * byte-level alphabet) to ids, and one of merge pairs (left id, right id)
 * to (rank, merged id). Encoding a pre-token starts from the ids of its
 * single bytes and merges with a binary heap ordered by (rank, position),
 * which is "lowest rank first, leftmost among equals", as HF's
 * Word::merge_all does. Scratch memory lives for one encode call; nothing is
 * allocated per merge.
 */
#include "runtime/tokenizer/bpe.h"

#include <stdlib.h>
#include <string.h>

#include "formats/common/hash.h"
#include "formats/common/utf8.h"
#include "runtime/tokenizer/pretok.h"
#include "runtime/tokenizer/unicode.h"

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

/* ---- the byte-level alphabet ------------------------------------------------- */

/* GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves,
 * the other 68 take U+0100.. in byte order. */
static bool printable_byte(unsigned b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE; }

uint32_t qlm_bpe_byte_to_cp(uint8_t b)
{
    if (printable_byte(b))
        return b;
    if (b <= 0x20)
        return 0x100 + b;
    if (b <= 0xA0)
        return 0x100 + 0x21 + (b - 0x7F);
    return 0x143; /* 0xAD, the last one */
}

int qlm_bpe_cp_to_byte(uint32_t cp)
{
    if (cp < 0x100)
        return printable_byte(cp) ? (int)cp : -1;
    if (cp <= 0x120)
        return (int)(cp - 0x100);
    if (cp <= 0x142)
        return (int)(cp - 0x121 + 0x7F);
    return cp == 0x143 ? 0xAD : -1;
}

/* ---- tables ------------------------------------------------------------------ */

static size_t table_size(size_t n)
{
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    return cap;
}

static uint64_t str_hash(const char *s, size_t len) { return qlm_xxh64(s, len, 0); }

static uint64_t pair_hash(uint64_t key)
{
    key ^= key >> 31;
    key *= 0x9E3779B97F4A7C15ull;
    return key ^ (key >> 29);
}

static const char *tok_str(const qlm_bpe *b, int32_t id, size_t *len)
{
    *len = b->off[id + 1] - b->off[id];
    return b->text + b->off[id];
}

static int32_t vocab_find(const qlm_bpe *b, const char *s, size_t len)
{
    for (size_t h = str_hash(s, len) & b->vocab_mask;; h = (h + 1) & b->vocab_mask) {
        int32_t id = b->vocab[h];
        if (id < 0)
            return -1;
        size_t n;
        const char *t = tok_str(b, id, &n);
        if (n == len && !memcmp(t, s, len))
            return id;
    }
}

/* Insert id unless its string is already there (then the lower id stays). */
static void vocab_insert(qlm_bpe *b, int32_t id)
{
    size_t len;
    const char *s = tok_str(b, id, &len);
    if (vocab_find(b, s, len) >= 0)
        return;
    size_t h = str_hash(s, len) & b->vocab_mask;
    while (b->vocab[h] >= 0)
        h = (h + 1) & b->vocab_mask;
    b->vocab[h] = id;
}

static const merge_slot *merge_find(const qlm_bpe *b, int32_t left, int32_t right)
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

/* A later duplicate of a pair replaces the earlier rank, as in HF's map. */
static void merge_insert(qlm_bpe *b, int32_t left, int32_t right, uint32_t rank, int32_t id)
{
    uint64_t key = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
    size_t h = pair_hash(key) & b->merge_mask;
    while (b->merges[h].key != UINT64_MAX && b->merges[h].key != key)
        h = (h + 1) & b->merge_mask;
    b->merges[h] = (merge_slot){key, rank, id};
}

static qlm_status copy_vocab(qlm_bpe *b, const char *const *tokens, const size_t *lens, size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (!tokens[i] && lens[i])
            return qlm_fail(QLM_E_ARG, "BPE vocabulary: token %zu has no text", i);
        if (lens[i] > SIZE_MAX - total)
            return qlm_fail(QLM_E_OVERFLOW, "BPE vocabulary: total token length overflows");
        total += lens[i];
    }
    b->text = malloc(total ? total : 1);
    b->off = malloc((n + 1) * sizeof *b->off);
    b->vocab_mask = table_size(n) - 1;
    b->vocab = malloc((b->vocab_mask + 1) * sizeof *b->vocab);
    if (!b->text || !b->off || !b->vocab)
        return qlm_fail(QLM_E_NOMEM, "BPE vocabulary: out of memory for %zu tokens", n);
    memset(b->vocab, 0xFF, (b->vocab_mask + 1) * sizeof *b->vocab);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        b->off[i] = o;
        if (lens[i])
            memcpy(b->text + o, tokens[i], lens[i]);
        o += lens[i];
    }
    b->off[n] = o;
    for (size_t i = 0; i < n; i++)
        vocab_insert(b, (int32_t)i);
    for (unsigned c = 0; c < 256; c++) {
        char u[4];
        b->byte_id[c] = vocab_find(b, u, utf8_encode(qlm_bpe_byte_to_cp((uint8_t)c), u));
    }
    return QLM_OK;
}

static qlm_status add_merges(qlm_bpe *b, const char *const *merges, const size_t *lens, size_t n)
{
    b->merge_mask = table_size(n) - 1;
    b->merges = malloc((b->merge_mask + 1) * sizeof *b->merges);
    if (!b->merges)
        return qlm_fail(QLM_E_NOMEM, "BPE merges: out of memory for %zu merges", n);
    memset(b->merges, 0xFF, (b->merge_mask + 1) * sizeof *b->merges);
    char *joined = NULL;
    size_t joined_cap = 0;
    qlm_status st = QLM_OK;
    for (size_t r = 0; r < n && st == QLM_OK; r++) {
        const char *m = merges[r];
        size_t len = lens[r];
        const char *sp = m ? memchr(m, ' ', len) : NULL;
        if (!sp || sp == m || sp == m + len - 1 || memchr(sp + 1, ' ', (size_t)(m + len - sp - 1))) {
            st = qlm_fail(QLM_E_TOKENIZER, "BPE merge %zu is not two tokens separated by one space", r);
            break;
        }
        size_t la = (size_t)(sp - m), lb = len - la - 1;
        int32_t a = vocab_find(b, m, la), c = vocab_find(b, sp + 1, lb);
        if (a < 0 || c < 0) {
            st = qlm_fail(QLM_E_TOKENIZER, "BPE merge %zu: token '%.*s' is not in the vocabulary", r,
                          (int)(a < 0 ? la : lb), a < 0 ? m : sp + 1);
            break;
        }
        if (la + lb > joined_cap) {
            free(joined);
            joined_cap = 2 * (la + lb);
            if (!(joined = malloc(joined_cap))) {
                st = qlm_fail(QLM_E_NOMEM, "BPE merges: out of memory");
                break;
            }
        }
        memcpy(joined, m, la);
        memcpy(joined + la, sp + 1, lb);
        int32_t id = vocab_find(b, joined, la + lb);
        if (id < 0)
            st = qlm_fail(QLM_E_TOKENIZER, "BPE merge %zu: result '%.*s' is not in the vocabulary", r,
                          (int)(la + lb), joined);
        else
            merge_insert(b, a, c, (uint32_t)r, id);
    }
    free(joined);
    return st;
}

qlm_status qlm_bpe_new(const char *const *tokens, const size_t *lens, size_t n_vocab,
                       const char *const *merges, const size_t *merge_lens, size_t n_merges,
                       const char *pre, qlm_bpe **out)
{
    *out = NULL;
    const qlm_pretok *p = qlm_pretok_find(pre);
    if (!p)
        return qlm_fail(QLM_E_UNSUPPORTED, "BPE: unknown pre-tokenizer '%s'", pre ? pre : "(none)");
    if (n_vocab == 0 || n_vocab > INT32_MAX || n_merges > UINT32_MAX)
        return qlm_fail(QLM_E_LIMIT, "BPE: %zu tokens and %zu merges is out of range", n_vocab, n_merges);
    qlm_bpe *b = calloc(1, sizeof *b);
    if (!b)
        return qlm_fail(QLM_E_NOMEM, "BPE: out of memory");
    b->pre = p;
    b->n_vocab = n_vocab;
    qlm_status st = copy_vocab(b, tokens, lens, n_vocab);
    if (st == QLM_OK)
        st = add_merges(b, merges, merge_lens, n_merges);
    if (st != QLM_OK) {
        qlm_bpe_free(b);
        return st;
    }
    *out = b;
    return QLM_OK;
}

void qlm_bpe_free(qlm_bpe *b)
{
    if (!b)
        return;
    free(b->text);
    free(b->off);
    free(b->vocab);
    free(b->merges);
    free(b);
}

void qlm_bpe_set_ignore_merges(qlm_bpe *b, bool on) { b->ignore_merges = on; }

qlm_status qlm_bpe_set_normalizer(qlm_bpe *b, const char *name)
{
    if (!name || !*name || !strcmp(name, "none")) {
        b->nfc = false;
        return QLM_OK;
    }
    if (!strcmp(name, "NFC")) {
        b->nfc = true;
        return QLM_OK;
    }
    return qlm_fail(QLM_E_UNSUPPORTED, "BPE: unsupported normalizer '%s' (only NFC)", name);
}

/* ---- encoding ---------------------------------------------------------------- */

typedef struct {
    int32_t id;          /* -1 once merged into its left neighbour */
    int32_t prev, next;  /* -1 at the ends */
} symbol;

typedef struct {
    uint32_t rank, pos;
    int32_t left, right; /* the pair when queued; stale if either changed */
} candidate;

typedef struct {
    const qlm_bpe *b;
    int32_t **ids;
    size_t *n, *cap;
    symbol *sym;
    candidate *heap;
    size_t sym_cap, n_heap;
    char *text;          /* byte-level form of a piece (ignore_merges) */
    size_t text_cap;
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
    candidate c = {m->rank, (uint32_t)left_pos, l->id, r->id};
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
    return vocab_find(e->b, e->text, n);
}

/* One pre-token: bytes -> symbols -> merges -> ids. */
static qlm_status encode_piece(void *ctx, const char *s, size_t len)
{
    encoder *e = ctx;
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
        l->id = merge_find(b, c.left, c.right)->id;
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
    }
    free(valid);
    free(normal);
    return st;
}
