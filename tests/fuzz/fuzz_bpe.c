/* libFuzzer target: byte-level BPE on arbitrary bytes, invalid UTF-8
 * included, with every pre-tokenizer. Must never crash; every id must be in
 * the vocabulary; for valid UTF-8 (no normalizer) the tokens must spell the
 * input back exactly; otherwise what they spell must be valid UTF-8.
 *
 * The vocabulary is synthetic but shaped like a real one: the 256
 * byte-level characters, then tokens made by merging earlier tokens in a
 * fixed pseudo-random order (so merge chains are several levels deep). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "formats/common/utf8.h"
#include "runtime/tokenizer/bpe.h"
#include "runtime/tokenizer/pretok.h"

#define N_MERGES 2000
#define N_VOCAB_MAX (256 + N_MERGES)
#define N_PRE 16

static char *tok[N_VOCAB_MAX], *mer[N_MERGES];
static size_t tok_len[N_VOCAB_MAX], mer_len[N_MERGES], n_tok, n_mer;
static qlm_bpe *bpe[N_PRE][2]; /* [pre-tokenizer][NFC] */
static size_t n_pre;

static char *cat(const char *a, size_t la, const char *b, size_t lb, char sep, size_t *len)
{
    char *s = malloc(la + lb + 2);
    if (!s)
        abort();
    memcpy(s, a, la);
    size_t n = la;
    if (sep)
        s[n++] = sep;
    memcpy(s + n, b, lb);
    *len = n + lb;
    return s;
}

static bool known(const char *s, size_t len)
{
    for (size_t i = 0; i < n_tok; i++)
        if (tok_len[i] == len && !memcmp(tok[i], s, len))
            return true;
    return false;
}

static void build(void)
{
    for (unsigned b = 0; b < 256; b++) {
        tok[n_tok] = malloc(4);
        tok_len[n_tok] = utf8_encode(qlm_bpe_byte_to_cp((uint8_t)b), tok[n_tok]);
        n_tok++;
    }
    uint32_t x = 12345;
    while (n_mer < N_MERGES) {
        x = x * 1103515245u + 12345u;
        /* favour ASCII letters and space (bytes 0x41..0x7A and Ġ) as real vocabularies do */
        size_t a = (x >> 8) % 4 ? 0x41 + (x >> 12) % 58 : (x >> 12) % n_tok;
        size_t b = (x >> 20) % 4 ? 0x61 + (x >> 24) % 26 : (x >> 16) % n_tok;
        if ((x >> 28) % 8 == 0)
            a = 0x20; /* Ġ */
        size_t len;
        char *t = cat(tok[a], tok_len[a], tok[b], tok_len[b], 0, &len);
        if (len > 24 || known(t, len)) {
            free(t);
            continue;
        }
        tok[n_tok] = t;
        tok_len[n_tok++] = len;
        mer[n_mer] = cat(tok[a], tok_len[a], tok[b], tok_len[b], ' ', &mer_len[n_mer]);
        n_mer++;
    }
    for (n_pre = 0; qlm_pretok_name(n_pre) && n_pre < N_PRE; n_pre++)
        for (int nfc = 0; nfc < 2; nfc++) {
            if (qlm_bpe_new((const char *const *)tok, tok_len, n_tok, (const char *const *)mer, mer_len, n_mer,
                            qlm_pretok_name(n_pre), &bpe[n_pre][nfc]) ||
                qlm_bpe_set_normalizer(bpe[n_pre][nfc], nfc ? "NFC" : NULL))
                abort();
            qlm_bpe_set_ignore_merges(bpe[n_pre][nfc], n_pre % 2);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!n_tok)
        build();
    if (size < 1)
        return 0;
    const qlm_bpe *b = bpe[data[0] % n_pre][(data[0] >> 7) & 1];
    bool nfc = (data[0] >> 7) & 1;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    int32_t *ids = NULL;
    size_t n = 0, cap = 0;
    if (qlm_bpe_encode(b, text, len, &ids, &n, &cap))
        abort();
    char *out = malloc(n * 24 + 1), *o = out;
    if (!out)
        abort();
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || (size_t)ids[i] >= n_tok)
            abort();
        const char *s = tok[ids[i]];
        size_t adv;
        for (size_t k = 0; k < tok_len[ids[i]]; k += adv) {
            int byte = qlm_bpe_cp_to_byte(utf8_decode(s + k, tok_len[ids[i]] - k, &adv));
            if (byte < 0)
                abort();
            *o++ = (char)byte;
        }
    }
    size_t out_len = (size_t)(o - out);
    if (!utf8_valid(out, out_len))
        abort();
    if (!nfc && utf8_valid(text, len) && (out_len != len || memcmp(out, text, len)))
        abort();
    free(out);
    free(ids);
    return 0;
}
