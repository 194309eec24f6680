/* A .qlm tokenizer (formats/qlm/keys.h) as llama.cpp's tokenizer.ggml.* keys,
 * the inverse of runtime/tokenizer/tok_gguf.c: "bpe" is llama.cpp's "gpt2"
 * model, "spm" its "llama" model. What GGUF derives from tokenizer.ggml.pre
 * (NFC for qwen2, ignore_merges for llama-bpe) is not written. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/qlm/keys.h"
#include "tools/qlm2gguf/q2g.h"

#define KT "tokenizer.ggml."
#define TT_UNUSED 5 /* llama.cpp's and qlm's token type of padding */

typedef struct {
    const qlm_file *f;
    ggufw *w;
    uint64_t n;      /* tokens in the .qlm */
    uint64_t n_rows; /* tokens in the GGUF */
    bool bpe;
} tctx;

static qlm_status model(tctx *c)
{
    const char *s;
    size_t len;
    if (!qlm_meta_has(c->f, QLM_K_TOK_MODEL))
        return qlm_fail(QLM_E_MISSING, "the model has no tokenizer (%s), which llama.cpp needs", QLM_K_TOK_MODEL);
    qlm_status st = qlm_meta_str(c->f, QLM_K_TOK_MODEL, &s, &len);
    if (st)
        return st;
    c->bpe = len == 3 && !memcmp(s, "bpe", 3);
    if (!c->bpe && !(len == 3 && !memcmp(s, "spm", 3)))
        return qlm_fail(QLM_E_UNSUPPORTED, "%s \"%.*s\" (bpe or spm)", QLM_K_TOK_MODEL, (int)(len > 32 ? 32 : len), s);
    return ggufw_str(c->w, KT "model", c->bpe ? "gpt2" : "llama", c->bpe ? 4 : 5);
}

/* A string array copied element by element, then `pad` "[PAD<id>]" entries. */
static qlm_status strings(tctx *c, const char *from, const char *to, uint64_t count, uint64_t pad)
{
    qlm_status st = ggufw_arr_str_begin(c->w, to, count + pad);
    for (uint64_t i = 0; i < count && !st; i++) {
        const char *s;
        size_t len;
        if (!(st = qlm_meta_str_at(c->f, from, i, &s, &len)))
            st = ggufw_arr_str_elem(c->w, s, len);
    }
    for (uint64_t i = count; i < count + pad && !st; i++) {
        char s[32];
        st = ggufw_arr_str_elem(c->w, s, (size_t)snprintf(s, sizeof s, "[PAD%llu]", (unsigned long long)i));
    }
    return st;
}

/* A per-token array of 4-byte `elem` values, padded to n_rows with `fill`. */
static qlm_status per_token(tctx *c, const char *from, const char *to, qlm_meta_type elem, gguf_vtype gelem,
                            uint32_t fill)
{
    qlm_meta_type e;
    uint64_t count;
    const void *d;
    qlm_status st = qlm_meta_array(c->f, from, &e, &count, &d);
    if (st)
        return st;
    if (e != elem || count != c->n)
        return qlm_fail(QLM_E_VALUE, "metadata %s: %llu elements of type %s for %llu tokens (want %s)", from,
                        (unsigned long long)count, qlm_meta_type_name(e), (unsigned long long)c->n,
                        qlm_meta_type_name(elem));
    uint32_t *v = malloc((size_t)c->n_rows * sizeof *v);
    if (!v)
        return qlm_fail(QLM_E_NOMEM, "out of memory for %s", to);
    memcpy(v, d, (size_t)count * sizeof *v); /* both little-endian */
    for (uint64_t i = count; i < c->n_rows; i++)
        v[i] = fill;
    st = ggufw_arr(c->w, to, gelem, c->n_rows, v);
    free(v);
    return st;
}

static qlm_status vocab(tctx *c)
{
    qlm_status st = qlm_meta_str_array_len(c->f, QLM_K_TOK_TOKENS, &c->n);
    if (st)
        return st;
    if (c->n == 0 || c->n > c->n_rows)
        return qlm_fail(QLM_E_SHAPE, "the tokenizer has %llu tokens for %llu embedding rows", (unsigned long long)c->n,
                        (unsigned long long)c->n_rows);
    float zero = 0;
    uint32_t zero_bits;
    memcpy(&zero_bits, &zero, 4);
    if ((st = strings(c, QLM_K_TOK_TOKENS, KT "tokens", c->n, c->n_rows - c->n)) ||
        (st = per_token(c, QLM_K_TOK_TYPES, KT "token_type", QLM_MT_I32, GGUF_T_I32, TT_UNUSED)))
        return st;
    if (qlm_meta_has(c->f, QLM_K_TOK_SCORES) &&
        (st = per_token(c, QLM_K_TOK_SCORES, KT "scores", QLM_MT_F32, GGUF_T_F32, zero_bits)))
        return st;
    if (!c->bpe)
        return QLM_OK;
    uint64_t n_merges;
    if ((st = qlm_meta_str_array_len(c->f, QLM_K_TOK_MERGES, &n_merges)))
        return st;
    return strings(c, QLM_K_TOK_MERGES, KT "merges", n_merges, 0);
}

