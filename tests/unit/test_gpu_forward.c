/* Models in the GPU block formats through the forward pass: a synthetic
 * 2-layer model (qlm synth) converted with qlm convert --type fp8|fp8-g128|
 * nvfp4|mxfp4|w4a16 runs under its GPU contract, and every linear layer's
 * output (captured with qlm_ctx_set_dump) agrees with a double-precision
 * re-computation from the operand it was given and the weights decoded from
 * the file's bytes by tests/common/gpu_values.c, within the f32 accumulation
 * bound; the operand is the right rounding of the layer's input; logits do not
 * depend on the thread count or on batching; a path a weight cannot run is a
 * named error. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/common/half.h"
#include "formats/qref/qref.h"
#include "runtime/model/model.h"
#include "runtime/tokenizer/tokenizer.h"
#include "tests/common/gpu_values.h"
#include "tests/common/testutil.h"
/* after testutil.h: qlm.h uses the qlm_status of formats/common/err.h */
#include "include/qlm.h"

#define NT 3
static const int32_t k_tok[NT] = {1, 500, 7777};
static const char *const k_types[] = {"fp8", "fp8-g128", "nvfp4", "mxfp4", "w4a16"};
#define N_TYPES 5

static const char *model_path(const char *type)
{
    static char buf[N_TYPES][1024];
    for (int i = 0; i < N_TYPES; i++)
        if (strcmp(type, k_types[i]) == 0) {
            snprintf(buf[i], sizeof buf[i], "%s", tu_tmp(type));
            return buf[i];
        }
    return NULL;
}

static int setup(void **state)
{
    (void)state;
    const char *cfg = tu_tmp("cfg.json"), *dir = tu_tmp("hf");
    tu_write(cfg, "{\"model_type\": \"qwen2\", \"vocab_size\": 49152, \"hidden_size\": 128, \"intermediate_size\": 256,"
             " \"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"num_key_value_heads\": 2,"
             " \"max_position_embeddings\": 64, \"tie_word_embeddings\": true}");
    char cmd[4096], *out = NULL;
    snprintf(cmd, sizeof cmd, "'%s' synth --config '%s' --tokenizer '%s' --seed 9 -o '%s'", tu_qlm_bin(), cfg,
             tu_shared("models/tokenizers/smollm2-135m-instruct"), dir);
    if (tu_run(cmd, &out) != 0) {
        fprintf(stderr, "%s\n", out);
        return -1;
    }
    free(out);
    for (int i = 0; i < N_TYPES; i++) {
        snprintf(cmd, sizeof cmd, "'%s' convert '%s' -o '%s' --type %s --quiet", tu_qlm_bin(), dir,
                 model_path(k_types[i]), k_types[i]);
        if (tu_run(cmd, &out) != 0) {
            fprintf(stderr, "%s\n", out);
            return -1;
        }
        free(out);
    }
    return 0;
}

/* ---- capture of the dump ---- */
typedef struct {
    char name[96];
    uint32_t dtype;
    int64_t rows, cols;
    void *data;
} cap;

typedef struct {
    cap c[256];
    int n;
} capture;

static size_t elem_size(uint32_t dt) { return dt == QLM_DT_F32 ? 4 : dt == QLM_DUMP_E4M3 ? 1 : 2; }

static void on_dump(void *user, const char *name, uint32_t dtype, int64_t rows, int64_t cols, const void *data)
{
    capture *cp = user;
    assert_true(cp->n < 256);
    cap *c = &cp->c[cp->n++];
    snprintf(c->name, sizeof c->name, "%s", name);
    c->dtype = dtype;
    c->rows = rows;
    c->cols = cols;
    size_t n = (size_t)(rows * cols) * elem_size(dtype);
    c->data = malloc(n);
    memcpy(c->data, data, n);
}

static const cap *find(const capture *cp, const char *layer, const char *suffix)
{
    char want[128];
    snprintf(want, sizeof want, "%s.%s", layer, suffix);
    for (int i = 0; i < cp->n; i++)
        if (strcmp(cp->c[i].name, want) == 0)
            return &cp->c[i];
    return NULL;
}

