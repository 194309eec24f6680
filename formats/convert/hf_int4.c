/* GPTQ / AWQ / Marlin Hugging Face checkpoints -> w4a16 rows (hf_int4.h). */
#include "formats/convert/hf_int4.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "formats/common/mapfile.h"
#include "formats/gpu/int4pack.h"

#define NAME_CAP 256

const char *qlm_hfq_name(qlm_hfq_kind k)
{
    static const char *const names[] = {"none", "gptq", "awq", "marlin"};
    return names[k];
}

/* An integer setting that may go by two names (AutoAWQ's w_bit/q_group_size). */
static bool get_int(const json_value *qc, const char *a, const char *b, int64_t *v)
{
    return json_as_i64(json_get(qc, a), v) || (b && json_as_i64(json_get(qc, b), v));
}

/* GPTQ's checkpoint_format (or AutoGPTQ <= 0.7's is_marlin_format). */
static qlm_status gptq_format(const json_value *qc, qlm_hfquant *q)
{
    const char *f = json_get_str(qc, "checkpoint_format");
    q->kind = QLM_HFQ_GPTQ;
    q->zero_m1 = true;
    if (json_get_bool(qc, "is_marlin_format", false) || (f && strcmp(f, "marlin") == 0))
        q->kind = QLM_HFQ_MARLIN;
    else if (f && strcmp(f, "gptq_v2") == 0)
        q->zero_m1 = false;
    else if (f && strcmp(f, "gptq") != 0)
        return qlm_fail(QLM_E_UNSUPPORTED, "quantization_config.checkpoint_format \"%.40s\" is not supported "
                        "(gptq, gptq_v2, marlin)", f);
    return QLM_OK;
}

static qlm_status awq_version(const json_value *qc)
{
    const char *v = json_get_str(qc, "version");
    if (v && strcasecmp(v, "gemm") != 0)
        return qlm_fail(QLM_E_UNSUPPORTED, "quantization_config.version \"%.40s\": only AWQ \"gemm\" checkpoints "
                        "are supported", v);
    if (!json_get_bool(qc, "zero_point", true))
        return qlm_fail(QLM_E_UNSUPPORTED, "quantization_config.zero_point false: only AWQ checkpoints with zero "
                        "points are supported");
    return QLM_OK;
}

qlm_status qlm_hfquant_parse(const json_value *qc, bool autogptq_file, qlm_hfquant *q)
{
    *q = (qlm_hfquant){QLM_HFQ_NONE, 128, false};
    if (!qc || qc->type != JSON_OBJECT)
        return qlm_fail(QLM_E_JSON, "quantization_config is not an object");
    const char *m = json_get_str(qc, "quant_method");
    qlm_status rc;
    if (m ? strcmp(m, "gptq") == 0 : autogptq_file)
        rc = gptq_format(qc, q);
    else if (m && strcmp(m, "marlin") == 0)
        rc = (q->kind = QLM_HFQ_MARLIN, QLM_OK);
    else if (m && strcmp(m, "awq") == 0)
        rc = (q->kind = QLM_HFQ_AWQ, awq_version(qc));
    else
        return qlm_fail(QLM_E_UNSUPPORTED, "quantization_config.quant_method \"%.40s\" is not supported "
                        "(gptq, awq, marlin)", m ? m : "(none)");
    if (rc)
        return rc;
    int64_t bits = 0, g = 0;
    if (!get_int(qc, "bits", "w_bit", &bits))
        return qlm_fail(QLM_E_MISSING, "quantization_config has no \"bits\"");
    if (bits != 4)
        return qlm_fail(QLM_E_UNSUPPORTED, "quantization_config.bits = %lld: only 4-bit checkpoints are supported",
                        (long long)bits);
    if (!get_int(qc, "group_size", "q_group_size", &g))
        return qlm_fail(QLM_E_MISSING, "quantization_config has no \"group_size\"");
    if (g != -1 && (g <= 0 || g % 128 != 0 || (q->kind == QLM_HFQ_MARLIN && g != 128)))
        return qlm_fail(QLM_E_UNSUPPORTED, "quantization_config.group_size = %lld: supported are -1 (per channel) "
                        "and %s (w4a16 keeps one scale per 128 inputs)", (long long)g,
                        q->kind == QLM_HFQ_MARLIN ? "128" : "multiples of 128");
    q->group = g;
    return QLM_OK;
}

/* The quantization settings in `name` inside dir: its "quantization_config"
 * member (config.json) or the whole object (quantize_config.json). */
