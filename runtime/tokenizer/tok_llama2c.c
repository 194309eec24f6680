/* llama2.c tokenizer .bin (export of a SentencePiece model by llama2.c's
 * tokenizer.py):
 *   int32 max_token_length
 *   per token: f32 score, int32 length, `length` bytes
 * until the end of the file; the vocabulary size is the number of records.
 * The export replaced "▁" by " " and wrote BOS/EOS as "\n<s>\n" / "\n</s>\n";
 * we undo both so the vocabulary reads exactly as sentencepiece's. Ids 0, 1,
 * 2 are <unk>, <s>, </s> (sentencepiece's defaults, which llama2.c assumes).
 */
#include <stdlib.h>
#include <string.h>

#include "formats/common/mapfile.h"
#include "runtime/tokenizer/tok_internal.h"

typedef struct {
    char **tokens;
    size_t *lens;
    float *scores;
    uint8_t *types;
    size_t n;
} l2c_vocab;

static void l2c_free(l2c_vocab *v)
{
    for (size_t i = 0; v->tokens && i < v->n; i++)
        free(v->tokens[i]);
    free(v->tokens);
    free(v->lens);
    free(v->scores);
    free(v->types);
}

static int32_t rd_i32(const uint8_t *p)
{
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    int32_t v;
    memcpy(&v, &u, 4);
    return v;
}

/* Counts the records, checking every length against the file. */
static qlm_status l2c_count(const char *path, const qlm_map *m, size_t *n)
{
    if (m->size < 4)
        return qlm_fail(QLM_E_TRUNCATED, "%s: llama2.c tokenizer shorter than its header", path);
    int32_t max_len = rd_i32(m->data);
    if (max_len <= 0 || (uint32_t)max_len > TOK_MAX_TOKEN_BYTES)
        return qlm_fail(QLM_E_VALUE, "%s: max_token_length %d out of range", path, (int)max_len);
    size_t at = 4, count = 0;
    while (at < m->size) {
        if (m->size - at < 8)
            return qlm_fail(QLM_E_TRUNCATED, "%s: token %zu: record header cut at byte %zu", path, count, at);
        int32_t len = rd_i32(m->data + at + 4);
        if (len < 0 || len > max_len)
            return qlm_fail(QLM_E_VALUE, "%s: token %zu: length %d outside 0..max_token_length %d", path,
                            count, (int)len, (int)max_len);
        if ((size_t)len > m->size - at - 8)
            return qlm_fail(QLM_E_TRUNCATED, "%s: token %zu: %d bytes past the end of the file", path,
                            count, (int)len);
        at += 8 + (size_t)len;
        if (++count > TOK_MAX_VOCAB)
            return qlm_fail(QLM_E_LIMIT, "%s: more than %u tokens", path, TOK_MAX_VOCAB);
    }
    if (count < 3)
        return qlm_fail(QLM_E_TOKENIZER, "%s: %zu tokens; a llama2.c vocabulary starts with <unk> <s> </s>",
                        path, count);
    *n = count;
    return QLM_OK;
}

/* Token text in sentencepiece form: ' ' -> "▁" (3 bytes each). */
static char *l2c_text(const uint8_t *s, size_t n, size_t *out_len)
{
    char *d = malloc(3 * n + 1);
    if (!d)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ') {
            memcpy(d + k, "\xE2\x96\x81", 3);
            k += 3;
        } else {
            d[k++] = (char)s[i];
        }
    }
    d[k] = 0;
    *out_len = k;
    return d;
}

static qlm_status l2c_read(const char *path, const qlm_map *m, l2c_vocab *v)
{
    qlm_status st = l2c_count(path, m, &v->n);
    if (st)
        return st;
    v->tokens = calloc(v->n, sizeof *v->tokens);
    v->lens = malloc(v->n * sizeof *v->lens);
    v->scores = malloc(v->n * sizeof *v->scores);
    v->types = malloc(v->n);
    if (!v->tokens || !v->lens || !v->scores || !v->types)
        return qlm_fail(QLM_E_NOMEM, "%s: out of memory for %zu tokens", path, v->n);
    size_t at = 4;
    for (size_t i = 0; i < v->n; i++) {
        memcpy(&v->scores[i], m->data + at, 4);
        size_t len = (size_t)rd_i32(m->data + at + 4);
        const uint8_t *s = m->data + at + 8;
        at += 8 + len;
        if (v->scores[i] != v->scores[i])
            return qlm_fail(QLM_E_VALUE, "%s: token %zu has a NaN score", path, i);
        v->types[i] = i == 0 ? TT_UNKNOWN : i <= 2 ? TT_CONTROL
                    : tok_byte_piece_value((const char *)s, len) >= 0 ? TT_BYTE : TT_NORMAL;
        if (i == 1 && len == 5 && memcmp(s, "\n<s>\n", 5) == 0)
            s++, len -= 2;
        if (i == 2 && len == 6 && memcmp(s, "\n</s>\n", 6) == 0)
            s++, len -= 2;
        if (!(v->tokens[i] = l2c_text(s, len, &v->lens[i])))
            return qlm_fail(QLM_E_NOMEM, "%s: out of memory", path);
    }
    return QLM_OK;
}

qlm_status tok_load_llama2c(const char *path, qlm_tokenizer **out)
{
    qlm_map m;
    qlm_status st = qlm_map_open(path, &m);
    if (st)
        return st;
    l2c_vocab v = {0};
    st = l2c_read(path, &m, &v);
    qlm_map_close(&m);
    if (!st) {
        tok_build b;
        tok_build_init(&b, TOK_SPM);
        b.origin = path;
        b.n_vocab = v.n;
        b.tokens = (const char *const *)v.tokens;
        b.token_lens = v.lens;
        b.scores = v.scores;
        b.types = v.types;
        b.unk = 0;
        b.bos = 1;
        b.eos = 2;
        b.add_bos = true;
        b.add_space_prefix = true;
        b.byte_fallback = true;
        st = tok_build_finish(&b, out);
    }
    l2c_free(&v);
    return st;
}
