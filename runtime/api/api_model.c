/* libqlm: version, errors, logging, ISA choice, model handle and its tokenizer. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "formats/common/mapfile.h"
#include "formats/qlm/keys.h"
#include "runtime/api/api_int.h"
#include "simd/kernels.h"

const char *qlm_version(void) { return QLM_VERSION_STRING; }
int qlm_version_number(void) { return QLM_VERSION_NUMBER; }
const char *qlm_strerror(qlm_status s) { return qlm_status_name(s); }
const char *qlm_last_error(void) { return qlm_errmsg(); }
void qlm_free(void *p) { free(p); }
void qlm_set_log_callback(qlm_log_fn fn, void *user) { qlm_log_set(fn, user); }

qlm_status qlm_api_check_size(size_t got, size_t min, size_t max, const char *what)
{
    if (got < min || got > max)
        return qlm_fail(QLM_E_ARG, "%s: size field is %zu, expected %zu (built against another qlm.h?)",
                        what, got, max);
    return QLM_OK;
}

qlm_status qlm_catch_sigbus(void) { return qlm_map_catch_sigbus(); }

qlm_status qlm_api_need_tok(const qlm_lm *lm, const char *fn)
{
    if (!lm)
        return qlm_fail(QLM_E_ARG, "%s: NULL model", fn);
    if (!lm->tok)
        return qlm_fail(QLM_E_MISSING, "%s: the model has no tokenizer", fn);
    return QLM_OK;
}

qlm_status qlm_api_need_weights(const qlm_lm *lm, const char *fn)
{
    if (!lm)
        return qlm_fail(QLM_E_ARG, "%s: NULL model", fn);
    if (!lm->model)
        return qlm_fail(QLM_E_MISSING, "%s: the model was opened vocab_only (no weights)", fn);
    return QLM_OK;
}

qlm_status qlm_set_isa(const char *name)
{
    if (!name)
        return qlm_fail(QLM_E_ARG, "qlm_set_isa: NULL name");
    return qlm_kernels_select(name);
}

const char *qlm_isa(void)
{
    const qlm_kernels *k = qlm_kernels_get();
    return k ? k->name : NULL;
}

qlm_lm_params qlm_lm_params_default(void) { return (qlm_lm_params){.size = sizeof(qlm_lm_params)}; }

/* The tokenizer: another file's, the .qlm's own, or none (a .qlm may have none). */
static qlm_status load_tok(qlm_lm *lm, const char *path, const qlm_lm_params *p)
{
    if (p->vocab_only || p->tokenizer)
        return qlm_tok_load_path(p->tokenizer ? p->tokenizer : path, &lm->tok);
    const qlm_file *f = qlm_model_file(lm->model);
    return qlm_meta_has(f, QLM_K_TOK_TOKENS) ? qlm_tok_load_qlm(f, &lm->tok) : QLM_OK;
}

qlm_status qlm_lm_open_params(const char *path, const qlm_lm_params *p, qlm_lm **out)
{
    if (!out)
        return qlm_fail(QLM_E_ARG, "qlm_lm_open: NULL out");
    *out = NULL;
    if (!path)
        return qlm_fail(QLM_E_ARG, "qlm_lm_open: NULL path");
    qlm_lm_params d = qlm_lm_params_default();
    if (!p)
        p = &d;
    qlm_status st = qlm_api_check_size(p->size, sizeof *p, sizeof *p, "qlm_lm_params");
    if (st != QLM_OK)
        return st;
    qlm_lm *lm = calloc(1, sizeof *lm);
    if (!lm)
        return qlm_fail(QLM_E_NOMEM, "out of memory opening %s", path);
    if (!p->vocab_only)
        st = qlm_model_open(path, &lm->model);
    if (st == QLM_OK)
        st = load_tok(lm, path, p);
    if (st == QLM_OK && lm->model && lm->tok &&
        qlm_tok_n_vocab(lm->tok) > (size_t)qlm_model_hparams(lm->model)->n_vocab)
        st = qlm_fail(QLM_E_SHAPE, "%s: tokenizer has %zu tokens, the model only %lld logits", path,
                      qlm_tok_n_vocab(lm->tok), (long long)qlm_model_hparams(lm->model)->n_vocab);
    if (st != QLM_OK) {
        qlm_lm_close(lm);
        return st;
    }
    *out = lm;
    return QLM_OK;
}