static qlm_status load_from(const char *dir, const char *name, bool whole, qlm_hfquant *q, bool *found)
{
    char path[4096];
    json_doc *doc;
    qlm_status rc = qlm_path_join(path, sizeof path, dir, name);
    *found = false;
    if (rc || !qlm_is_file(path) || (rc = json_parse_file(path, 1u << 20, &doc)))
        return rc;
    const json_value *qc = whole ? json_root(doc) : json_get(json_root(doc), "quantization_config");
    if (qc) {
        *found = true;
        rc = qlm_fail_context(qlm_hfquant_parse(qc, whole, q), "%s", path);
    }
    json_free(doc);
    return rc;
}

qlm_status qlm_hfquant_load(const char *dir, qlm_hfquant *q)
{
    bool found;
    *q = (qlm_hfquant){QLM_HFQ_NONE, 128, false};
    qlm_status rc = load_from(dir, "config.json", false, q, &found);
    if (rc || found)
        return rc;
    return load_from(dir, "quantize_config.json", true, q, &found);
}

/* ---- tensor names ---- */

static const char *const k_gptq_sfx[] = {"qweight", "qzeros", "scales", "g_idx", NULL};
static const char *const k_awq_sfx[] = {"qweight", "qzeros", "scales", NULL};
static const char *const k_marlin_sfx[] = {"B", "s", "workspace", NULL};

static const char *const *suffixes(qlm_hfq_kind k)
{
    return k == QLM_HFQ_GPTQ ? k_gptq_sfx : k == QLM_HFQ_AWQ ? k_awq_sfx : k == QLM_HFQ_MARLIN ? k_marlin_sfx : NULL;
}

/* "X.weight" + suffix -> "X.suffix"; false if it does not fit or is not a weight. */
static bool sibling(const char *weight, const char *sfx, char *buf, size_t cap)
{
    size_t n = strlen(weight), w = strlen(".weight");
    if (n <= w || strcmp(weight + n - w, ".weight") != 0)
        return false;
    return (size_t)snprintf(buf, cap, "%.*s.%s", (int)(n - w), weight, sfx) < cap;
}

static const qlm_st_tensor *find_sibling(const qlm_st *st, const char *weight, const char *sfx)
{
    char name[NAME_CAP];
    return sibling(weight, sfx, name, sizeof name) ? qlm_st_find(st, name) : NULL;
}

bool qlm_hfquant_is_packed(const qlm_hfquant *q, const qlm_st *st, const char *weight)
{
    const char *const *s = suffixes(q->kind);
    return s && !qlm_st_find(st, weight) && find_sibling(st, weight, s[0]);
}

bool qlm_hfquant_has_packed(const qlm_st *st, const char *weight)
{
    return find_sibling(st, weight, "qweight") || find_sibling(st, weight, "B");
}

bool qlm_hfquant_member(const qlm_hfquant *q, const char *name, char *buf, size_t cap)
{
    const char *dot = strrchr(name, '.');
    const char *const *s = suffixes(q->kind);
    for (; s && dot && *s; s++)
        if (strcmp(dot + 1, *s) == 0)
            return (size_t)snprintf(buf, cap, "%.*s.weight", (int)(dot - name), name) < cap;
    return false;
}

/* ---- shape checks ---- */

typedef enum { T_INT32, T_F16 } want_type;

/* The packed tensor weight's `sfx`: present, of the type, rank and dims given
 * (d1 == 0: rank 1). */
static qlm_status want(const qlm_st *st, const char *weight, const char *sfx, want_type wt, uint64_t d0,
                       uint64_t d1, bool optional)
{
    char name[NAME_CAP];
    if (!sibling(weight, sfx, name, sizeof name))
        return qlm_fail(QLM_E_LIMIT, "tensor name %.80s is too long", weight);
    const qlm_st_tensor *t = qlm_st_find(st, name);
    if (!t)
        return optional ? QLM_OK : qlm_fail(QLM_E_MISSING, "tensor %s is missing (%s is stored packed)", name, weight);
    bool ok_type = wt == T_F16 ? t->dtype == QLM_ST_F16 : (t->dtype == QLM_ST_I32 || t->dtype == QLM_ST_U32);
    if (!ok_type)
        return qlm_fail(QLM_E_DTYPE, "tensor %s has dtype %s, expected %s", name, qlm_st_dtype_name(t->dtype),
                        wt == T_F16 ? "F16" : "I32");
    uint32_t rank = d1 ? 2 : 1;
    if (t->rank != rank || t->dims[0] != d0 || (rank == 2 && t->dims[1] != d1))
        return qlm_fail(QLM_E_SHAPE, "tensor %s: shape [%llu%s%llu], expected [%llu%s%llu] for a %s of that size", name,
                        (unsigned long long)(t->rank ? t->dims[0] : 0), t->rank > 1 ? ", " : "",
                        (unsigned long long)(t->rank > 1 ? t->dims[1] : 0), (unsigned long long)d0,
                        rank > 1 ? ", " : "", (unsigned long long)(rank > 1 ? d1 : 0), weight);
    return QLM_OK;
}

