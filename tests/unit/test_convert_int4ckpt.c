/* GPTQ / AWQ / Marlin Hugging Face checkpoints through qlm convert
 * (formats/convert/hf_int4.h), against checkpoints that qlm did not write:
 * tests/data/int4ckpt/ comes from tests/gpu/int4_ckpt.py, a stdlib-only
 * Python packer that follows AutoGPTQ / GPTQModel, AutoAWQ and Marlin's
 * published packing rules (command in that script's docstring).
 *   - each variant converts, and every quantized tensor's w4a16 bytes and
 *     f32 weights equal the SHA-256 digests the Python side computed
 *     (f16(f16(q - z) * s) in double, rounded once);
 *   - the same int4 numbers, regenerated here from the script's documented
 *     streams and packed by qlm's C packer (formats/gpu/int4pack.h), give the
 *     Python packer's bytes exactly;
 *   - the C path: those numbers packed by C in a different packing (GPTQ <->
 *     AWQ, Marlin -> GPTQ) convert to a model whose w4a16-path logits equal
 *     the fixture's bit for bit;
 *   - act-order (desc_act): the stored permutation and the weights in input
 *     order match the Python digests, and the model computes what the same
 *     weights unpermuted (an f16 checkpoint) compute, up to summation order;
 *   - broken checkpoints and settings qlm cannot keep exactly are named errors
 *     (and one-line CLI errors); qlm run --path w4a16 runs a converted one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/common/half.h"
#include "formats/common/hash.h"
#include "formats/common/json.h"
#include "formats/convert/convert.h"
#include "formats/convert/synth.h"
#include "formats/gpu/gpublock.h"
#include "formats/gpu/int4pack.h"
#include "formats/safetensors/safetensors.h"
#include "runtime/model/model.h"
#include "tests/common/testutil.h"

#define SEED 7
#define N_VARIANTS 5
#define ACT_ORDER 4 /* index of the act-order variant */
static const char *const k_variants[N_VARIANTS] = {"gptq", "gptq-pc-v2", "awq", "marlin", "gptq-actorder"};

typedef enum { P_GPTQ, P_GPTQ_V2, P_AWQ, P_MARLIN } packing;

typedef struct {
    packing pack;
    int64_t group; /* -1: per channel */
    bool sym;
} variant;

static const variant k_var[N_VARIANTS] = {
    {P_GPTQ, 128, false}, {P_GPTQ_V2, -1, false}, {P_AWQ, 128, false}, {P_MARLIN, 128, true}, {P_GPTQ, 128, false}};

#define N_LINEARS 7
static const struct {
    const char *hf;
    int64_t n, k;
} k_lin[N_LINEARS] = {
    {"model.layers.0.self_attn.q_proj", 128, 128}, {"model.layers.0.self_attn.k_proj", 64, 128},
    {"model.layers.0.self_attn.v_proj", 64, 128},  {"model.layers.0.self_attn.o_proj", 128, 128},
    {"model.layers.0.mlp.gate_proj", 256, 128},    {"model.layers.0.mlp.up_proj", 256, 128},
    {"model.layers.0.mlp.down_proj", 128, 256},
};

static const char *fixture(const char *rel)
{
    static char buf[4][1024];
    static int next;
    char *b = buf[next++ % 4];
    snprintf(b, sizeof buf[0], "%s/tests/data/int4ckpt/%s", tu_source_dir(), rel);
    return b;
}

static const char *converted(int v)
{
    static char buf[N_VARIANTS][1024];
    snprintf(buf[v], sizeof buf[v], "%s", tu_tmp(k_variants[v]));
    return buf[v];
}

static qlm_status convert(const char *src, const char *out)
{
    qlm_convert_opts o = {.src = src, .out = out, .type = QLM_DT_W4A16, .quiet = true};
    return qlm_convert(&o);
}

static int setup(void **state)
{
    (void)state;
    for (int v = 0; v < N_VARIANTS; v++)
        if (convert(fixture(k_variants[v]), converted(v)) != QLM_OK) {
            fprintf(stderr, "convert %s: %s\n", k_variants[v], qlm_errmsg());
            return -1;
        }
    return 0;
}

/* ---- the script's int4 numbers, regenerated ---- */

