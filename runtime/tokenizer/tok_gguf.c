/* Tokenizer from a GGUF's tokenizer.ggml.* metadata (a vocabulary-only GGUF
 * is enough): model "llama" = SentencePiece BPE, "gpt2" = byte-level BPE.
 *
 * What GGUF does not say but the original Hugging Face tokenizer does, we
 * derive as llama.cpp does: pre "llama-bpe" uses ignore_merges; pre "qwen2"
 * (Qwen2/2.5/3) normalizes to NFC, which their tokenizer.json specifies.
 */
#include <stdlib.h>
#include <string.h>

#include "formats/gguf/gguf.h"
#include "runtime/tokenizer/tok_internal.h"

#define KT "tokenizer.ggml."

typedef struct {
    const char *path;
    gguf_file *g;
    const char **tokens;
    size_t *lens;
    float *scores;
    uint8_t *types;
    const char **merges;
    size_t *merge_lens;
    int32_t eog[2];
    char pre[64];
    tok_build b;
} gg_ctx;

static void gg_free(gg_ctx *c)
{
    free(c->tokens);
    free(c->lens);
    free(c->scores);
    free(c->types);
    free(c->merges);
    free(c->merge_lens);
    gguf_close(c->g);
}

/* A string array of at most TOK_MAX_VOCAB entries (absent: *n = 0). */
static qlm_status gg_strings(gg_ctx *c, const char *key, const char ***strs, size_t **lens, size_t *n)
{
    gguf_vtype elem;
    uint64_t count;
    *n = 0;
    if (!gguf_has(c->g, key))
        return QLM_OK;
    qlm_status st = gguf_get_arr_info(c->g, key, &elem, &count);
    if (st)
        return st;
    if (elem != GGUF_T_STRING || count > 4 * (uint64_t)TOK_MAX_VOCAB)
        return qlm_fail(QLM_E_TOKENIZER, "%s: %s: not a string array of sane length", c->path, key);
    *strs = malloc((count ? count : 1) * sizeof **strs);
    *lens = malloc((count ? count : 1) * sizeof **lens);
    if (!*strs || !*lens)
        return qlm_fail(QLM_E_NOMEM, "%s: out of memory for %s", c->path, key);
    for (uint64_t i = 0; i < count; i++)
        if ((st = gguf_get_arr_str(c->g, key, i, &(*strs)[i], &(*lens)[i])))
            return st;
    *n = (size_t)count;
    return QLM_OK;
}

/* Numeric per-token array (scores, token_type): absent is fine, a wrong
 * length is not. */
static qlm_status gg_per_token(gg_ctx *c, const char *key, bool as_float)
{
    gguf_vtype elem;
    uint64_t count;
    if (!gguf_has(c->g, key))
        return QLM_OK;
    qlm_status st = gguf_get_arr_info(c->g, key, &elem, &count);
    if (st)
        return st;
    if (count != c->b.n_vocab)
        return qlm_fail(QLM_E_TOKENIZER, "%s: %s has %llu entries for %zu tokens", c->path, key,
                        (unsigned long long)count, c->b.n_vocab);
    if (as_float ? !(c->scores = malloc(count * sizeof *c->scores)) : !(c->types = malloc(count)))
        return qlm_fail(QLM_E_NOMEM, "%s: out of memory for %s", c->path, key);
    for (uint64_t i = 0; i < count; i++) {
        double d;
        int64_t v;
        if (as_float) {
            if ((st = gguf_get_arr_f64(c->g, key, i, &d)))
                return st;
            c->scores[i] = (float)d;
        } else {
            if ((st = gguf_get_arr_i64(c->g, key, i, &v)))
                return st;
            if (v < TT_NORMAL || v > TT_BYTE)
                return qlm_fail(QLM_E_TOKENIZER, "%s: %s[%llu] = %lld (want 1..6)", c->path, key,
                                (unsigned long long)i, (long long)v);
            c->types[i] = (uint8_t)v;
        }
    }
    return QLM_OK;
}

static int32_t gg_id(gg_ctx *c, const char *key)
{
    int64_t v;
    if (gguf_get_i64(c->g, key, &v) || v < 0 || v >= (int64_t)c->b.n_vocab)
        return -1;
    return (int32_t)v;
}