/* Groups along K, after checking that the dims fit the packing and w4a16. */
static qlm_status groups(const qlm_hfquant *q, const char *weight, uint64_t N, uint64_t K, uint64_t *G)
{
    uint64_t gs = q->group < 0 ? K : (uint64_t)q->group;
    uint64_t mult = q->kind == QLM_HFQ_MARLIN ? 64 : 8;
    if (K == 0 || N == 0 || K % 128 || N % mult || K % gs)
        return qlm_fail(QLM_E_SHAPE, "%s: %llu x %llu (out x in) does not fit %s int4 with group size %llu: needs "
                        "in %% 128 == 0, in %% group == 0 and out %% %llu == 0", weight, (unsigned long long)N,
                        (unsigned long long)K, qlm_hfq_name(q->kind), (unsigned long long)gs,
                        (unsigned long long)mult);
    *G = K / gs;
    return QLM_OK;
}

qlm_status qlm_hfquant_check(const qlm_hfquant *q, const qlm_st *st, const char *weight, uint64_t N, uint64_t K)
{
    uint64_t G;
    qlm_status rc = groups(q, weight, N, K, &G);
    if (rc)
        return rc;
    switch (q->kind) {
    case QLM_HFQ_GPTQ:
        if ((rc = want(st, weight, "qweight", T_INT32, K / 8, N, false)) ||
            (rc = want(st, weight, "qzeros", T_INT32, G, N / 8, false)) ||
            (rc = want(st, weight, "scales", T_F16, G, N, false)))
            return rc;
        return want(st, weight, "g_idx", T_INT32, K, 0, true);
    case QLM_HFQ_AWQ:
        if ((rc = want(st, weight, "qweight", T_INT32, K, N / 8, false)) ||
            (rc = want(st, weight, "qzeros", T_INT32, G, N / 8, false)))
            return rc;
        return want(st, weight, "scales", T_F16, G, N, false);
    case QLM_HFQ_MARLIN:
        if ((rc = want(st, weight, "B", T_INT32, K / 16, 2 * N, false)))
            return rc;
        return want(st, weight, "s", T_F16, G, N, false);
    case QLM_HFQ_NONE: break;
    }
    return qlm_fail(QLM_E_ARG, "%s: not a quantized checkpoint", weight);
}

/* ---- unpacking ---- */

/* A checked tensor's bytes, copied so that u32/u16 reads are aligned
 * (safetensors data need not be); NULL for an absent optional one. */
static qlm_status load(const qlm_st *st, const char *weight, const char *sfx, void **out)
{
    const qlm_st_tensor *t = find_sibling(st, weight, sfx);
    *out = NULL;
    if (!t)
        return QLM_OK;
    if (!(*out = malloc(t->nbytes ? (size_t)t->nbytes : 1)))
        return qlm_fail(QLM_E_NOMEM, "%s: out of memory for %s", weight, sfx);
    memcpy(*out, t->data, (size_t)t->nbytes);
    return QLM_OK;
}

/* g_idx (as I32/U32 alike: values above INT32_MAX read negative and fail). */
static int32_t gidx_at(const qlm_st_tensor *t, uint64_t k)
{
    int32_t v;
    memcpy(&v, (const char *)t->data + 4 * k, 4);
    return v;
}

