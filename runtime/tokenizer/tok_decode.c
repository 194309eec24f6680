/* Decoding: concatenate the tokens' pieces (byte-level alphabet or "▁"
 * already undone at load time), then make the bytes valid UTF-8 the way the
 * references do (Rust's from_utf8_lossy in HF tokenizers, Python's
 * errors="replace"): each maximal ill-formed subsequence becomes one U+FFFD.
 *
 * SentencePiece leading-space rule: the dummy prefix of the first token is
 * dropped ("▁Hello" -> "Hello") when the vocabulary adds one. Only the very
 * first token of a sequence counts, as in the Hugging Face decoder (Strip one
 * leading space): after a BOS the space stays ("<s> Hello").
 *
 * The streaming decoder holds back the bytes of an unfinished character
 * (at most 3), so concatenating everything it writes, plus the flush, equals
 * qlm_tok_decode() of the same ids.
 */
#include <stdlib.h>
#include <string.h>

#include "formats/common/utf8.h"
#include "runtime/tokenizer/tok_internal.h"

#define REPL "\xEF\xBF\xBD"

static const char *decode_piece(const qlm_tokenizer *t, int32_t id, bool first, size_t *len)
{
    const char *p = qlm_tok_piece(t, id, len);
    if (p && first && t->kind == TOK_SPM && t->add_space_prefix && t->types[id] == TT_NORMAL && *len > 0 &&
        p[0] == ' ') {
        p++;
        (*len)--;
    }
    return p;
}

/* Writes s[0..n) as valid UTF-8 into out (room for 3n bytes). Unless final,
 * an unfinished character at the end is not written: *held gets its length. */
static size_t repair(const char *s, size_t n, bool final, char *out, size_t *held)
{
    size_t tail = final ? 0 : utf8_incomplete_tail(s, n), k = 0;
    n -= tail;
    for (size_t i = 0; i < n;) {
        size_t cl = utf8_char_len(s + i, n - i);
        if (cl) {
            memcpy(out + k, s + i, cl);
            k += cl;
            i += cl;
        } else {
            memcpy(out + k, REPL, 3);
            k += 3;
            i += utf8_invalid_len(s + i, n - i);
        }
    }
    if (held)
        *held = tail;
    return k;
}

qlm_status qlm_tok_decode(const qlm_tokenizer *t, const int32_t *ids, size_t n, char **out, size_t *len)
{
    size_t total = 0;
    *out = NULL;
    *len = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || (size_t)ids[i] >= t->n_vocab)
            return qlm_fail(QLM_E_VALUE, "decode: token id %d at position %zu outside the vocabulary (%zu)",
                            (int)ids[i], i, t->n_vocab);
        total += t->piece_len[ids[i]];
    }
    char *raw = malloc(total + 1), *res = malloc(3 * total + 1);
    if (!raw || !res) {
        free(raw);
        free(res);
        return qlm_fail(QLM_E_NOMEM, "decode: out of memory for %zu bytes", total);
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        size_t pl;
        const char *p = decode_piece(t, ids[i], i == 0, &pl);
        memcpy(raw + k, p, pl);
        k += pl;
    }
    size_t m = repair(raw, k, true, res, NULL);
    free(raw);
    res[m] = 0;
    *out = res;
    *len = m;
    return QLM_OK;
}

void qlm_detok_init(qlm_detok_stream *s)
{
    memset(s, 0, sizeof *s);
}

size_t qlm_detok_push(const qlm_tokenizer *t, qlm_detok_stream *s, int32_t id, char *out, size_t cap)
{
    size_t pl, written = 0;
    const char *p = decode_piece(t, id, s->n_tokens == 0, &pl);
    if (!p)
        return 0;
    s->n_tokens++;
    /* Work through pending + piece in chunks; each chunk's unfinished tail
     * (<= 3 bytes) moves to the front of the next. */
    char buf[128];
    size_t nb = s->n_pending;
    memcpy(buf, s->pending, nb);
    size_t at = 0;
    for (;;) {
        size_t take = pl - at < sizeof buf - nb ? pl - at : sizeof buf - nb;
        memcpy(buf + nb, p + at, take);
        at += take;
        nb += take;
        if (3 * nb > cap - written)
            break; /* caller's buffer too small (see tokenizer.h): drop the rest */
        size_t held;
        written += repair(buf, nb, false, out + written, &held);
        memmove(buf, buf + nb - held, held);
        nb = held;
        if (at == pl)
            break;
    }
    memcpy(s->pending, buf, nb < sizeof s->pending ? nb : sizeof s->pending);
    s->n_pending = nb < sizeof s->pending ? nb : 0;
    return written;
}

size_t qlm_detok_flush(qlm_detok_stream *s, char *out, size_t cap)
{
    size_t n = 0;
    if (s->n_pending && 3 * s->n_pending <= cap)
        n = repair(s->pending, s->n_pending, true, out, NULL);
    s->n_pending = 0;
    return n;
}