static double operand(const cap *a, int64_t i)
{
    switch (a->dtype) {
    case QLM_DT_F16: return qlm_f16_to_f32(((const uint16_t *)a->data)[i]);
    case QLM_DT_BF16: return qlm_bf16_to_f32(((const uint16_t *)a->data)[i]);
    default: return gv_e4m3_signed(((const uint8_t *)a->data)[i]);
    }
}

/* The operand is the contract's rounding of x: f16/bf16 nearest (checked
 * against formats/common/half.h, whose RNE equals CUDA's off NaN), E4M3 the
 * nearest code of x / scale with scale = max(amax / 448, 1/(448*512)). */
static void check_operand(const cap *x, const cap *a, const cap *sc)
{
    for (int64_t t = 0; t < x->rows; t++) {
        const float *xr = (const float *)x->data + t * x->cols;
        float s = 1;
        if (sc) {
            float amax = 0;
            for (int64_t k = 0; k < x->cols; k++)
                amax = fmaxf(amax, fabsf(xr[k]));
            s = fmaxf(amax / 448.0f, 1.0f / (448.0f * 512.0f));
            assert_true(((const float *)sc->data)[t] == s);
        }
        for (int64_t k = 0; k < x->cols; k++) {
            int64_t i = t * x->cols + k;
            if (a->dtype == QLM_DT_F16)
                assert_int_equal(((const uint16_t *)a->data)[i], qlm_f32_to_f16(xr[k]));
            else if (a->dtype == QLM_DT_BF16)
                assert_int_equal(((const uint16_t *)a->data)[i], qlm_f32_to_bf16(xr[k]));
            else
                assert_int_equal(((const uint8_t *)a->data)[i] & 0x7F, gv_nearest(gv_e4m3, 126, xr[k] / s));
        }
    }
}

/* y against sum_k a_k w_k in double, with the contract's post scales; the
 * bound is that of K + 3 f32 roundings on the sum of |terms|. Returns the
 * largest error in units of the bound. */
static double check_linear(const qlm_file *f, const capture *cp, const char *layer, const char *tensor)
{
    const cap *x = find(cp, layer, "x"), *a = find(cp, layer, "a"), *sc = find(cp, layer, "a_scale"),
              *y = find(cp, layer, "y");
    if (!x || !a || !y)
        fail_msg("%s: dump lacks x/a/y", layer);
    const qlm_tensor *w = qlm_file_find(f, tensor);
    assert_non_null(w);
    assert_int_equal(y->cols, (int64_t)w->dims[0]);
    assert_int_equal(a->cols, (int64_t)w->dims[1]);
    check_operand(x, a, sc);
    int64_t K = a->cols, G = w->dtype == QLM_DT_FP8_G128 ? 128 : K;
    double worst = 0;
    for (int64_t n = 0; n < y->cols; n++)
        for (int64_t t = 0; t < y->rows; t++) {
            double ref = 0, mag = 0;
            for (int64_t k0 = 0; k0 < K; k0 += G) {
                double part = 0, pmag = 0, post = gv_post_scale(w, n, k0);
                for (int64_t k = k0; k < k0 + G; k++) {
                    double term = operand(a, t * K + k) * gv_weight(w, n, k);
                    part += term;
                    pmag += fabs(term);
                }
                ref += part * post;
                mag += pmag * fabs(post);
            }
            if (sc) {
                ref *= ((const float *)sc->data)[t];
                mag *= ((const float *)sc->data)[t];
            }
            double got = ((const float *)y->data)[t * y->cols + n];
            double bound = (double)(K + 3) * ldexp(mag, -24) + 1e-38;
            double e = fabs(got - ref) / bound;
            if (e > 1)
                fail_msg("%s[%lld][%lld]: %.9g, double re-computation %.9g, bound %.3g", layer, (long long)t,
                         (long long)n, got, ref, bound);
            worst = e > worst ? e : worst;
        }
    return worst;
}

