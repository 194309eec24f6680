/* Hugging Face folder (config.json + safetensors + tokenizer files) -> .qlm. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/common/json.h"
#include "formats/common/mapfile.h"
#include "formats/convert/convert.h"
#include "formats/convert/hf_int4.h"
#include "formats/convert/hfconfig.h"
#include "formats/qlm/keys.h"
#include "formats/safetensors/safetensors.h"
#include "runtime/tokenizer/tokenizer.h"

static const qlm_hf_param *find_param(const qlm_hf_param *p, size_t n, const char *hf)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(p[i].hf, hf) == 0)
            return &p[i];
    return NULL;
}

/* Tensors some checkpoints carry that the model does not use. */
static bool ignorable(const qlm_hfconfig *c, const char *name)
{
    size_t n = strlen(name), k = strlen("rotary_emb.inv_freq");
    return (n >= k && strcmp(name + n - k, "rotary_emb.inv_freq") == 0) ||
           (c->tied && strcmp(name, "lm_head.weight") == 0);
}

/* A packed Linear of a quantized checkpoint (hf_int4.h) stands in for its
 * X.weight: its tensors are checked there. */
static bool packed(const qlm_hfquant *q, const qlm_st *st, const qlm_hf_param *p)
{
    return p->rank == 2 && qlm_hfquant_is_packed(q, st, p->hf);
}

static qlm_status check_param(const qlm_hfquant *q, const qlm_st *st, const qlm_hf_param *p)
{
    if (packed(q, st, p))
        return qlm_hfquant_check(q, st, p->hf, p->dims[0], p->dims[1]);
    const qlm_st_tensor *t = qlm_st_find(st, p->hf);
    if (!t && p->rank == 2 && qlm_hfquant_has_packed(st, p->hf))
        return qlm_fail(QLM_E_MISSING, "tensor %s is missing: the checkpoint stores it packed (int4), but %s",
                        p->hf, q->kind ? "not in the packing its quantization_config names"
                                       : "config.json has no quantization_config");
    if (!t)
        return qlm_fail(QLM_E_MISSING, "tensor %s is missing from the checkpoint", p->hf);
    if (t->rank != p->rank || t->dims[0] != p->dims[0] || (p->rank == 2 && t->dims[1] != p->dims[1]))
        return qlm_fail(QLM_E_SHAPE, "tensor %s: shape [%llu%s%llu] in the checkpoint, config.json implies [%llu, %llu]",
                        p->hf, (unsigned long long)(t->rank ? t->dims[0] : 0), t->rank > 1 ? ", " : "",
                        (unsigned long long)(t->rank > 1 ? t->dims[1] : 0), (unsigned long long)p->dims[0],
                        (unsigned long long)p->dims[1]);
    if (!qlm_st_dtype_is_float(t->dtype))
        return qlm_fail(QLM_E_DTYPE, "tensor %s has dtype %s; weights must be F32, F16 or BF16%s", p->hf,
                        qlm_st_dtype_name(t->dtype), q->kind ? "" : " (quantized checkpoints need config.json's "
                        "quantization_config)");
    return QLM_OK;
}

/* A checkpoint tensor that belongs to a packed Linear of the model. */
static bool packed_member(const qlm_hfquant *q, const qlm_st *st, const qlm_hf_param *p, size_t n, const char *name)
{
    char w[128];
    const qlm_hf_param *owner = qlm_hfquant_member(q, name, w, sizeof w) ? find_param(p, n, w) : NULL;
    return owner && packed(q, st, owner);
}

/* Every parameter the config implies is present with its exact shape, and
 * nothing unexpected is left over. */
static qlm_status check_tensors(const qlm_hfconfig *c, const qlm_hfquant *q, const qlm_hf_param *p, size_t n,
                                const qlm_st *st)
{
    qlm_status rc;
    for (size_t i = 0; i < n; i++)
        if ((rc = check_param(q, st, &p[i])))
            return rc;
    for (size_t i = 0; i < qlm_st_count(st); i++) {
        const char *name = qlm_st_at(st, i)->name;
        if (!find_param(p, n, name) && !ignorable(c, name) && !packed_member(q, st, p, n, name))
            return qlm_fail(QLM_E_UNSUPPORTED, "tensor %s is not part of a %s model as configured%s", name,
                            qlm_hf_arch_name(c->arch),
                            q->kind ? "" : " (a quantized checkpoint needs config.json's quantization_config)");
    }
    return QLM_OK;
}

/* general.name: the folder's base name. */
static qlm_status write_name(const char *dir, qlm_writer *w)
{
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        len--;
    size_t start = len;
    while (start > 0 && dir[start - 1] != '/')
        start--;
    return qlm_writer_set_str(w, QLM_K_NAME, dir + start, len - start);
}

/* generation.* defaults from generation_config.json, when present. With
 * do_sample false the reference decodes greedily: temperature 0. */
static qlm_status write_generation(const char *dir, qlm_writer *w)
{
    char path[4096];
    json_doc *doc;
    qlm_status rc = qlm_path_join(path, sizeof path, dir, "generation_config.json");
    if (rc || !qlm_is_file(path))
        return rc;
    if ((rc = json_parse_file(path, 1u << 20, &doc)))
        return rc;
    const json_value *g = json_root(doc);
    double d;
    int64_t k;
    bool sample = json_get_bool(g, "do_sample", true);
    if (json_as_f64(json_get(g, "temperature"), &d) || !sample)
        rc = qlm_writer_set_f64(w, QLM_K_GEN_TEMP, sample ? d : 0.0);
    if (!rc && json_as_f64(json_get(g, "top_p"), &d))
        rc = qlm_writer_set_f64(w, QLM_K_GEN_TOP_P, d);
    if (!rc && json_as_i64(json_get(g, "top_k"), &k))
        rc = qlm_writer_set_i64(w, QLM_K_GEN_TOP_K, k);
    if (!rc && json_as_f64(json_get(g, "repetition_penalty"), &d))
        rc = qlm_writer_set_f64(w, QLM_K_GEN_REP_PEN, d);
    json_free(doc);
    return rc;
}

