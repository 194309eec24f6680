/* qlm2gguf IN.qlm OUT.gguf: a .qlm model as a GGUF that llama.cpp loads, so
 * both runtimes can be measured on the very same weights
 * (tools/bench/compare_llamacpp.sh). A developer tool, not installed.
 *
 * The inverse of `qlm convert` from GGUF (formats/convert/from_gguf.c): the
 * expected tensors are that reader's list (hfparams.c; qlm's tensor names are
 * llama.cpp's), every one must be present with its shape, and nothing else.
 * F32/F16/BF16/Q8/Q4 data is copied byte for byte (qlm's Q8/Q4 blocks are
 * GGUF's Q8_0/Q4_0, formats/quant/quant.h); only the Q/K rows of `llama`
 * models move, into the interleaved order llama.cpp's converter stores.
 * Tied embeddings: no output.weight, as llama.cpp expects. RoPE: none or
 * linear; llama3 scaling would need llama.cpp's rope_freqs tensor, which
 * `qlm convert` does not read back, so it is refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/convert/hfconfig.h"
#include "formats/convert/srcutil.h"
#include "formats/qlm/keys.h"
#include "runtime/model/model.h"
#include "tools/qlm2gguf/q2g.h"

typedef struct {
    const qlm_file *f;
    qlm_hfconfig h;
    const char *arch;
    qlm_hf_param *p; /* the tensors, in Hugging Face order */
    size_t n;
} model;

static const struct {
    uint32_t dtype, ggml, ftype; /* ftype: llama.cpp's general.file_type when most weights have this type */
} types[] = {{QLM_DT_F32, GGML_F32, 0}, {QLM_DT_F16, GGML_F16, 1}, {QLM_DT_Q4, GGML_Q4_0, 2},
             {QLM_DT_Q8, GGML_Q8_0, 7}, {QLM_DT_BF16, GGML_BF16, 32}};
#define N_TYPES (sizeof types / sizeof types[0])

static int type_ix(uint32_t dtype)
{
    for (size_t i = 0; i < N_TYPES; i++)
        if (types[i].dtype == dtype)
            return (int)i;
    return -1;
}

/* The validated hyper-parameters, as the GGUF reader's config struct. */
static qlm_status read_config(model *m)
{
    qlm_hparams hp;
    qlm_status st = qlm_hparams_read(m->f, &hp);
    if (st)
        return st;
    if (hp.rope_scaling == 1)
        return qlm_fail(QLM_E_UNSUPPORTED, "llama3 RoPE scaling is not exported (llama.cpp needs a rope_freqs "
                                           "tensor that qlm convert cannot read back)");
    qlm_hfconfig *h = &m->h;
    *h = (qlm_hfconfig){.vocab = hp.n_vocab, .dim = hp.dim, .ffn = hp.ffn, .layers = hp.n_layers,
                        .heads = hp.n_heads, .heads_kv = hp.n_kv_heads, .head_dim = hp.head_dim,
                        .ctx = hp.ctx_max, .norm_eps = hp.norm_eps, .rope_theta = hp.rope_theta,
                        .rope = hp.rope_scaling == 2 ? QLM_ROPE_LINEAR : QLM_ROPE_NONE,
                        .rope_factor = hp.rope_factor, .tied = hp.tied, .attn_bias = hp.attn_bias,
                        .qk_norm = hp.qk_norm};
    h->arch = hp.arch == QLM_ARCH_QWEN2 ? QLM_HF_QWEN2 : hp.arch == QLM_ARCH_QWEN3 ? QLM_HF_QWEN3 : QLM_HF_LLAMA;
    m->arch = qlm_hf_arch_name(h->arch);
    /* llama.cpp's loader has no switch for these: Qwen2 always has q/k/v
     * biases, Qwen3 always q/k norms, Llama neither. */
    if (h->attn_bias != (h->arch == QLM_HF_QWEN2) || h->qk_norm != (h->arch == QLM_HF_QWEN3))
        return qlm_fail(QLM_E_UNSUPPORTED, "a %s model with%s q/k/v biases and with%s q/k norms has no llama.cpp "
                                           "architecture", m->arch, h->attn_bias ? "" : "out", h->qk_norm ? "" : "out");
    return qlm_hf_params(h, &m->p, &m->n);
}