qlm_status qlm_hfquant_perm(const qlm_hfquant *q, const qlm_st *st, const char *weight, uint64_t K, int32_t **perm)
{
    const qlm_st_tensor *t = q->kind == QLM_HFQ_GPTQ ? find_sibling(st, weight, "g_idx") : NULL;
    uint64_t gs = q->group < 0 ? K : (uint64_t)q->group, G = K / gs;
    bool trivial = true;
    *perm = NULL;
    for (uint64_t k = 0; t && k < K; k++) {
        int32_t g = gidx_at(t, k);
        if (g < 0 || (uint64_t)g >= G)
            return qlm_fail(QLM_E_VALUE, "%s: g_idx[%llu] = %d is outside [0, %llu)", weight, (unsigned long long)k,
                            (int)g, (unsigned long long)G);
        trivial = trivial && (uint64_t)g == k / gs;
    }
    if (trivial)
        return QLM_OK;
    uint64_t *next = calloc((size_t)G, sizeof *next); /* counting sort: first free slot of each group */
    int32_t *p = malloc((size_t)K * sizeof *p);
    qlm_status rc = next && p ? QLM_OK : qlm_fail(QLM_E_NOMEM, "%s: out of memory for g_idx", weight);
    for (uint64_t k = 0; !rc && k < K; k++) {
        uint64_t g = (uint64_t)gidx_at(t, k);
        if (next[g] == gs)
            rc = qlm_fail(QLM_E_VALUE, "%s: g_idx[%llu] = %llu: group %llu has more than %llu inputs", weight,
                          (unsigned long long)k, (unsigned long long)g, (unsigned long long)g,
                          (unsigned long long)gs);
        else
            p[g * gs + next[g]++] = (int32_t)k;
    }
    free(next);
    if (rc) {
        free(p);
        return rc;
    }
    *perm = p; /* every group full, K = G * gs: p is a permutation */
    return QLM_OK;
}

/* Columns of every row in perm's order (scales and zeros stay: column j's
 * group is j / (K/G) by construction). */
static qlm_status permute_cols(qlm_int4_mat *m, const int32_t *perm)
{
    uint8_t *row = malloc((size_t)m->K);
    if (!row)
        return qlm_fail(QLM_E_NOMEM, "out of memory");
    for (int64_t n = 0; n < m->N; n++) {
        uint8_t *q = m->q + n * m->K;
        for (int64_t j = 0; j < m->K; j++)
            row[j] = q[perm[j]];
        memcpy(q, row, (size_t)m->K);
    }
    free(row);
    return QLM_OK;
}

static qlm_status unpack_mat(const qlm_hfquant *q, const qlm_st *st, const char *weight, const int32_t *perm,
                             qlm_int4_mat *m)
{
    const char *const *s = suffixes(q->kind);
    void *a[4] = {NULL, NULL, NULL, NULL};
    qlm_status rc = QLM_OK;
    for (int i = 0; i < 4 && s[i] && !rc; i++)
        if (q->kind != QLM_HFQ_MARLIN || i < 2) /* Marlin's workspace is not data */
            rc = load(st, weight, s[i], &a[i]);
    if (!rc && q->kind == QLM_HFQ_GPTQ) {
        rc = qlm_gptq_unpack(a[0], a[1], a[2], perm ? NULL : a[3], m);
        if (!rc && perm)
            rc = permute_cols(m, perm);
        for (int64_t i = 0; !rc && !q->zero_m1 && i < m->N * m->G; i++)
            m->z[i]--; /* gptq_v2 stores z itself; the unpacker added v1's 1 */
    } else if (!rc && q->kind == QLM_HFQ_AWQ) {
        qlm_awq_unpack(a[0], a[1], a[2], m);
    } else if (!rc) {
        qlm_marlin_unpack(a[0], a[1], m);
    }
    for (int i = 0; i < 4; i++)
        free(a[i]);
    return rc ? qlm_fail_context(rc, "%s", weight) : QLM_OK;
}

qlm_status qlm_hfquant_unpack(const qlm_hfquant *q, const qlm_st *st, const char *weight, uint64_t N, uint64_t K,
                              const int32_t *perm, void **out, size_t *nbytes)
{
    uint64_t G;
    qlm_status rc = groups(q, weight, N, K, &G);
    if (rc)
        return rc;
    qlm_int4_mat m = {(int64_t)N, (int64_t)K, malloc((size_t)(N * K)), malloc((size_t)(N * G) * 2),
                      malloc((size_t)(N * G)), (int64_t)G};
    size_t row = (size_t)(K / QLM_W4_G) * sizeof(qlm_block_w4);
    qlm_block_w4 *blk = malloc(row * (size_t)N);
    if (!m.q || !m.s || !m.z || !blk)
        rc = qlm_fail(QLM_E_NOMEM, "%s: out of memory unpacking %llu x %llu int4 weights", weight,
                      (unsigned long long)N, (unsigned long long)K);
    if (!rc)
        rc = unpack_mat(q, st, weight, perm, &m);
    for (uint64_t r = 0; !rc && r < N; r++)
        qlm_int4_row_w4a16(&m, (int64_t)r, blk + r * (K / QLM_W4_G));
    free(m.q);
    free(m.s);
    free(m.z);
    if (rc) {
        free(blk);
        return rc;
    }
    *out = blk;
    *nbytes = row * (size_t)N;
    return QLM_OK;
}