static float *eval(const char *path, int threads, int step, capture *cp, qlm_path p)
{
    qlm_model *m;
    assert_ok(qlm_model_open(path, &m));
    int64_t V = qlm_model_hparams(m)->n_vocab;
    qlm_ctx_params prm = {.n_ctx = 64, .n_threads = threads};
    qlm_ctx *c;
    assert_ok(qlm_ctx_new(m, &prm, &c));
    assert_ok(qlm_ctx_set_path(c, p));
    if (cp)
        qlm_ctx_set_dump(c, on_dump, cp);
    float *lg = malloc(sizeof(float) * (size_t)(NT * V));
    for (int i = 0; i < NT; i += step)
        assert_ok(qlm_ctx_eval(c, k_tok + i, step, lg + i * V, true));
    qlm_ctx_free(c);
    qlm_model_close(m);
    return lg;
}

static void free_capture(capture *cp)
{
    for (int i = 0; i < cp->n; i++)
        free(cp->c[i].data);
}

static void check_type(const char *type)
{
    static const char *const lin[] = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"};
    capture *cp = calloc(1, sizeof *cp);
    float *lg = eval(model_path(type), 1, NT, cp, QLM_PATH_NATIVE);
    qlm_file *f;
    assert_ok(qlm_file_open(model_path(type), &f));
    double worst = 0;
    for (int l = 0; l < 2; l++)
        for (int i = 0; i < 7; i++) {
            char layer[64], tensor[80];
            snprintf(layer, sizeof layer, "blk.%d.%s", l, lin[i]);
            snprintf(tensor, sizeof tensor, "%s.weight", layer);
            double e = check_linear(f, cp, layer, tensor);
            worst = e > worst ? e : worst;
        }
    double e = check_linear(f, cp, "output", "token_embd.weight");
    worst = e > worst ? e : worst;
    /* the logits are the output layer's y */
    const cap *y = find(cp, "output", "y");
    assert_memory_equal(y->data, lg, (size_t)(NT * y->cols) * sizeof(float));
    printf("%-9s largest |y - double| / bound = %.3g over all linear layers\n", type, worst);
    qlm_file_close(f);
    free_capture(cp);
    free(cp);
    /* two threads and one token at a time give the same bits */
    float *lg2 = eval(model_path(type), 2, 1, NULL, QLM_PATH_NATIVE);
    assert_memory_equal(lg, lg2, sizeof(float) * (size_t)NT * 49152);
    free(lg2);
    free(lg);
}

static void test_fp8(void **state) { (void)state; check_type("fp8"); }
static void test_fp8_g128(void **state) { (void)state; check_type("fp8-g128"); }
static void test_nvfp4(void **state) { (void)state; check_type("nvfp4"); }
static void test_mxfp4(void **state) { (void)state; check_type("mxfp4"); }
static void test_w4a16(void **state) { (void)state; check_type("w4a16"); }

/* The same weights under the f32 and bf16 paths; a path the weights do not
 * carry is QLM_E_DTYPE naming the tensor. */
static void test_paths(void **state)
{
    (void)state;
    float *a = eval(model_path("mxfp4"), 2, NT, NULL, QLM_PATH_F32);
    float *b = eval(model_path("mxfp4"), 1, 1, NULL, QLM_PATH_F32);
    assert_memory_equal(a, b, sizeof(float) * (size_t)NT * 49152);
    float *c = eval(model_path("mxfp4"), 1, NT, NULL, QLM_PATH_BF16);
    assert_memory_not_equal(a, c, sizeof(float) * (size_t)NT * 49152); /* bf16 activations round */
    free(a);
    free(b);
    free(c);
    qlm_model *m;
    assert_ok(qlm_model_open(model_path("fp8"), &m));
    qlm_ctx_params prm = {.n_ctx = 16, .n_threads = 1};
    qlm_ctx *ctx;
    assert_ok(qlm_ctx_new(m, &prm, &ctx));
    assert_status(qlm_ctx_set_path(ctx, QLM_PATH_NVFP4), QLM_E_DTYPE);
    assert_non_null(strstr(qlm_errmsg(), "blk.0.attn_q.weight"));
    assert_status(qlm_ctx_set_path(ctx, (qlm_path)99), QLM_E_ARG);
    assert_ok(qlm_ctx_set_path(ctx, QLM_PATH_FP8_W8A8));
    qlm_ctx_free(ctx);
    qlm_model_close(m);
}

/* ---- qlm ref / qlm ref-compare ---- */

static void expect_cmd(int rc, const char *text, char *out)
{
    (void)rc;
    if (text && !strstr(out, text))
        fail_msg("output lacks '%s': %s", text, out);
    free(out);
}