qlm_status qlm_lm_open(const char *path, qlm_lm **out) { return qlm_lm_open_params(path, NULL, out); }

void qlm_lm_close(qlm_lm *lm)
{
    if (!lm)
        return;
    qlm_tok_free(lm->tok);
    qlm_model_close(lm->model);
    free(lm);
}

static const char *arch_name(qlm_arch a)
{
    switch (a) {
    case QLM_ARCH_LLAMA: return "llama";
    case QLM_ARCH_QWEN2: return "qwen2";
    case QLM_ARCH_QWEN3: return "qwen3";
    }
    return "unknown";
}

qlm_status qlm_lm_get_info(const qlm_lm *lm, qlm_lm_info *info)
{
    if (!lm || !info)
        return qlm_fail(QLM_E_ARG, "qlm_lm_get_info: NULL %s", lm ? "info" : "model");
    /* 0.1's struct ended before has_weights; its fields are all written. */
    qlm_status st = qlm_api_check_size(info->size, offsetof(qlm_lm_info, has_weights), sizeof *info, "qlm_lm_info");
    if (st != QLM_OK)
        return st;
    qlm_lm_info v = {.size = info->size, .bos = -1, .eos = -1};
    if (lm->model) {
        const qlm_hparams *hp = qlm_model_hparams(lm->model);
        v.arch = arch_name(hp->arch);
        v.n_vocab = hp->n_vocab;
        v.dim = hp->dim;
        v.n_layers = hp->n_layers;
        v.n_heads = hp->n_heads;
        v.n_kv_heads = hp->n_kv_heads;
        v.head_dim = hp->head_dim;
        v.ffn = hp->ffn;
        v.ctx_max = hp->ctx_max;
        v.has_weights = 1;
    }
    if (lm->tok) {
        v.bos = qlm_tok_bos(lm->tok);
        v.eos = qlm_tok_eos(lm->tok);
        v.add_bos = qlm_tok_add_bos(lm->tok);
        v.chat_template = qlm_tok_chat_template(lm->tok);
        v.n_tokens = (int64_t)qlm_tok_n_vocab(lm->tok);
    }
    memcpy(info, &v, info->size);
    return QLM_OK;
}

qlm_status qlm_tokenize(const qlm_lm *lm, const char *text, size_t len, int add_bos, int parse_special,
                        int32_t **ids, size_t *n_ids)
{
    if (!lm || (!text && len) || !ids || !n_ids)
        return qlm_fail(QLM_E_ARG, "qlm_tokenize: NULL argument");
    qlm_status st = qlm_api_need_tok(lm, "qlm_tokenize");
    if (st != QLM_OK)
        return st;
    qlm_tok_encode_opts o = {.add_bos = add_bos < 0 ? qlm_tok_add_bos(lm->tok) : add_bos != 0,
                             .parse_special = parse_special != 0};
    return qlm_tok_encode(lm->tok, text ? text : "", len, &o, ids, n_ids);
}

qlm_status qlm_detokenize(const qlm_lm *lm, const int32_t *ids, size_t n, char **text, size_t *len)
{
    if (!lm || (!ids && n) || !text || !len)
        return qlm_fail(QLM_E_ARG, "qlm_detokenize: NULL argument");
    qlm_status st = qlm_api_need_tok(lm, "qlm_detokenize");
    return st != QLM_OK ? st : qlm_tok_decode(lm->tok, ids, n, text, len);
}

int qlm_is_eog(const qlm_lm *lm, int32_t id) { return lm && lm->tok && qlm_tok_is_eog(lm->tok, id); }

const char *qlm_token_text(const qlm_lm *lm, int32_t id, size_t *len)
{
    if (!len)
        return qlm_fail(QLM_E_ARG, "qlm_token_text: NULL len"), NULL;
    if (qlm_api_need_tok(lm, "qlm_token_text") != QLM_OK)
        return NULL;
    if (id < 0 || (size_t)id >= qlm_tok_n_vocab(lm->tok))
        return qlm_fail(QLM_E_ARG, "qlm_token_text: id %d is not in the vocabulary (%zu tokens)", (int)id,
                        qlm_tok_n_vocab(lm->tok)), NULL;
    return qlm_tok_text(lm->tok, id, len);
}
