/* llama2.c checkpoint (+ llama2.c tokenizer .bin) -> .qlm.
 *
 * llama2.c models are Llama models with llama2.c's fixed settings: RoPE theta
 * 10000, RMSNorm eps 1e-5, no scaling. The tensor list comes from the same
 * parameter list the Hugging Face reader uses (hfconfig.h), so both produce the
 * same names, shapes and order; Q/K rows are un-permuted into HF order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/convert/convert.h"
#include "formats/convert/hfconfig.h"
#include "formats/convert/srcutil.h"
#include "formats/llama2c/llama2c.h"
#include "runtime/tokenizer/tokenizer.h"

static void config_of(const l2c_config *lc, qlm_hfconfig *c)
{
    memset(c, 0, sizeof *c);
    c->arch = QLM_HF_LLAMA;
    c->vocab = lc->vocab_size;
    c->dim = lc->dim;
    c->ffn = lc->hidden_dim;
    c->layers = lc->n_layers;
    c->heads = lc->n_heads;
    c->heads_kv = lc->n_kv_heads;
    c->head_dim = lc->head_dim;
    c->ctx = lc->seq_len;
    c->norm_eps = 1e-5;      /* llama2.c model.py ModelArgs.norm_eps */
    c->rope_theta = 10000.0; /* llama2.c run.c */
    c->rope = QLM_ROPE_NONE;
    c->tied = lc->shared_classifier;
}

/* The llama2.c array and layer behind a qlm tensor name. */
static qlm_status source_of(const char *name, l2c_array *arr, uint32_t *layer)
{
    static const struct { const char *suffix; l2c_array arr; } per_layer[] = {
        {"attn_norm.weight", L2C_RMS_ATT}, {"attn_q.weight", L2C_WQ},    {"attn_k.weight", L2C_WK},
        {"attn_v.weight", L2C_WV},         {"attn_output.weight", L2C_WO}, {"ffn_norm.weight", L2C_RMS_FFN},
        {"ffn_gate.weight", L2C_W1},       {"ffn_up.weight", L2C_W3},   {"ffn_down.weight", L2C_W2},
    };
    *layer = 0;
    if (!strcmp(name, "token_embd.weight"))
        *arr = L2C_EMBED;
    else if (!strcmp(name, "output_norm.weight"))
        *arr = L2C_RMS_FINAL;
    else if (!strcmp(name, "output.weight"))
        *arr = L2C_WCLS;
    else {
        int n = 0;
        if (sscanf(name, "blk.%u.%n", layer, &n) != 1 || n == 0)
            return qlm_fail(QLM_E_UNSUPPORTED, "llama2c: no source for tensor %s", name);
        for (size_t i = 0; i < sizeof per_layer / sizeof per_layer[0]; i++)
            if (!strcmp(name + n, per_layer[i].suffix)) {
                *arr = per_layer[i].arr;
                return QLM_OK;
            }
        return qlm_fail(QLM_E_UNSUPPORTED, "llama2c: no source for tensor %s", name);
    }
    return QLM_OK;
}

/* Heads to un-permute by (0: rows stay). */
static uint64_t qk_heads(l2c_array a, const l2c_config *c)
{
    return a == L2C_WQ ? c->n_heads : a == L2C_WK ? c->n_kv_heads : 0;
}

static qlm_status write_tokenizer(const qlm_convert_opts *o, const l2c_config *c, qlm_writer *w)
{
    if (!o->tokenizer)
        return qlm_fail(QLM_E_ARG, "%s: a llama2.c checkpoint needs --tokenizer (e.g. tok512.bin)", o->src);
    qlm_tokenizer *t;
    qlm_status st = qlm_tok_load_path(o->tokenizer, &t);
    if (st)
        return st;
    if (qlm_tok_n_vocab(t) > c->vocab_size)
        st = qlm_fail(QLM_E_SHAPE, "%s has %zu tokens but %s's embedding has only %u rows", o->tokenizer,
                      qlm_tok_n_vocab(t), o->src, c->vocab_size);
    else
        st = qlm_tok_write_meta(t, w);
    qlm_tok_free(t);
    return st;
}

static qlm_status convert(const qlm_convert_opts *o, const l2c_file *f, qlm_writer *w, qlm_emitter *e)
{
    const l2c_config *lc = l2c_config_of(f);
    qlm_hfconfig c;
    config_of(lc, &c);
    qlm_status st;
    if ((st = qlm_hfconfig_write_meta(&c, w)) || (st = qlm_write_name_from_path(w, o->src)) ||
        (st = write_tokenizer(o, lc, w)))
        return st;
    qlm_hf_param *p;
    size_t n;
    if ((st = qlm_hf_params(&c, &p, &n)))
        return st;
    for (size_t i = 0; i < n && !st; i++) {
        l2c_array a;
        uint32_t layer;
        qlm_dtype chosen;
        if (!(st = source_of(p[i].qlm, &a, &layer)))
            st = qlm_emit_declare(e, p[i].qlm, p[i].rank, p[i].dims, SRC_F32, &chosen);
    }
    for (size_t i = 0; i < n && !st; i++) {
        l2c_array a;
        uint32_t layer;
        source_of(p[i].qlm, &a, &layer); /* succeeded above */
        const l2c_weights *wt = l2c_array_of(f, a);
        const uint8_t *data = l2c_slice(f, a, layer);
        uint64_t elems = p[i].dims[0] * (p[i].rank == 2 ? p[i].dims[1] : 1);
        if (!data || elems != (uint64_t)wt->rows * wt->cols)
            st = qlm_fail(QLM_E_SHAPE, "llama2c: tensor %s does not match the checkpoint layout", p[i].qlm);
        else
            st = qlm_emit_hf_order(e, p[i].qlm, data, (size_t)elems * 4, p[i].dims[0], qk_heads(a, lc));
    }
    free(p);
    return st;
}

qlm_status qlm_src_llama2c(const qlm_convert_opts *o, qlm_writer *w, qlm_emitter *e)
{
    l2c_file *f;
    qlm_status st = l2c_open(o->src, &f);
    if (st)
        return st;
    st = convert(o, f, w, e);
    l2c_close(f);
    return st;
}