static bool expected(const model *m, const char *name)
{
    for (size_t i = 0; i < m->n; i++)
        if (!strcmp(m->p[i].qlm, name))
            return true;
    return false;
}

/* Every expected tensor present with its shape and an exportable dtype;
 * nothing else in the file. */
static qlm_status check_tensors(const model *m)
{
    for (size_t i = 0; i < m->n; i++) {
        const qlm_hf_param *p = &m->p[i];
        const qlm_tensor *t = qlm_file_find(m->f, p->qlm);
        if (!t)
            return qlm_fail(QLM_E_MISSING, "tensor %s is missing", p->qlm);
        if (t->rank != p->rank || t->dims[0] != p->dims[0] || (p->rank == 2 && t->dims[1] != p->dims[1]))
            return qlm_fail(QLM_E_SHAPE, "tensor %s has shape [%llu, %llu] (rank %u), the metadata implies [%llu, %llu]",
                            p->qlm, (unsigned long long)t->dims[0], (unsigned long long)(t->rank > 1 ? t->dims[1] : 0),
                            t->rank, (unsigned long long)p->dims[0], (unsigned long long)p->dims[1]);
        if (type_ix(t->dtype) < 0) {
            const qlm_dtype_info *di = qlm_dtype_get(t->dtype);
            return qlm_fail(QLM_E_DTYPE, "tensor %s is %s; GGUF export takes f32, f16, bf16, q8, q4", p->qlm,
                            di ? di->name : "of an unknown dtype");
        }
    }
    for (size_t i = 0; i < qlm_file_n_tensors(m->f); i++) {
        const char *name = qlm_file_tensor(m->f, i)->name;
        if (!expected(m, name))
            return qlm_fail(QLM_E_UNSUPPORTED, "tensor %s is not part of a %s model", name, m->arch);
    }
    return QLM_OK;
}

/* llama.cpp's file type: that of the dtype holding the most weight elements. */
static uint32_t file_type(const model *m)
{
    uint64_t elems[N_TYPES] = {0};
    size_t best = 0;
    for (size_t i = 0; i < m->n; i++) {
        const qlm_tensor *t = qlm_file_find(m->f, m->p[i].qlm);
        if (t->rank == 2)
            elems[type_ix(t->dtype)] += t->n_elems;
    }
    for (size_t i = 1; i < N_TYPES; i++)
        if (elems[i] > elems[best])
            best = i;
    return types[best].ftype;
}

static qlm_status put_u32(model *m, ggufw *w, const char *suffix, int64_t v)
{
    char key[96];
    snprintf(key, sizeof key, "%s.%s", m->arch, suffix);
    if (v < 0 || v > (int64_t)UINT32_MAX)
        return qlm_fail(QLM_E_VALUE, "%s = %lld does not fit GGUF's u32", key, (long long)v);
    return ggufw_u32(w, key, (uint32_t)v);
}

static qlm_status put_f32(model *m, ggufw *w, const char *suffix, double v)
{
    char key[96];
    snprintf(key, sizeof key, "%s.%s", m->arch, suffix);
    return ggufw_f32(w, key, (float)v);
}

static qlm_status write_hparams(model *m, ggufw *w)
{
    const qlm_hfconfig *h = &m->h;
    const char *name = "qlm";
    size_t len = 3;
    qlm_status st;
    if (qlm_meta_has(m->f, QLM_K_NAME) && (st = qlm_meta_str(m->f, QLM_K_NAME, &name, &len)))
        return st;
    if ((st = ggufw_str(w, "general.architecture", m->arch, strlen(m->arch))) ||
        (st = ggufw_str(w, "general.name", name, len)) || (st = ggufw_u32(w, "general.file_type", file_type(m))) ||
        (st = put_u32(m, w, "vocab_size", h->vocab)) || (st = put_u32(m, w, "context_length", h->ctx)) ||
        (st = put_u32(m, w, "embedding_length", h->dim)) || (st = put_u32(m, w, "block_count", h->layers)) ||
        (st = put_u32(m, w, "feed_forward_length", h->ffn)) ||
        (st = put_u32(m, w, "attention.head_count", h->heads)) ||
        (st = put_u32(m, w, "attention.head_count_kv", h->heads_kv)) ||
        (st = put_u32(m, w, "attention.key_length", h->head_dim)) ||
        (st = put_u32(m, w, "attention.value_length", h->head_dim)) ||
        (st = put_u32(m, w, "rope.dimension_count", h->head_dim)) ||
        (st = put_f32(m, w, "attention.layer_norm_rms_epsilon", h->norm_eps)) ||
        (st = put_f32(m, w, "rope.freq_base", h->rope_theta)))
        return st;
    if (h->rope != QLM_ROPE_LINEAR)
        return QLM_OK;
    char key[96];
    snprintf(key, sizeof key, "%s.rope.scaling.type", m->arch);
    return (st = ggufw_str(w, key, "linear", 6)) ? st : put_f32(m, w, "rope.scaling.factor", h->rope_factor);
}