/* The dump is deterministic across threads, holds what the forward pass
 * computed (the logits), and ref-compare finds the difference between paths. */
static void test_ref_cli(void **state)
{
    (void)state;
    char a[1100], b[1100], c[1100], *out = NULL;
    snprintf(a, sizeof a, "%s", tu_tmp("a.qref.zst"));
    snprintf(b, sizeof b, "%s", tu_tmp("b.qref.zst"));
    snprintf(c, sizeof c, "%s", tu_tmp("c.qref.zst"));
    const char *m = model_path("fp8");
    assert_int_equal(tu_qlm(&out, "ref -m '%s' -p 'Hi there' --path fp8-w8a8 -t 1 -o '%s'", m, a), 0);
    free(out);
    assert_int_equal(tu_qlm(&out, "ref -m '%s' -p 'Hi there' -t 2 -o '%s'", m, b), 0);
    free(out);
    assert_int_equal(tu_qlm(&out, "ref-compare '%s' '%s'", a, b), 0);
    expect_cmd(0, "0 differ, 0 unmatched", out);
    assert_int_equal(tu_qlm(&out, "ref -m '%s' -p 'Hi there' --path bf16 -o '%s'", m, c), 0);
    free(out);
    assert_int_equal(tu_qlm(&out, "ref-compare '%s' '%s'", a, c), 1);
    expect_cmd(1, "first mismatching tensor: blk.0.attn_q.y", out);

    /* the container: metadata, one E4M3 operand with its scales, logits = output.y */
    qlm_qref r;
    assert_ok(qlm_qref_read(a, &r));
    assert_non_null(strstr(r.meta, "\"path\": \"fp8-w8a8\""));
    const qlm_qref_tensor *qa = NULL, *y = NULL, *sc = NULL;
    for (size_t i = 0; i < r.n; i++) {
        if (strcmp(r.t[i].name, "blk.1.ffn_down.a") == 0)
            qa = &r.t[i];
        if (strcmp(r.t[i].name, "blk.1.ffn_down.a_scale") == 0)
            sc = &r.t[i];
        if (strcmp(r.t[i].name, "output.y") == 0)
            y = &r.t[i];
    }
    assert_non_null(qa);
    assert_non_null(sc);
    assert_non_null(y);
    assert_int_equal(qa->dtype, QLM_QREF_E4M3);
    assert_int_equal(qa->cols, 256);
    assert_int_equal(sc->rows, qa->rows);
    assert_int_equal(y->cols, 49152);
    qlm_model *mm;
    assert_ok(qlm_model_open(m, &mm));
    qlm_tokenizer *tok;
    assert_ok(qlm_tok_load_qlm(qlm_model_file(mm), &tok));
    int32_t *ids;
    size_t n;
    qlm_tok_encode_opts eo = {qlm_tok_add_bos(tok), true};
    assert_ok(qlm_tok_encode(tok, "Hi there", 8, &eo, &ids, &n));
    assert_int_equal(n, y->rows);
    qlm_ctx_params prm = {.n_ctx = 16, .n_threads = 1};
    qlm_ctx *ctx;
    assert_ok(qlm_ctx_new(mm, &prm, &ctx));
    float *lg = malloc(sizeof(float) * n * 49152);
    assert_ok(qlm_ctx_eval(ctx, ids, (int64_t)n, lg, true));
    assert_memory_equal(lg, y->data, sizeof(float) * n * 49152);
    free(lg);
    free(ids);
    qlm_ctx_free(ctx);
    qlm_tok_free(tok);
    qlm_model_close(mm);
    qlm_qref_free(&r);

    assert_int_equal(tu_qlm(&out, "ref -m '%s' -p x --path nvfp4 -o '%s'", m, c), 1);
    expect_cmd(1, "cannot run the nvfp4 path", out);
    assert_int_equal(tu_qlm(&out, "ref -m '%s' -p x --path nope -o '%s'", m, c), 2);
    expect_cmd(2, "--path", out);
    assert_int_equal(tu_qlm(&out, "ref-compare '%s'", a), 2);
    free(out);
    assert_int_equal(tu_qlm(&out, "ref-compare '%s' '%s'", a, m), 1); /* not zstd */
    expect_cmd(1, "qlm: ", out);
}

