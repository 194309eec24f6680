/* Byte-level BPE tables and construction (see bpe.h; encoding is in
 * bpe_encode.c): an open-addressing hash of the token strings (as stored,
 * in the byte-level alphabet) to ids, and one of merge pairs
 * (left id, right id) to (rank, merged id).
 */
#include "runtime/tokenizer/bpe_impl.h"

#include <stdlib.h>
#include <string.h>

#include "formats/common/hash.h"
#include "formats/common/utf8.h"

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

static const char *tok_str(const qlm_bpe *b, int32_t id, size_t *len)
{
    *len = b->off[id + 1] - b->off[id];
    return b->text + b->off[id];
}

int32_t bpe_vocab_find(const qlm_bpe *b, const char *s, size_t len)
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
    if (bpe_vocab_find(b, s, len) >= 0)
        return;
    size_t h = str_hash(s, len) & b->vocab_mask;
    while (b->vocab[h] >= 0)
        h = (h + 1) & b->vocab_mask;
    b->vocab[h] = id;
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
        b->byte_id[c] = bpe_vocab_find(b, u, utf8_encode(qlm_bpe_byte_to_cp((uint8_t)c), u));
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
        int32_t a = bpe_vocab_find(b, m, la), c = bpe_vocab_find(b, sp + 1, lb);
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
        int32_t id = bpe_vocab_find(b, joined, la + lb);
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