static qlm_status declare_tensors(model *m, ggufw *w)
{
    qlm_status st = QLM_OK;
    for (size_t i = 0; i < m->n && !st; i++) {
        const qlm_tensor *t = qlm_file_find(m->f, m->p[i].qlm);
        st = ggufw_tensor(w, t->name, t->rank, t->dims, types[type_ix(t->dtype)].ggml, t->nbytes);
    }
    return st;
}

/* One tensor's data; Q/K of `llama` models through a permuted copy. */
static qlm_status write_tensor(model *m, ggufw *w, const qlm_tensor *t)
{
    uint64_t heads = qlm_gguf_qk_heads(&m->h, t->name);
    if (!heads)
        return ggufw_data(w, t->data, (size_t)t->nbytes);
    void *buf = malloc(t->nbytes ? (size_t)t->nbytes : 1);
    if (!buf)
        return qlm_fail(QLM_E_NOMEM, "%s: out of memory for %llu bytes", t->name, (unsigned long long)t->nbytes);
    qlm_status st = qlm_qk_permute(t->data, buf, t->dims[0], heads, (size_t)(t->nbytes / t->dims[0]));
    if (st)
        qlm_fail_context(st, "%s", t->name);
    st = st ? st : ggufw_data(w, buf, (size_t)t->nbytes);
    free(buf);
    return st;
}

static qlm_status export(const char *in, const char *out)
{
    qlm_file *f;
    qlm_status st = qlm_file_open(in, &f);
    if (st)
        return st;
    model m = {.f = f};
    ggufw w = {0};
    bool begun = false;
    if (!(st = read_config(&m)) && !(st = check_tensors(&m)) && !(st = write_hparams(&m, &w)) &&
        !(st = q2g_tokenizer(f, (uint64_t)m.h.vocab, &w)) && !(st = declare_tensors(&m, &w)) &&
        !(st = ggufw_begin(&w, out))) {
        begun = true;
        for (size_t i = 0; i < m.n && !st; i++)
            st = write_tensor(&m, &w, qlm_file_find(f, m.p[i].qlm));
        if (!st)
            st = ggufw_finish(&w);
    }
    if (st && !begun)
        ggufw_abort(&w); /* the data/finish calls free w themselves on failure */
    if (st)
        qlm_fail_context(st, "%s", in);
    free(m.p);
    qlm_file_close(f);
    return st;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: qlm2gguf IN.qlm OUT.gguf\n\n"
               "Writes a .qlm model (llama, qwen2, qwen3; f32/f16/bf16/q8/q4 tensors) as a GGUF file\n"
               "that llama.cpp loads: the same weights byte for byte (Q8/Q4 = GGUF Q8_0/Q4_0),\n"
               "llama.cpp's tensor names and hyper-parameter keys, the tokenizer as tokenizer.ggml.*.\n");
}

int main(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        usage(stdout);
        return 0;
    }
    if (argc != 3 || argv[1][0] == '-' || argv[2][0] == '-') {
        fprintf(stderr, "qlm2gguf: expected IN.qlm OUT.gguf (see --help)\n");
        return 2;
    }
    if (export(argv[1], argv[2])) {
        fprintf(stderr, "qlm2gguf: %s\n", qlm_errmsg());
        return 1;
    }
    return 0;
}