/* Every prefix of a valid stream and every single-byte change of its
 * headers either parses or fails with a named status, never reads outside. */
static void test_qref_parse(void **state)
{
    (void)state;
    qlm_qref_writer *w;
    assert_ok(qlm_qref_writer_new("{\"format\": 1}", &w));
    float f[6] = {1, 2, 3, 4, 5, 6};
    uint8_t e[4] = {0x38, 0xB8, 0x7E, 0};
    qlm_qref_add(w, "t.y", 0, 2, 3, f);
    qlm_qref_add(w, "t.a", QLM_QREF_E4M3, 1, 4, e);
    const char *path = tu_tmp("p.qref.zst");
    assert_ok(qlm_qref_finish(w, path));
    qlm_qref r;
    assert_ok(qlm_qref_read(path, &r));
    assert_int_equal(r.n, 2);
    assert_string_equal(r.t[1].name, "t.a");
    assert_memory_equal(r.t[0].data, f, sizeof f);
    size_t size = 8 + 4 + 13 + (4 + 3 + 20 + 24) + (4 + 3 + 20 + 4);
    uint8_t *img = malloc(size), *buf = malloc(size);
    memcpy(img, r.buf, size);
    qlm_qref_free(&r);
    for (size_t cut = 0; cut <= size; cut++) {
        memcpy(buf, img, cut);
        qlm_qref q;
        qlm_status st = qlm_qref_parse(buf, cut, &q);
        bool boundary = cut == 25 || cut == 25 + 51 || cut == size;
        if (boundary)
            assert_ok(st);
        else
            assert_true(st == QLM_E_TRUNCATED || st == QLM_E_MAGIC);
        if (!st)
            qlm_qref_free(&q);
    }
    for (size_t i = 8; i < 25 + 51 + 27; i++)
        for (int v = 0; v < 256; v += 51) {
            memcpy(buf, img, size);
            buf[i] = (uint8_t)v;
            qlm_qref q;
            if (qlm_qref_parse(buf, size, &q) == QLM_OK)
                qlm_qref_free(&q);
        }
    free(img);
    free(buf);
}

/* The same through the public API (include/qlm.h). */
static void count_dump(void *user, const char *name, uint32_t dtype, int64_t rows, int64_t cols, const void *data)
{
    (void)name, (void)dtype, (void)rows, (void)cols, (void)data;
    ++*(int *)user;
}

static void test_public_api(void **state)
{
    (void)state;
    qlm_lm *lm;
    assert_ok(qlm_lm_open(model_path("fp8"), &lm));
    qlm_session_params sp = qlm_session_params_default();
    sp.n_ctx = 16;
    sp.n_threads = 1;
    qlm_session *s;
    assert_ok(qlm_session_new(lm, &sp, &s));
    assert_status(qlm_session_set_path(s, "bogus"), QLM_E_ARG);
    assert_status(qlm_session_set_path(s, "mxfp4"), QLM_E_DTYPE);
    assert_ok(qlm_session_set_path(s, "fp8-w8a8"));
    int n_dumps = 0;
    assert_ok(qlm_session_set_dump(s, count_dump, &n_dumps));
    float *lg = malloc(sizeof(float) * NT * 49152);
    assert_ok(qlm_session_eval(s, k_tok, NT, lg, 1));
    assert_int_equal(n_dumps, 2 * (7 * 4 + 1) + 4); /* x, a, a_scale, y per linear; blk.N.out; output */
    float *ref = eval(model_path("fp8"), 1, NT, NULL, QLM_PATH_FP8_W8A8);
    assert_memory_equal(lg, ref, sizeof(float) * NT * 49152);
    free(ref);
    free(lg);
    qlm_session_free(s);
    qlm_lm_close(lm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fp8),  cmocka_unit_test(test_fp8_g128), cmocka_unit_test(test_nvfp4),
        cmocka_unit_test(test_mxfp4), cmocka_unit_test(test_w4a16),   cmocka_unit_test(test_paths),
        cmocka_unit_test(test_ref_cli), cmocka_unit_test(test_qref_parse), cmocka_unit_test(test_public_api),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
