/* The parameter list of a Hugging Face model (named_parameters() order of
 * LlamaForCausalLM / Qwen2ForCausalLM / Qwen3ForCausalLM) with qlm names. */
#include <stdio.h>
#include <stdlib.h>

#include "formats/convert/hfconfig.h"

typedef struct {
    qlm_hf_param *p;
    size_t n; /* the caller sized p for the largest layout (14 per layer) */
} plist;

static void add(plist *l, const char *hf, const char *qlm, uint32_t rank, uint64_t d0, uint64_t d1)
{
    qlm_hf_param *p = &l->p[l->n++];
    snprintf(p->hf, sizeof p->hf, "%s", hf);
    snprintf(p->qlm, sizeof p->qlm, "%s", qlm);
    p->rank = rank;
    p->dims[0] = d0;
    p->dims[1] = rank == 2 ? d1 : 0;
}

/* One layer's parameter: HF "model.layers.N.<hf>", qlm "blk.N.<qlm>". */
static void add_layer(plist *l, int64_t i, const char *hf, const char *qlm, uint32_t rank, uint64_t d0, uint64_t d1)
{
    char h[80], q[48];
    snprintf(h, sizeof h, "model.layers.%lld.%s", (long long)i, hf);
    snprintf(q, sizeof q, "blk.%lld.%s", (long long)i, qlm);
    add(l, h, q, rank, d0, d1);
}

static void add_attention(plist *l, const qlm_hfconfig *c, int64_t i)
{
    uint64_t D = (uint64_t)c->dim, q = (uint64_t)(c->heads * c->head_dim), kv = (uint64_t)(c->heads_kv * c->head_dim);
    add_layer(l, i, "self_attn.q_proj.weight", "attn_q.weight", 2, q, D);
    if (c->attn_bias)
        add_layer(l, i, "self_attn.q_proj.bias", "attn_q.bias", 1, q, 0);
    add_layer(l, i, "self_attn.k_proj.weight", "attn_k.weight", 2, kv, D);
    if (c->attn_bias)
        add_layer(l, i, "self_attn.k_proj.bias", "attn_k.bias", 1, kv, 0);
    add_layer(l, i, "self_attn.v_proj.weight", "attn_v.weight", 2, kv, D);
    if (c->attn_bias)
        add_layer(l, i, "self_attn.v_proj.bias", "attn_v.bias", 1, kv, 0);
    add_layer(l, i, "self_attn.o_proj.weight", "attn_output.weight", 2, D, q);
    if (c->qk_norm) {
        add_layer(l, i, "self_attn.q_norm.weight", "attn_q_norm.weight", 1, (uint64_t)c->head_dim, 0);
        add_layer(l, i, "self_attn.k_norm.weight", "attn_k_norm.weight", 1, (uint64_t)c->head_dim, 0);
    }
}

qlm_status qlm_hf_params(const qlm_hfconfig *c, qlm_hf_param **out, size_t *n)
{
    uint64_t D = (uint64_t)c->dim, F = (uint64_t)c->ffn, V = (uint64_t)c->vocab;
    plist l = {0};
    if (!(l.p = malloc((3 + (size_t)c->layers * 14) * sizeof *l.p)))
        return qlm_fail(QLM_E_NOMEM, "out of memory for the parameter list");
    add(&l, "model.embed_tokens.weight", "token_embd.weight", 2, V, D);
    for (int64_t i = 0; i < c->layers; i++) {
        add_attention(&l, c, i);
        add_layer(&l, i, "mlp.gate_proj.weight", "ffn_gate.weight", 2, F, D);
        add_layer(&l, i, "mlp.up_proj.weight", "ffn_up.weight", 2, F, D);
        add_layer(&l, i, "mlp.down_proj.weight", "ffn_down.weight", 2, D, F);
        add_layer(&l, i, "input_layernorm.weight", "attn_norm.weight", 1, D, 0);
        add_layer(&l, i, "post_attention_layernorm.weight", "ffn_norm.weight", 1, D, 0);
    }
    add(&l, "model.norm.weight", "output_norm.weight", 1, D, 0);
    if (!c->tied)
        add(&l, "lm_head.weight", "output.weight", 2, V, D);
    *out = l.p;
    *n = l.n;
    return QLM_OK;
}
