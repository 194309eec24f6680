/* libqlm: version, errors, ISA choice, model handle and its tokenizer. */
#include <stdlib.h>
#include <string.h>

#include "formats/common/mapfile.h"
#include "runtime/api/api_int.h"
#include "simd/kernels.h"

const char *qlm_version(void) { return QLM_VERSION_STRING; }
int qlm_version_number(void) { return QLM_VERSION_NUMBER; }
const char *qlm_strerror(qlm_status s) { return qlm_status_name(s); }
const char *qlm_last_error(void) { return qlm_errmsg(); }
void qlm_free(void *p) { free(p); }

qlm_status qlm_api_check_size(size_t got, size_t min, size_t max, const char *what)
{
    if (got < min || got > max)
        return qlm_fail(QLM_E_ARG, "%s: size field is %zu, expected %zu (built against another qlm.h?)",
                        what, got, max);
    return QLM_OK;
}

qlm_status qlm_catch_sigbus(void) { return qlm_map_catch_sigbus(); }

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

qlm_status qlm_lm_open(const char *path, qlm_lm **out)
{
    if (!out)
        return qlm_fail(QLM_E_ARG, "qlm_lm_open: NULL out");
    *out = NULL;
    if (!path)
        return qlm_fail(QLM_E_ARG, "qlm_lm_open: NULL path");
    qlm_lm *lm = calloc(1, sizeof *lm);
    if (!lm)
        return qlm_fail(QLM_E_NOMEM, "out of memory opening %s", path);
    qlm_status st = qlm_model_open(path, &lm->model);
    if (st == QLM_OK)
        st = qlm_tok_load_qlm(qlm_model_file(lm->model), &lm->tok);
    if (st == QLM_OK && qlm_tok_n_vocab(lm->tok) > (size_t)qlm_model_hparams(lm->model)->n_vocab)
        st = qlm_fail(QLM_E_SHAPE, "%s: tokenizer has %zu tokens, the model only %lld logits", path,
                      qlm_tok_n_vocab(lm->tok), (long long)qlm_model_hparams(lm->model)->n_vocab);
    if (st != QLM_OK) {
        qlm_lm_close(lm);
        return st;
    }
    *out = lm;
    return QLM_OK;
}

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
    qlm_status st = qlm_api_check_size(info->size, sizeof *info, sizeof *info, "qlm_lm_info");
    if (st != QLM_OK)
        return st;
    const qlm_hparams *hp = qlm_model_hparams(lm->model);
    *info = (qlm_lm_info){.size = sizeof *info,
                          .arch = arch_name(hp->arch),
                          .n_vocab = hp->n_vocab,
                          .dim = hp->dim,
                          .n_layers = hp->n_layers,
                          .n_heads = hp->n_heads,
                          .n_kv_heads = hp->n_kv_heads,
                          .head_dim = hp->head_dim,
                          .ffn = hp->ffn,
                          .ctx_max = hp->ctx_max,
                          .bos = qlm_tok_bos(lm->tok),
                          .eos = qlm_tok_eos(lm->tok),
                          .add_bos = qlm_tok_add_bos(lm->tok),
                          .chat_template = qlm_tok_chat_template(lm->tok)};
    return QLM_OK;
}

qlm_status qlm_tokenize(const qlm_lm *lm, const char *text, size_t len, int add_bos, int parse_special,
                        int32_t **ids, size_t *n_ids)
{
    if (!lm || (!text && len) || !ids || !n_ids)
        return qlm_fail(QLM_E_ARG, "qlm_tokenize: NULL argument");
    qlm_tok_encode_opts o = {.add_bos = add_bos < 0 ? qlm_tok_add_bos(lm->tok) : add_bos != 0,
                             .parse_special = parse_special != 0};
    return qlm_tok_encode(lm->tok, text ? text : "", len, &o, ids, n_ids);
}

qlm_status qlm_detokenize(const qlm_lm *lm, const int32_t *ids, size_t n, char **text, size_t *len)
{
    if (!lm || (!ids && n) || !text || !len)
        return qlm_fail(QLM_E_ARG, "qlm_detokenize: NULL argument");
    return qlm_tok_decode(lm->tok, ids, n, text, len);
}

int qlm_is_eog(const qlm_lm *lm, int32_t id) { return lm && qlm_tok_is_eog(lm->tok, id); }