static qlm_status copy_str(tctx *c, const char *from, const char *to)
{
    const char *s;
    size_t len;
    if (!qlm_meta_has(c->f, from))
        return QLM_OK;
    qlm_status st = qlm_meta_str(c->f, from, &s, &len);
    return st ? st : ggufw_str(c->w, to, s, len);
}

static qlm_status copy_bool(tctx *c, const char *from, const char *to)
{
    bool v;
    if (!qlm_meta_has(c->f, from))
        return QLM_OK;
    qlm_status st = qlm_meta_bool(c->f, from, &v);
    return st ? st : ggufw_bool(c->w, to, v);
}

/* A special-token id; absent or -1 (none) writes nothing. */
static qlm_status copy_id(tctx *c, const char *from, const char *to)
{
    int64_t v = qlm_meta_i64_or(c->f, from, -1);
    if (v == -1)
        return QLM_OK;
    if (v < 0 || (uint64_t)v >= c->n)
        return qlm_fail(QLM_E_VALUE, "metadata %s = %lld is outside the %llu tokens", from, (long long)v,
                        (unsigned long long)c->n);
    return ggufw_u32(c->w, to, (uint32_t)v);
}

/* GGUF has one end-of-turn id beside EOS: the first end-of-generation id
 * that is not EOS (llama.cpp also finds the others by their text). */
static qlm_status eot(tctx *c)
{
    qlm_meta_type e;
    uint64_t count;
    const void *d;
    if (!qlm_meta_has(c->f, QLM_K_TOK_EOG))
        return QLM_OK;
    qlm_status st = qlm_meta_array(c->f, QLM_K_TOK_EOG, &e, &count, &d);
    if (st)
        return st;
    if (e != QLM_MT_I64)
        return qlm_fail(QLM_E_VALUE, "metadata %s is an array of %s (want i64)", QLM_K_TOK_EOG, qlm_meta_type_name(e));
    int64_t eos = qlm_meta_i64_or(c->f, QLM_K_TOK_EOS, -1);
    for (uint64_t i = 0; i < count; i++) {
        int64_t v;
        memcpy(&v, (const uint8_t *)d + 8 * i, 8);
        if (v < 0 || (uint64_t)v >= c->n)
            return qlm_fail(QLM_E_VALUE, "metadata %s[%llu] = %lld is outside the %llu tokens", QLM_K_TOK_EOG,
                            (unsigned long long)i, (long long)v, (unsigned long long)c->n);
        if (v != eos)
            return ggufw_u32(c->w, KT "eot_token_id", (uint32_t)v);
    }
    return QLM_OK;
}

qlm_status q2g_tokenizer(const qlm_file *f, uint64_t n_rows, ggufw *w)
{
    tctx c = {f, w, 0, n_rows, false};
    qlm_status st;
    if ((st = model(&c)) || (st = vocab(&c)) || (c.bpe && (st = copy_str(&c, QLM_K_TOK_PRE, KT "pre"))) ||
        (st = copy_id(&c, QLM_K_TOK_BOS, KT "bos_token_id")) || (st = copy_id(&c, QLM_K_TOK_EOS, KT "eos_token_id")) ||
        (st = copy_id(&c, QLM_K_TOK_UNK, KT "unknown_token_id")) ||
        (st = copy_id(&c, QLM_K_TOK_PAD, KT "padding_token_id")) || (st = eot(&c)) ||
        (st = copy_bool(&c, QLM_K_TOK_ADD_BOS, KT "add_bos_token")) ||
        (st = copy_bool(&c, QLM_K_TOK_ADD_EOS, KT "add_eos_token")) ||
        (!c.bpe && (st = copy_bool(&c, QLM_K_TOK_ADD_PREFIX, KT "add_space_prefix"))))
        return st;
    return copy_str(&c, QLM_K_CHAT_TEMPLATE, "tokenizer.chat_template");
}