/* The folder's tokenizer (tokenizer.json + tokenizer_config.json, chat
 * template, generation_config.json EOS ids) into tokenizer.* keys. Its ids
 * must index rows of the embedding (models often pad the vocabulary, never
 * the reverse). */
static qlm_status write_tokenizer(const char *dir, const qlm_hfconfig *c, qlm_writer *w)
{
    qlm_tokenizer *tok;
    qlm_status rc = qlm_tok_load_path(dir, &tok);
    if (rc)
        return qlm_fail_context(rc, "%s: tokenizer", dir);
    if (qlm_tok_n_vocab(tok) > (size_t)c->vocab)
        rc = qlm_fail(QLM_E_SHAPE, "%s: tokenizer has %zu tokens but the embedding only %lld rows", dir,
                      qlm_tok_n_vocab(tok), (long long)c->vocab);
    if (!rc)
        rc = qlm_tok_write_meta(tok, w);
    qlm_tok_free(tok);
    return rc;
}

static qlm_src_type src_type(qlm_st_dtype t)
{
    return t == QLM_ST_F32 ? SRC_F32 : t == QLM_ST_F16 ? SRC_F16 : SRC_BF16;
}

/* "blk.0.attn_q.weight" -> "blk.0.attn_q.perm": an act-order input permutation. */
static void perm_name(const qlm_hf_param *p, char *buf, size_t cap)
{
    snprintf(buf, cap, "%.*s.perm", (int)(strlen(p->qlm) - strlen(".weight")), p->qlm);
}

/* A packed Linear: its w4a16 rows, then its permutation if it is act-order. */
static qlm_status declare_packed(const qlm_hfquant *q, const qlm_st *st, const qlm_hf_param *p, qlm_emitter *e)
{
    int32_t *perm;
    char name[sizeof p->qlm + 8];
    qlm_status rc = qlm_hfquant_perm(q, st, p->hf, p->dims[1], &perm);
    if (!rc)
        rc = qlm_emit_declare(e, p->qlm, p->rank, p->dims, SRC_W4A16, NULL);
    perm_name(p, name, sizeof name);
    if (!rc && perm)
        rc = qlm_emit_declare(e, name, 1, &p->dims[1], SRC_I32, NULL);
    free(perm);
    return rc;
}

static qlm_status emit_packed(const qlm_hfquant *q, const qlm_st *st, const qlm_hf_param *p, qlm_emitter *e)
{
    void *rows = NULL;
    int32_t *perm;
    size_t nbytes;
    char name[sizeof p->qlm + 8];
    qlm_status rc = qlm_hfquant_perm(q, st, p->hf, p->dims[1], &perm);
    if (!rc)
        rc = qlm_hfquant_unpack(q, st, p->hf, p->dims[0], p->dims[1], perm, &rows, &nbytes);
    if (!rc)
        rc = qlm_emit_data(e, p->qlm, rows, nbytes);
    perm_name(p, name, sizeof name);
    if (!rc && perm)
        rc = qlm_emit_data(e, name, perm, (size_t)p->dims[1] * sizeof *perm);
    free(rows);
    free(perm);
    return rc;
}

static qlm_status emit_all(const qlm_hfquant *q, const qlm_hf_param *p, size_t n, const qlm_st *st, qlm_emitter *e)
{
    qlm_status rc;
    for (size_t i = 0; i < n; i++) {
        if (packed(q, st, &p[i]))
            rc = declare_packed(q, st, &p[i], e);
        else
            rc = qlm_emit_declare(e, p[i].qlm, p[i].rank, p[i].dims, src_type(qlm_st_find(st, p[i].hf)->dtype), NULL);
        if (rc)
            return rc;
    }
    for (size_t i = 0; i < n; i++) {
        const qlm_st_tensor *t = qlm_st_find(st, p[i].hf);
        if ((rc = packed(q, st, &p[i]) ? emit_packed(q, st, &p[i], e)
                                       : qlm_emit_data(e, p[i].qlm, t->data, (size_t)t->nbytes)))
            return rc;
    }
    return QLM_OK;
}

qlm_status qlm_src_hf(const qlm_convert_opts *o, qlm_writer *w, qlm_emitter *e)
{
    char path[4096];
    qlm_hfconfig c;
    qlm_hfquant q;
    qlm_hf_param *p = NULL;
    size_t n = 0;
    qlm_st *st = NULL;
    qlm_status rc = qlm_path_join(path, sizeof path, o->src, "config.json");
    if (!rc)
        rc = qlm_hfconfig_load(path, &c);
    if (!rc)
        rc = qlm_hfquant_load(o->src, &q);
    if (!rc)
        rc = qlm_hf_params(&c, &p, &n);
    if (!rc)
        rc = qlm_st_open_dir(o->src, &st);
    if (!rc)
        rc = check_tensors(&c, &q, p, n, st);
    if (!rc)
        rc = qlm_hfconfig_write_meta(&c, w);
    if (!rc)
        rc = write_name(o->src, w);
    if (!rc)
        rc = write_generation(o->src, w);
    if (!rc)
        rc = write_tokenizer(o->src, &c, w);
    if (!rc)
        rc = emit_all(&q, p, n, st, e);
    qlm_st_close(st);
    free(p);
    return rc;
}
