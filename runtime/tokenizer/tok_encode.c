/* qlm_tok_encode(): split added tokens out of the text, hand each plain
 * fragment to the model's encoder (byte-level BPE or SentencePiece BPE).
 *
 * Added-token matching follows Hugging Face: at each position the longest
 * added token that starts there wins, scanning left to right. Tokens marked
 * special (control/unknown types) are matched only with parse_special, so a
 * user typing "<|im_end|>" cannot end a turn; non-special added tokens (user
 * type, e.g. Qwen3's "<think>") are always matched, as Hugging Face and
 * llama.cpp do.
 *
 * SentencePiece fragments get the dummy "▁" prefix when they start the text
 * or follow an added token (llama.cpp's rule; sentencepiece itself does not
 * split added tokens out).
 */
#include <stdlib.h>
#include <string.h>

#include "runtime/tokenizer/bpe.h"
#include "runtime/tokenizer/tok_internal.h"

static int32_t match_added(const qlm_tokenizer *t, const char *s, size_t n, bool parse_special, size_t *mlen)
{
    unsigned c = (unsigned char)s[0];
    for (uint32_t k = t->added_start[c]; k < t->added_start[c + 1]; k++) {
        int32_t id = t->added[k];
        size_t len = t->text_len[id];
        if (!parse_special && t->types[id] != TT_USER)
            continue;
        if (len <= n && memcmp(s, tok_text_ptr(t, id), len) == 0) {
            *mlen = len;
            return id;
        }
    }
    return -1;
}

/* Every plain fragment starts the text or follows an added token, so a
 * SentencePiece fragment always gets the dummy prefix (when the model has one). */
static qlm_status encode_plain(const qlm_tokenizer *t, const char *s, size_t n, tok_ids *out)
{
    if (n == 0)
        return QLM_OK;
    if (t->kind == TOK_SPM)
        return spm_encode(t, s, n, true, out);
    return qlm_bpe_encode(t->bpe, s, n, &out->v, &out->n, &out->cap);
}

static qlm_status encode_all(const qlm_tokenizer *t, const char *text, size_t len, const qlm_tok_encode_opts *o,
                             tok_ids *out)
{
    qlm_status st;
    if (o->add_bos && t->bos >= 0 && (st = tok_ids_push(out, t->bos)))
        return st;
    size_t seg = 0;
    for (size_t i = 0; i < len;) {
        unsigned c = (unsigned char)text[i];
        size_t mlen;
        int32_t id;
        if (t->added_start[c] == t->added_start[c + 1] ||
            (id = match_added(t, text + i, len - i, o->parse_special, &mlen)) < 0) {
            i++;
            continue;
        }
        if ((st = encode_plain(t, text + seg, i - seg, out)))
            return st;
        if ((st = tok_ids_push(out, id)))
            return st;
        i += mlen;
        seg = i;
    }
    return encode_plain(t, text + seg, len - seg, out);
}

qlm_status qlm_tok_encode(const qlm_tokenizer *t, const char *text, size_t len, const qlm_tok_encode_opts *opts,
                          int32_t **ids, size_t *n_ids)
{
    qlm_tok_encode_opts def = {t->add_bos, false};
    tok_ids out = {0};
    *ids = NULL;
    *n_ids = 0;
    qlm_status st = encode_all(t, text, len, opts ? opts : &def, &out);
    if (!st && !out.v && !(out.v = malloc(sizeof *out.v)))
        st = qlm_fail(QLM_E_NOMEM, "tokenizer: out of memory");
    if (st) {
        free(out.v);
        return st;
    }
    *ids = out.v;
    *n_ids = out.n;
    return QLM_OK;
}
