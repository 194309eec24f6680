/* tok_build_finish(): one place that turns any source's description into a
 * qlm_tokenizer, so every importer gets the same validation and the same
 * derived tables. Also the simple accessors of tokenizer.h. */
#include <stdlib.h>
#include <string.h>

#include "formats/common/utf8.h"
#include "runtime/tokenizer/bpe.h"
#include "runtime/tokenizer/pretok.h"
#include "runtime/tokenizer/tok_internal.h"

void tok_build_init(tok_build *b, tok_kind kind)
{
    memset(b, 0, sizeof *b);
    b->kind = kind;
    b->bos = b->eos = b->unk = b->pad = -1;
}

qlm_status tok_ids_push(tok_ids *a, int32_t id)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 64;
        int32_t *v = realloc(a->v, cap * sizeof *v);
        if (!v)
            return qlm_fail(QLM_E_NOMEM, "tokenizer: out of memory for %zu ids", cap);
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = id;
    return QLM_OK;
}

/* "<0xNN>" (upper-case hex, as sentencepiece writes byte pieces) -> NN, else -1. */
int tok_byte_piece_value(const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    if (n != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>')
        return -1;
    const char *hi = memchr(hex, s[3], 16), *lo = memchr(hex, s[4], 16);
    if (!hi || !lo || !s[3] || !s[4])
        return -1;
    return (int)((hi - hex) * 16 + (lo - hex));
}

static char *dup_bytes(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

/* Decoded bytes of token id (never longer than its text, see below). */
static size_t make_piece(const qlm_tokenizer *t, int32_t id, char *out)
{
    const char *s = tok_text_ptr(t, id);
    size_t n = t->text_len[id], k = 0;
    uint8_t ty = t->types[id];
    if (ty == TT_CONTROL || ty == TT_UNKNOWN) {
        memcpy(out, s, n); /* "<s>", "<|im_end|>": shown as written */
        return n;
    }
    if (t->kind == TOK_SPM) {
        int b = ty == TT_BYTE ? tok_byte_piece_value(s, n) : -1;
        if (b >= 0) {
            out[0] = (char)b;
            return 1;
        }
        for (size_t i = 0; i < n;) { /* "▁" (E2 96 81) -> ' ' */
            if (i + 3 <= n && memcmp(s + i, "\xE2\x96\x81", 3) == 0) {
                out[k++] = ' ';
                i += 3;
            } else {
                out[k++] = s[i++];
            }
        }
        return k;
    }
    /* Byte-level: each alphabet character stands for one byte; anything else
     * (text of an added token such as "<|im_end|>") passes through, as the
     * Hugging Face ByteLevel decoder does. */
    for (size_t i = 0; i < n;) {
        size_t adv;
        uint32_t cp = utf8_decode(s + i, n - i, &adv);
        int b = qlm_bpe_cp_to_byte(cp);
        if (b >= 0) {
            out[k++] = (char)b;
        } else {
            memcpy(out + k, s + i, adv);
            k += adv;
        }
        i += adv;
    }
    return k;
}

static qlm_status copy_vocab(const tok_build *b, qlm_tokenizer *t)
{
    size_t n = b->n_vocab, total = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = b->token_lens[i];
        if (len > TOK_MAX_TOKEN_BYTES)
            return qlm_fail(QLM_E_LIMIT, "%s: token %zu is %zu bytes (limit %u)", b->origin, i, len,
                            TOK_MAX_TOKEN_BYTES);
        if (!utf8_valid(b->tokens[i], len))
            return qlm_fail(QLM_E_UTF8, "%s: token %zu is not valid UTF-8", b->origin, i);
        total += 2 * (len + 1); /* text + piece (a piece is never longer than its text) */
    }
    if (total > UINT32_MAX)
        return qlm_fail(QLM_E_LIMIT, "%s: vocabulary text too large (%zu bytes)", b->origin, total);
    t->arena = malloc(total ? total : 1);
    t->text_off = malloc(n * sizeof *t->text_off);
    t->text_len = malloc(n * sizeof *t->text_len);
    t->piece_off = malloc(n * sizeof *t->piece_off);
    t->piece_len = malloc(n * sizeof *t->piece_len);
    t->types = malloc(n);
    if (!t->arena || !t->text_off || !t->text_len || !t->piece_off || !t->piece_len || !t->types)
        return qlm_fail(QLM_E_NOMEM, "%s: out of memory for %zu tokens", b->origin, n);
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        t->text_off[i] = (uint32_t)at;
        t->text_len[i] = (uint32_t)b->token_lens[i];
        memcpy(t->arena + at, b->tokens[i], b->token_lens[i]);
        at += b->token_lens[i];
        t->arena[at++] = 0;
        uint8_t ty = b->types ? b->types[i] : TT_NORMAL;
        if (ty < TT_NORMAL || ty > TT_BYTE)
            return qlm_fail(QLM_E_VALUE, "%s: token %zu has type %u (want 1..6)", b->origin, i, ty);
        t->types[i] = ty;
    }
    for (size_t i = 0; i < n; i++) {
        t->piece_off[i] = (uint32_t)at;
        size_t k = make_piece(t, (int32_t)i, t->arena + at);
        t->piece_len[i] = (uint32_t)k;
        if (k > t->max_piece)
            t->max_piece = k;
        at += k;
        t->arena[at++] = 0;
    }
    return tok_map_build(&t->map, t->arena, t->text_off, t->text_len, n);
}