static bool gg_bool(gg_ctx *c, const char *key, bool def)
{
    bool v;
    return gguf_get_bool(c->g, key, &v) ? def : v;
}

static qlm_status gg_kind(gg_ctx *c)
{
    const char *model;
    size_t len;
    qlm_status st = gguf_get_str(c->g, KT "model", &model, &len);
    if (st)
        return qlm_fail_context(st, "%s: no tokenizer", c->path);
    if (len == 5 && memcmp(model, "llama", 5) == 0)
        tok_build_init(&c->b, TOK_SPM);
    else if (len == 4 && memcmp(model, "gpt2", 4) == 0)
        tok_build_init(&c->b, TOK_BPE);
    else
        return qlm_fail(QLM_E_UNSUPPORTED, "%s: tokenizer.ggml.model \"%.*s\" (supported: llama, gpt2)", c->path,
                        (int)(len < 64 ? len : 64), model);
    c->b.origin = c->path;
    return QLM_OK;
}

/* Pre-tokenizer name (NUL-terminated copy) and what it implies. */
static qlm_status gg_pre(gg_ctx *c)
{
    const char *pre;
    size_t len;
    if (gguf_get_str(c->g, KT "pre", &pre, &len))
        pre = "default", len = 7;
    if (len >= sizeof c->pre)
        return qlm_fail(QLM_E_UNSUPPORTED, "%s: tokenizer.ggml.pre of %zu bytes", c->path, len);
    memcpy(c->pre, pre, len);
    c->pre[len] = 0;
    c->b.pre = c->pre;
    c->b.ignore_merges = strcmp(c->pre, "llama-bpe") == 0;
    c->b.normalizer = strcmp(c->pre, "qwen2") == 0 ? "NFC" : NULL;
    return QLM_OK;
}

static qlm_status gg_read(gg_ctx *c)
{
    qlm_status st = gg_kind(c);
    if (!st)
        st = gg_strings(c, KT "tokens", &c->tokens, &c->lens, &c->b.n_vocab);
    if (!st && c->b.n_vocab == 0)
        st = qlm_fail(QLM_E_MISSING, "%s: no tokenizer.ggml.tokens", c->path);
    if (!st)
        st = gg_per_token(c, KT "scores", true);
    if (!st)
        st = gg_per_token(c, KT "token_type", false);
    if (!st && c->b.kind == TOK_BPE)
        st = gg_strings(c, KT "merges", &c->merges, &c->merge_lens, &c->b.n_merges);
    if (st)
        return st;
    tok_build *b = &c->b;
    b->tokens = c->tokens;
    b->token_lens = c->lens;
    b->scores = c->scores;
    b->types = c->types;
    b->merges = c->merges;
    b->merge_lens = c->merge_lens;
    b->bos = gg_id(c, KT "bos_token_id");
    b->eos = gg_id(c, KT "eos_token_id");
    b->unk = gg_id(c, KT "unknown_token_id");
    b->pad = gg_id(c, KT "padding_token_id");
    c->eog[0] = gg_id(c, KT "eot_token_id");
    c->eog[1] = gg_id(c, KT "eom_token_id");
    b->eog = c->eog;
    b->n_eog = 2;
    b->add_bos = gg_bool(c, KT "add_bos_token", b->kind == TOK_SPM);
    b->add_eos = gg_bool(c, KT "add_eos_token", false);
    if (b->kind == TOK_SPM) {
        b->add_space_prefix = gg_bool(c, KT "add_space_prefix", true);
        for (size_t i = 0; c->types && i < b->n_vocab; i++)
            b->byte_fallback |= c->types[i] == TT_BYTE;
    } else {
        if ((st = gg_pre(c)))
            return st;
    }
    const char *tmpl;
    size_t tlen;
    if (!gguf_get_str(c->g, "tokenizer.chat_template", &tmpl, &tlen)) {
        b->chat_template = tmpl;
        b->chat_template_len = tlen;
    }
    return QLM_OK;
}

qlm_status tok_load_gguf(const char *path, qlm_tokenizer **out)
{
    gg_ctx c;
    memset(&c, 0, sizeof c);
    c.path = path;
    *out = NULL;
    qlm_status st = gguf_open(path, &c.g);
    if (!st)
        st = gg_read(&c);
    if (!st)
        st = tok_build_finish(&c.b, out);
    gg_free(&c);
    return st;
}