static uint64_t draw(const char *name, const char *what, uint64_t i)
{
    char key[160];
    int len = snprintf(key, sizeof key, "%s.weight#%s", name, what);
    uint64_t z = (SEED ^ qlm_fnv1a64(key, (size_t)len)) + (i + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* The int4 numbers of Linear li; g_idx [K] too (act-order: the script's shuffle). */
static void gen(int li, const variant *v, bool act_order, qlm_int4_mat *m, int32_t *g_idx)
{
    int64_t N = k_lin[li].n, K = k_lin[li].k, G = v->group < 0 ? 1 : K / v->group;
    *m = (qlm_int4_mat){N, K, malloc((size_t)(N * K)), malloc((size_t)(N * G) * 2), malloc((size_t)(N * G)), G};
    int64_t o[256];
    for (int64_t k = 0; k < K; k++)
        o[k] = k;
    for (int64_t i = K - 1; act_order && i > 0; i--) {
        int64_t j = (int64_t)(draw(k_lin[li].hf, "perm", (uint64_t)i) % (uint64_t)(i + 1)), t = o[i];
        o[i] = o[j];
        o[j] = t;
    }
    for (int64_t j = 0; j < K; j++)
        g_idx[o[j]] = (int32_t)(j / (K / G));
    for (int64_t i = 0; i < N * K; i++)
        m->q[i] = (uint8_t)(draw(k_lin[li].hf, "q", (uint64_t)i) >> 60);
    for (int64_t i = 0; i < N * G; i++) {
        m->s[i] = (uint16_t)(0x1800 + (draw(k_lin[li].hf, "s", (uint64_t)i) >> 32) % 0x800);
        m->z[i] = (uint8_t)(v->sym ? 8 : 1 + (draw(k_lin[li].hf, "z", (uint64_t)i) >> 32) % 15);
    }
}

static void mat_free(qlm_int4_mat *m)
{
    free(m->q);
    free(m->s);
    free(m->z);
}

/* ---- packed tensors of one Linear, by qlm's C packer ---- */

typedef struct {
    char name[160];
    qlm_st_dtype dtype;
    uint32_t rank;
    uint64_t dims[2];
    void *data;
    size_t nbytes;
} tensor;

static tensor *add(tensor *t, const char *base, const char *sfx, qlm_st_dtype dt, uint64_t d0, uint64_t d1)
{
    snprintf(t->name, sizeof t->name, "%s.%s", base, sfx);
    t->dtype = dt;
    t->rank = d1 ? 2 : 1;
    t->dims[0] = d0;
    t->dims[1] = d1;
    t->nbytes = (size_t)(d0 * (d1 ? d1 : 1)) * qlm_st_dtype_size(dt);
    t->data = calloc(1, t->nbytes);
    return t + 1;
}

/* Returns the number of tensors written to out[]; GPTQ's g_idx is `g_idx`. */
static int c_pack(packing p, const qlm_int4_mat *m, const int32_t *g_idx, const char *base, tensor *out)
{
    uint64_t N = (uint64_t)m->N, K = (uint64_t)m->K, G = (uint64_t)m->G;
    tensor *t = out;
    if (p == P_GPTQ || p == P_GPTQ_V2) {
        t = add(t, base, "qweight", QLM_ST_I32, K / 8, N);
        t = add(t, base, "qzeros", QLM_ST_I32, G, N / 8);
        t = add(t, base, "scales", QLM_ST_F16, G, N);
        t = add(t, base, "g_idx", QLM_ST_I32, K, 0);
        qlm_int4_mat v2 = *m;
        uint8_t *z = malloc((size_t)(N * G));
        for (uint64_t i = 0; p == P_GPTQ_V2 && i < N * G; i++)
            z[i] = (uint8_t)(m->z[i] + 1); /* the C packer stores z - 1; v2 stores z */
        if (p == P_GPTQ_V2)
            v2.z = z;
        qlm_gptq_pack(&v2, out[0].data, out[1].data, out[2].data, out[3].data);
        memcpy(out[3].data, g_idx, out[3].nbytes); /* the packer writes k / group */
        free(z);
    } else if (p == P_AWQ) {
        t = add(t, base, "qweight", QLM_ST_I32, K, N / 8);
        t = add(t, base, "qzeros", QLM_ST_I32, G, N / 8);
        t = add(t, base, "scales", QLM_ST_F16, G, N);
        qlm_awq_pack(m, out[0].data, out[1].data, out[2].data);
    } else {
        t = add(t, base, "B", QLM_ST_I32, K / 16, 2 * N);
        t = add(t, base, "s", QLM_ST_F16, G, N);
        assert_ok(qlm_marlin_pack(m, out[0].data, out[1].data));
    }
    return (int)(t - out);
}

static void free_tensors(tensor *t, int n)
{
    for (int i = 0; i < n; i++)
        free(t[i].data);
}

/* ---- 1. digests of the Python side ---- */

static void expect_digest(const void *data, size_t n, const char *want, const char *what, const char *name)
{
    char hex[65];
    qlm_sha256_hex(data, n, hex);
    if (strcmp(hex, want) != 0)
        fail_msg("%s %s: sha256 %s, the Python reference says %s", name, what, hex, want);
}

/* The stored act-order permutation of `weight` (checked against the Python
 * digest), or NULL; present exactly when the reference lists one. */
static const int32_t *act_perm(const qlm_file *f, const char *weight, const json_value *ex)
{
    char name[128];
    snprintf(name, sizeof name, "%.*s.perm", (int)(strlen(weight) - 7), weight);
    const qlm_tensor *p = qlm_file_find(f, name);
    const char *want = json_get_str(ex, "perm_sha256");
    if (!p != !want)
        fail_msg("%s: %s, but the Python reference %s one", weight, p ? "permuted" : "not permuted",
                 want ? "has" : "has no");
    if (!p)
        return NULL;
    assert_int_equal(p->dtype, QLM_DT_I32);
    expect_digest(p->data, (size_t)p->nbytes, want, "permutation", name);
    return p->data;
}

static void test_digests(void **state)
{
    (void)state;
    size_t len;
    char *text = tu_read(fixture("expected.json"), &len);
    json_doc *doc;
    assert_ok(json_parse(text, len, &doc));
    for (int v = 0; v < N_VARIANTS; v++) {
        const json_value *ex = json_get(json_root(doc), k_variants[v]);
        assert_non_null(ex);
        assert_int_equal(ex->n, N_LINEARS);
        qlm_file *f;
        assert_ok(qlm_file_open(converted(v), &f));
        for (size_t i = 0; i < ex->n; i++) {
            const json_member *e = &ex->u.members[i];
            const qlm_tensor *t = qlm_file_find(f, e->key);
            assert_non_null(t);
            assert_int_equal(t->dtype, QLM_DT_W4A16);
            expect_digest(t->data, (size_t)t->nbytes, json_get_str(&e->value, "w4a16_sha256"), "w4a16 blocks", e->key);
            int64_t rows = (int64_t)t->dims[0], cols = (int64_t)t->dims[1];
            const int32_t *perm = act_perm(f, e->key, &e->value);
            float *w = malloc(sizeof(float) * (size_t)(rows * cols)), *row = malloc(sizeof(float) * (size_t)cols);
            for (int64_t r = 0; r < rows; r++) { /* in the checkpoint's input order */
                qlm_gpu_dequant_row(QLM_DT_W4A16, t->data, cols, r, row);
                for (int64_t j = 0; j < cols; j++)
                    w[r * cols + (perm ? perm[j] : j)] = row[j];
            }
            free(row);
            expect_digest(w, sizeof(float) * (size_t)(rows * cols), json_get_str(&e->value, "f32_sha256"),
                          "f32 weights", e->key);
            free(w);
        }
        qlm_file_close(f);
    }
    json_free(doc);
    free(text);
}

/* ---- 2. the C packer gives the Python packer's bytes ---- */

static void test_c_packer_bytes(void **state)
{
    (void)state;
    for (int v = 0; v < N_VARIANTS; v++) {
        qlm_st *st;
        assert_ok(qlm_st_open_dir(fixture(k_variants[v]), &st));
        for (int li = 0; li < N_LINEARS; li++) {
            qlm_int4_mat m;
            tensor t[4];
            int32_t g_idx[256];
            gen(li, &k_var[v], v == ACT_ORDER, &m, g_idx);
            int n = c_pack(k_var[v].pack, &m, g_idx, k_lin[li].hf, t);
            for (int i = 0; i < n; i++) {
                const qlm_st_tensor *s = qlm_st_find(st, t[i].name);
                assert_non_null(s);
                assert_int_equal(s->nbytes, t[i].nbytes);
                if (memcmp(s->data, t[i].data, t[i].nbytes) != 0)
                    fail_msg("%s/%s: C packer and Python packer differ", k_variants[v], t[i].name);
            }
            free_tensors(t, n);
            mat_free(&m);
        }
        qlm_st_close(st);
    }
}

/* ---- folders written here ---- */

/* dir/model.safetensors from the fixture's tensors that `keep` accepts, then extra[]. */
static void write_st(const char *dir, const qlm_st *src, bool (*keep)(const char *), const tensor *extra, int n_extra)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    qlm_st_writer *w;
    assert_ok(qlm_st_writer_open(path, &w));
    for (size_t i = 0; i < qlm_st_count(src); i++) {
        const qlm_st_tensor *t = qlm_st_at(src, i);
        if (keep(t->name))
            assert_ok(qlm_st_writer_add(w, t->name, t->dtype, t->rank, t->dims));
    }
    for (int i = 0; i < n_extra; i++)
        assert_ok(qlm_st_writer_add(w, extra[i].name, extra[i].dtype, extra[i].rank, extra[i].dims));
    for (size_t i = 0; i < qlm_st_count(src); i++) {
        const qlm_st_tensor *t = qlm_st_at(src, i);
        if (keep(t->name))
            assert_ok(qlm_st_writer_data(w, t->data, (size_t)t->nbytes));
    }
    for (int i = 0; i < n_extra; i++)
        assert_ok(qlm_st_writer_data(w, extra[i].data, extra[i].nbytes));
    assert_ok(qlm_st_writer_finish(w));
}

/* A folder `dir` (under the test's tmp) with the fixture's tokenizer and a
 * config.json: the fixture's llama settings with `qc` as quantization_config. */
static const char *make_dir(const char *name, const char *qc)
{
    static char dir[1024];
    char path[3072], cfg[2048];
    snprintf(dir, sizeof dir, "%s", tu_tmp(name));
    snprintf(path, sizeof path, "mkdir -p '%s' && cp '%s' '%s/'", dir, fixture("gptq/tokenizer.json"), dir);
    char *out;
    assert_int_equal(tu_run(path, &out), 0);
    free(out);
    snprintf(cfg, sizeof cfg,
             "{\"model_type\": \"llama\", \"vocab_size\": 256, \"hidden_size\": 128, \"intermediate_size\": 256,"
             " \"num_hidden_layers\": 1, \"num_attention_heads\": 2, \"num_key_value_heads\": 1,"
             " \"max_position_embeddings\": 128, \"rms_norm_eps\": 1e-5, \"tie_word_embeddings\": true%s%s}",
             qc ? ", \"quantization_config\": " : "", qc ? qc : "");
    snprintf(path, sizeof path, "%s/config.json", dir);
    tu_write(path, cfg);
    return dir;
}

static bool is_plain(const char *name)
{
    size_t n = strlen(name);
    return n > 7 && strcmp(name + n - 7, ".weight") == 0;
}

/* ---- 3. the C path: other packing, same numbers, same logits ---- */

static float *logits(const char *model, qlm_path path)
{
    static const int32_t tok[4] = {104, 101, 108, 111};
    qlm_model *m;
    assert_ok(qlm_model_open(model, &m));
    int64_t V = qlm_model_hparams(m)->n_vocab;
    qlm_ctx_params prm = {.n_ctx = 16, .n_threads = 1};
    qlm_ctx *c;
    assert_ok(qlm_ctx_new(m, &prm, &c));
    assert_ok(qlm_ctx_set_path(c, path));
    float *lg = malloc(sizeof(float) * (size_t)(4 * V));
    assert_ok(qlm_ctx_eval(c, tok, 4, lg, true));
    qlm_ctx_free(c);
    qlm_model_close(m);
    return lg;
}

static void test_c_path_logits(void **state)
{
    (void)state;
    /* the other packing, and its quantization_config */
    static const packing other[ACT_ORDER] = {P_AWQ, P_GPTQ, P_GPTQ, P_GPTQ};
    static const char *const qc[ACT_ORDER] = {
        "{\"quant_method\": \"awq\", \"bits\": 4, \"group_size\": 128, \"version\": \"gemm\"}",
        "{\"quant_method\": \"gptq\", \"bits\": 4, \"group_size\": -1}",
        "{\"quant_method\": \"gptq\", \"bits\": 4, \"group_size\": 128}",
        "{\"quant_method\": \"gptq\", \"bits\": 4, \"group_size\": 128, \"sym\": true}"};
    for (int v = 0; v < ACT_ORDER; v++) { /* no other packing holds act-order */
        char name[64];
        snprintf(name, sizeof name, "cpath-%s", k_variants[v]);
        const char *dir = make_dir(name, qc[v]);
        qlm_st *st;
        assert_ok(qlm_st_open_dir(fixture(k_variants[v]), &st));
        tensor t[N_LINEARS * 4];
        int n = 0;
        for (int li = 0; li < N_LINEARS; li++) {
            qlm_int4_mat m;
            int32_t g_idx[256];
            gen(li, &k_var[v], false, &m, g_idx);
            n += c_pack(other[v], &m, g_idx, k_lin[li].hf, t + n);
            mat_free(&m);
        }
        write_st(dir, st, is_plain, t, n);
        free_tensors(t, n);
        qlm_st_close(st);
        snprintf(name, sizeof name, "cpath-%s.qlm", k_variants[v]);
        char out[1024];
        snprintf(out, sizeof out, "%s", tu_tmp(name));
        assert_ok(convert(dir, out));
        float *a = logits(converted(v), QLM_PATH_W4A16), *b = logits(out, QLM_PATH_W4A16);
        assert_memory_equal(a, b, sizeof(float) * 4 * 256);
        free(a);
        free(b);
    }
}

/* ---- 4. act-order runs the weights of the checkpoint ---- */

static bool is_norm_or_embd(const char *name) { return is_plain(name); }

static void test_act_order(void **state)
{
    (void)state;
    /* the act-order checkpoint with f32 embedding: every value exact */
    char ao[1024], plain[1024];
    snprintf(ao, sizeof ao, "%s", tu_tmp("actorder-f32.qlm"));
    snprintf(plain, sizeof plain, "%s", tu_tmp("plain-f32.qlm"));
    qlm_convert_opts o = {.src = fixture("gptq-actorder"), .out = ao, .type = QLM_DT_F32, .quiet = true};
    assert_ok(qlm_convert(&o));
    /* the same weights in input order as an f16 checkpoint (test_digests
     * checks these values against the Python reference) */
    qlm_file *f;
    assert_ok(qlm_file_open(converted(ACT_ORDER), &f));
    tensor t[N_LINEARS];
    int n_perm = 0;
    for (int li = 0; li < N_LINEARS; li++) {
        int64_t N = k_lin[li].n, K = k_lin[li].k;
        char base[64], name[96];
        snprintf(base, sizeof base, "blk.0.%s", li < 4 ? (const char *[]){"attn_q", "attn_k", "attn_v", "attn_output"}[li]
                                                     : (const char *[]){"ffn_gate", "ffn_up", "ffn_down"}[li - 4]);
        add(&t[li], k_lin[li].hf, "weight", QLM_ST_F16, (uint64_t)N, (uint64_t)K);
        snprintf(name, sizeof name, "%s.weight", base);
        const qlm_tensor *w = qlm_file_find(f, name);
        snprintf(name, sizeof name, "%s.perm", base);
        const qlm_tensor *pt = qlm_file_find(f, name);
        assert_non_null(w);
        n_perm += pt != NULL; /* one group (K = 128): nothing to permute */
        const int32_t *perm = pt ? pt->data : NULL;
        float row[256];
        uint16_t *dst = t[li].data;
        for (int64_t r = 0; r < N; r++) {
            qlm_gpu_dequant_row(QLM_DT_W4A16, w->data, K, r, row);
            for (int64_t j = 0; j < K; j++)
                dst[r * K + (perm ? perm[j] : j)] = qlm_f32_to_f16(row[j]); /* exact: the values are f16 */
        }
    }
    qlm_file_close(f);
    assert_int_equal(n_perm, 1); /* ffn_down, the layer with two groups */
    const char *dir = make_dir("plain", NULL);
    qlm_st *st;
    assert_ok(qlm_st_open_dir(fixture("gptq-actorder"), &st));
    write_st(dir, st, is_norm_or_embd, t, N_LINEARS);
    qlm_st_close(st);
    free_tensors(t, N_LINEARS);
    o.src = dir;
    o.out = plain;
    assert_ok(qlm_convert(&o));
    /* f32 path: the same products, summed in another order */
    float *a = logits(ao, QLM_PATH_F32), *b = logits(plain, QLM_PATH_F32);
    double worst = 0;
    for (int i = 0; i < 4 * 256; i++) {
        double d = a[i] > b[i] ? a[i] - b[i] : b[i] - a[i];
        worst = d > worst ? d : worst;
    }
    if (worst > 1e-4)
        fail_msg("act-order vs input-order weights: logits differ by %g", worst);
    free(a);
    free(b);
    /* the w4a16 path runs it */
    a = logits(converted(ACT_ORDER), QLM_PATH_W4A16);
    for (int i = 0; i < 4 * 256; i++)
        assert_true(a[i] == a[i] && a[i] > -1e4f && a[i] < 1e4f);
    free(a);
}

/* A copy of the act-order model with perm[i] of ffn_down set to v: the
 * loader must refuse anything but a permutation (the forward pass indexes
 * with it). */
static void expect_bad_perm(int i, int32_t v)
{
    size_t len;
    char *img = tu_read(converted(ACT_ORDER), &len);
    qlm_file *f;
    assert_ok(qlm_file_open(converted(ACT_ORDER), &f));
    const qlm_tensor *t = qlm_file_find(f, "blk.0.ffn_down.perm");
    assert_non_null(t);
    memcpy(img + t->offset + 4 * (size_t)i, &v, 4);
    qlm_file_close(f);
    const char *path = tu_tmp("badperm.qlm");
    FILE *o = fopen(path, "wb");
    assert_non_null(o);
    assert_int_equal(fwrite(img, 1, len, o), len);
    fclose(o);
    free(img);
    qlm_model *m = NULL;
    assert_status(qlm_model_open(path, &m), QLM_E_VALUE);
    assert_non_null(strstr(qlm_errmsg(), "blk.0.ffn_down.perm"));
    assert_null(m);
}

static void test_bad_perm(void **state)
{
    (void)state;
    expect_bad_perm(0, 256);   /* out of range */
    expect_bad_perm(5, -1);
    qlm_file *f;
    assert_ok(qlm_file_open(converted(ACT_ORDER), &f));
    int32_t first;
    memcpy(&first, qlm_file_find(f, "blk.0.ffn_down.perm")->data, 4);
    qlm_file_close(f);
    expect_bad_perm(1, first); /* a duplicate */
}

/* ---- 5. broken checkpoints and unsupported settings ---- */

static const char *g_drop;          /* tensor left out */
static bool keep_but_drop(const char *name) { return strcmp(name, g_drop) != 0; }

/* The gptq fixture's tensors with g_drop removed and `extra` added, under
 * config `qc`; converting it fails with `want` and a message containing `msg`. */
static void expect_fail(const char *name, const char *qc, const char *drop, const tensor *extra, int n_extra,
                        qlm_status want, const char *msg)
{
    const char *dir = make_dir(name, qc);
    qlm_st *st;
    assert_ok(qlm_st_open_dir(fixture("gptq"), &st));
    g_drop = drop ? drop : "";
    write_st(dir, st, keep_but_drop, extra, n_extra);
    qlm_st_close(st);
    char out[1024];
    snprintf(out, sizeof out, "%s.qlm", dir);
    assert_status(convert(dir, out), want);
    if (!strstr(qlm_errmsg(), msg))
        fail_msg("%s: message \"%s\" does not contain \"%s\"", name, qlm_errmsg(), msg);
}

#define QC_GPTQ "{\"quant_method\": \"gptq\", \"bits\": 4, \"group_size\": 128, \"desc_act\": false}"
#define Q_PROJ "model.layers.0.self_attn.q_proj"

static void test_bad_checkpoints(void **state)
{
    (void)state;
    qlm_st *st;
    assert_ok(qlm_st_open_dir(fixture("gptq"), &st));
    const qlm_st_tensor *gi = qlm_st_find(st, Q_PROJ ".g_idx"), *qw = qlm_st_find(st, Q_PROJ ".qweight");
    assert_non_null(gi);
    assert_non_null(qw);
    tensor t = {.name = Q_PROJ ".g_idx", .dtype = QLM_ST_I32, .rank = 1, .dims = {128, 0}, .nbytes = 512};
    int32_t g[128];
    t.data = g;
    memcpy(g, gi->data, sizeof g);
    g[5] = 7; /* one group only */
    expect_fail("gidx-range", QC_GPTQ, Q_PROJ ".g_idx", &t, 1, QLM_E_VALUE, "g_idx[5] = 7");
    /* act-order g_idx whose groups are not all K/G inputs (129 in group 1) */
    const qlm_st_tensor *dg = qlm_st_find(st, "model.layers.0.mlp.down_proj.g_idx");
    int32_t g2[256];
    memcpy(g2, dg->data, sizeof g2);
    g2[3] = 1;
    tensor t2 = {.name = "model.layers.0.mlp.down_proj.g_idx", .dtype = QLM_ST_I32, .rank = 1, .dims = {256, 0},
                 .data = g2, .nbytes = sizeof g2};
    expect_fail("act-order", QC_GPTQ, t2.name, &t2, 1, QLM_E_VALUE, "group 1 has more than 128 inputs");
    /* qweight transposed: [N, K/8] instead of [K/8, N] */
    tensor t3 = {.name = Q_PROJ ".qweight", .dtype = QLM_ST_I32, .rank = 2, .dims = {128, 16},
                 .data = (void *)qw->data, .nbytes = (size_t)qw->nbytes};
    expect_fail("qweight-shape", QC_GPTQ, t3.name, &t3, 1, QLM_E_SHAPE, Q_PROJ ".qweight: shape [128, 16]");
    expect_fail("no-scales", QC_GPTQ, Q_PROJ ".scales", NULL, 0, QLM_E_MISSING, Q_PROJ ".scales is missing");
    /* scales in bf16 cannot be kept as the f16 scales of w4a16 */
    const qlm_st_tensor *sc = qlm_st_find(st, Q_PROJ ".scales");
    tensor t4 = {.name = Q_PROJ ".scales", .dtype = QLM_ST_BF16, .rank = 2, .dims = {1, 128},
                 .data = (void *)sc->data, .nbytes = (size_t)sc->nbytes};
    expect_fail("bf16-scales", QC_GPTQ, t4.name, &t4, 1, QLM_E_DTYPE, "dtype BF16, expected F16");
    /* settings */
    expect_fail("bits8", "{\"quant_method\": \"gptq\", \"bits\": 8, \"group_size\": 128}", NULL, NULL, 0,
                QLM_E_UNSUPPORTED, "bits = 8");
    expect_fail("group64", "{\"quant_method\": \"gptq\", \"bits\": 4, \"group_size\": 64}", NULL, NULL, 0,
                QLM_E_UNSUPPORTED, "group_size = 64");
    expect_fail("method", "{\"quant_method\": \"bitsandbytes\", \"bits\": 4}", NULL, NULL, 0, QLM_E_UNSUPPORTED,
                "quant_method \"bitsandbytes\"");
    expect_fail("gemv", "{\"quant_method\": \"awq\", \"bits\": 4, \"group_size\": 128, \"version\": \"gemv\"}", NULL,
                NULL, 0, QLM_E_UNSUPPORTED, "version \"gemv\"");
    expect_fail("format", "{\"quant_method\": \"gptq\", \"bits\": 4, \"group_size\": 128, \"checkpoint_format\": "
                "\"bitblas\"}", NULL, NULL, 0, QLM_E_UNSUPPORTED, "checkpoint_format \"bitblas\"");
    /* packed tensors without a quantization_config */
    expect_fail("no-config", NULL, NULL, NULL, 0, QLM_E_MISSING, "no quantization_config");
    qlm_st_close(st);
}

/* ---- 6. the CLI: qlm convert + qlm run --path w4a16, and a one-line error ---- */

static void test_cli(void **state)
{
    (void)state;
    char *out;
    const char *model = tu_tmp("cli-awq.qlm");
    assert_int_equal(tu_qlm(&out, "convert '%s' -o '%s' --type w4a16 --quiet", fixture("awq"), model), 0);
    free(out);
    assert_int_equal(tu_qlm(&out, "run -m '%s' --path w4a16 -p hello -n 4 --temp 0", model), 0);
    assert_non_null(strstr(out, "hello"));
    free(out);
    const char *dir = make_dir("cli-bits8", "{\"quant_method\": \"gptq\", \"bits\": 8, \"group_size\": 128}");
    assert_int_equal(tu_qlm(&out, "convert '%s' -o '%s.qlm' --quiet", dir, dir), 1);
    if (strncmp(out, "qlm: ", 5) != 0 || !strstr(out, "bits = 8") || strchr(out, '\n') != out + strlen(out) - 1)
        fail_msg("want one line 'qlm: ...bits = 8...', got \"%s\"", out);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_digests),
        cmocka_unit_test(test_c_packer_bytes),
        cmocka_unit_test(test_c_path_logits),
        cmocka_unit_test(test_act_order),
        cmocka_unit_test(test_bad_perm),
        cmocka_unit_test(test_bad_checkpoints),
        cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