static qlm_status check_id(const tok_build *b, int32_t id, const char *what)
{
    if (id < -1 || (id >= 0 && (size_t)id >= b->n_vocab))
        return qlm_fail(QLM_E_VALUE, "%s: %s id %d outside the vocabulary (%zu tokens)", b->origin,
                        what, (int)id, b->n_vocab);
    return QLM_OK;
}

static void add_eog(qlm_tokenizer *t, int32_t id)
{
    if (id < 0)
        return;
    for (size_t i = 0; i < t->n_eog; i++)
        if (t->eog[i] == id)
            return;
    if (t->n_eog < TOK_MAX_EOG)
        t->eog[t->n_eog++] = id;
}

/* EOS, the source's own list, and the end-of-turn tokens chat models use
 * (as llama.cpp does): generation must stop at any of them. */
static qlm_status set_special(const tok_build *b, qlm_tokenizer *t)
{
    static const char *const k_eot[] = {"<|im_end|>", "<|eot_id|>", "<|eom_id|>", "<|end|>",
                                        "<end_of_turn>", "<|endoftext|>"};
    qlm_status st;
    if ((st = check_id(b, b->bos, "BOS")) || (st = check_id(b, b->eos, "EOS")) ||
        (st = check_id(b, b->unk, "UNK")) || (st = check_id(b, b->pad, "PAD")))
        return st;
    t->bos = b->bos;
    t->eos = b->eos;
    t->unk = b->unk;
    t->pad = b->pad;
    t->add_bos = b->add_bos && b->bos >= 0;
    t->add_eos = b->add_eos && b->eos >= 0;
    t->add_space_prefix = b->add_space_prefix;
    t->byte_fallback = b->byte_fallback;
    if (b->n_eog > TOK_MAX_EOG)
        return qlm_fail(QLM_E_LIMIT, "%s: %zu end-of-generation ids (limit %d)", b->origin, b->n_eog,
                        TOK_MAX_EOG);
    add_eog(t, t->eos);
    for (size_t i = 0; i < b->n_eog; i++) {
        if ((st = check_id(b, b->eog[i], "end-of-generation")))
            return st;
        add_eog(t, b->eog[i]);
    }
    for (size_t i = 0; i < sizeof k_eot / sizeof *k_eot; i++) {
        int32_t id = tok_map_find(&t->map, k_eot[i], strlen(k_eot[i]));
        if (id >= 0 && t->types[id] == TT_CONTROL)
            add_eog(t, id);
    }
    return QLM_OK;
}

static bool is_added_type(uint8_t ty)
{
    return ty == TT_CONTROL || ty == TT_USER || ty == TT_UNKNOWN;
}

static int cmp_u64(const void *pa, const void *pb)
{
    uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
    return a < b ? -1 : a > b;
}

/* Added tokens are matched in the input before the model sees it: bucket
 * them by first byte, longest first (then lowest id) within a bucket. The
 * sort key packs (first byte, 0xFFFF - length, id) into one integer. */
static qlm_status build_added(qlm_tokenizer *t)
{
    size_t n = 0;
    for (size_t i = 0; i < t->n_vocab; i++)
        n += is_added_type(t->types[i]) && t->text_len[i] > 0;
    uint64_t *key = malloc((n ? n : 1) * sizeof *key);
    t->added = malloc((n ? n : 1) * sizeof *t->added);
    if (!key || !t->added) {
        free(key);
        return qlm_fail(QLM_E_NOMEM, "tokenizer: out of memory for %zu added tokens", n);
    }
    n = 0;
    for (size_t i = 0; i < t->n_vocab; i++)
        if (is_added_type(t->types[i]) && t->text_len[i] > 0)
            key[n++] = (uint64_t)(unsigned char)tok_text_ptr(t, (int32_t)i)[0] << 48 |
                       (uint64_t)(0xFFFFu - t->text_len[i]) << 32 | i;
    qsort(key, n, sizeof *key, cmp_u64);
    for (size_t i = 0; i < n; i++)
        t->added[i] = (int32_t)(key[i] & 0xFFFFFFFFu);
    free(key);
    size_t j = 0;
    for (unsigned c = 0; c <= 256; c++) {
        while (c < 256 && j < n && (unsigned char)tok_text_ptr(t, t->added[j])[0] < c)
            j++;
        t->added_start[c] = (uint32_t)(c == 256 ? n : j);
    }
    return QLM_OK;
}

static qlm_status copy_bpe(const tok_build *b, qlm_tokenizer *t)
{
    const char *pre = b->pre ? b->pre : "default";
    if (!qlm_pretok_known(pre))
        return qlm_fail(QLM_E_UNSUPPORTED, "%s: byte-level BPE pre-tokenizer \"%s\" is not supported",
                        b->origin, pre);
    t->pre = dup_bytes(pre, strlen(pre));
    t->merges = calloc(b->n_merges ? b->n_merges : 1, sizeof *t->merges);
    t->merge_lens = malloc((b->n_merges ? b->n_merges : 1) * sizeof *t->merge_lens);
    if (!t->pre || !t->merges || !t->merge_lens)
        return qlm_fail(QLM_E_NOMEM, "%s: out of memory for %zu merges", b->origin, b->n_merges);
    t->n_merges = b->n_merges;
    for (size_t i = 0; i < b->n_merges; i++) {
        if (b->merge_lens[i] > 2 * TOK_MAX_TOKEN_BYTES || !utf8_valid(b->merges[i], b->merge_lens[i]))
            return qlm_fail(QLM_E_TOKENIZER, "%s: merge %zu is too long or not UTF-8", b->origin, i);
        if (!(t->merges[i] = dup_bytes(b->merges[i], b->merge_lens[i])))
            return qlm_fail(QLM_E_NOMEM, "%s: out of memory for merges", b->origin);
        t->merge_lens[i] = b->merge_lens[i];
    }
    if (b->normalizer && !(t->normalizer = dup_bytes(b->normalizer, strlen(b->normalizer))))
        return qlm_fail(QLM_E_NOMEM, "%s: out of memory", b->origin);
    t->ignore_merges = b->ignore_merges;
    qlm_status st = qlm_bpe_new(b->tokens, b->token_lens, b->n_vocab, (const char *const *)t->merges,
                                t->merge_lens, t->n_merges, t->pre, &t->bpe);
    if (st)
        return qlm_fail_context(st, "%s", b->origin);
    qlm_bpe_set_ignore_merges(t->bpe, t->ignore_merges);
    return qlm_bpe_set_normalizer(t->bpe, t->normalizer);
}

static qlm_status copy_spm(const tok_build *b, qlm_tokenizer *t)
{
    if (!b->scores)
        return qlm_fail(QLM_E_MISSING, "%s: SentencePiece vocabulary without scores", b->origin);
    t->scores = malloc(b->n_vocab * sizeof *t->scores);
    if (!t->scores)
        return qlm_fail(QLM_E_NOMEM, "%s: out of memory for scores", b->origin);
    memcpy(t->scores, b->scores, b->n_vocab * sizeof *t->scores);
    for (int i = 0; i < 256; i++)
        t->byte_id[i] = -1;
    for (size_t i = 0; i < b->n_vocab; i++) {
        int v = t->types[i] == TT_BYTE ? tok_byte_piece_value(tok_text_ptr(t, (int32_t)i), t->text_len[i]) : -1;
        if (v >= 0 && t->byte_id[v] < 0)
            t->byte_id[v] = (int32_t)i;
    }
    return spm_prepare(t);
}

qlm_status tok_build_finish(const tok_build *b, qlm_tokenizer **out)
{
    *out = NULL;
    if (b->n_vocab == 0 || b->n_vocab > TOK_MAX_VOCAB)
        return qlm_fail(QLM_E_LIMIT, "%s: vocabulary of %zu tokens (want 1..%u)", b->origin, b->n_vocab,
                        TOK_MAX_VOCAB);
    qlm_tokenizer *t = calloc(1, sizeof *t);
    if (!t)
        return qlm_fail(QLM_E_NOMEM, "%s: out of memory", b->origin);
    t->kind = b->kind;
    t->n_vocab = b->n_vocab;
    qlm_status st = copy_vocab(b, t);
    if (!st)
        st = set_special(b, t);
    if (!st)
        st = build_added(t);
    if (!st && b->chat_template) {
        if (!utf8_valid(b->chat_template, b->chat_template_len))
            st = qlm_fail(QLM_E_UTF8, "%s: chat template is not valid UTF-8", b->origin);
        else if (!(t->chat_template = dup_bytes(b->chat_template, b->chat_template_len)))
            st = qlm_fail(QLM_E_NOMEM, "%s: out of memory", b->origin);
        t->chat_template_len = b->chat_template_len;
    }
    if (!st)
        st = b->kind == TOK_BPE ? copy_bpe(b, t) : copy_spm(b, t);
    if (st) {
        qlm_tok_free(t);
        return st;
    }
    *out = t;
    return QLM_OK;
}

void qlm_tok_free(qlm_tokenizer *t)
{
    if (!t)
        return;
    qlm_bpe_free(t->bpe);
    for (size_t i = 0; t->merges && i < t->n_merges; i++)
        free(t->merges[i]);
    free(t->merges);
    free(t->merge_lens);
    free(t->pre);
    free(t->normalizer);
    free(t->chat_template);
    free(t->added);
    free(t->scores);
    tok_map_free(&t->map);
    free(t->arena);
    free(t->text_off);
    free(t->text_len);
    free(t->piece_off);
    free(t->piece_len);
    free(t->types);
    free(t);
}

size_t qlm_tok_n_vocab(const qlm_tokenizer *t) { return t->n_vocab; }
int32_t qlm_tok_bos(const qlm_tokenizer *t) { return t->bos; }
int32_t qlm_tok_eos(const qlm_tokenizer *t) { return t->eos; }
bool qlm_tok_add_bos(const qlm_tokenizer *t) { return t->add_bos; }
const char *qlm_tok_chat_template(const qlm_tokenizer *t) { return t->chat_template; }
size_t qlm_tok_max_piece(const qlm_tokenizer *t) { return t->max_piece; }

bool qlm_tok_is_eog(const qlm_tokenizer *t, int32_t id)
{
    for (size_t i = 0; i < t->n_eog; i++)
        if (t->eog[i] == id)
            return true;
    return false;
}

int32_t qlm_tok_find(const qlm_tokenizer *t, const char *text, size_t len)
{
    return tok_map_find(&t->map, text, len);
}

const char *qlm_tok_piece(const qlm_tokenizer *t, int32_t id, size_t *len)
{
    if (id < 0 || (size_t)id >= t->n_vocab)
        return NULL;
    *len = t->piece_len[id];
    return t->arena + t->piece_off[id];
}

const char *qlm_tok_text(const qlm_tokenizer *t, int32_t id, size_t *len)
{
    if (id < 0 || (size_t)id >= t->n_vocab)
        return NULL;
    *len = t->text_len[id];
    return tok_text_ptr(t, id);
}
