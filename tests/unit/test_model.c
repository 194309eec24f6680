/* The forward pass on tiny random-weight models of every architecture and
 * weight dtype, against an independent double-precision reference
 * (tests/common/tinymodel.c); determinism across threads and batching; and
 * bad models rejected with errors naming the key or tensor. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/qlm/keys.h"
#include "runtime/model/model.h"
#include "simd/kernels.h"
#include "tests/common/testutil.h"
#include "tests/common/tinymodel.h"

#define N_TOK 150 /* past attention's 64-key blocks and 16-row units */
#define N_CTX 192

static const tiny_spec k_llama = {"llama", 96, 64, 2, 96, 4, 2, 16, 256, true, false, false, 0, 10000.0, QLM_DT_F32};

static void tokens(int32_t *t, int64_t n, int64_t V)
{
    for (int64_t i = 0; i < n; i++)
        t[i] = (int32_t)((i * 37 + 11) % V);
}

static float *run_model(const char *path, int threads, int64_t n_batch, const int32_t *tok, int64_t n, int step)
{
    qlm_model *m;
    assert_ok(qlm_model_open(path, &m));
    int64_t V = qlm_model_hparams(m)->n_vocab;
    qlm_ctx_params p = {.n_threads = threads, .n_batch = n_batch};
    qlm_ctx *c;
    assert_ok(qlm_ctx_new(m, &p, &c));
    float *lg = malloc(sizeof(float) * (size_t)(n * V));
    for (int64_t i = 0; i < n; i += step) {
        int64_t k = n - i < step ? n - i : step;
        assert_ok(qlm_ctx_eval(c, tok + i, k, lg + i * V, true));
    }
    assert_int_equal(qlm_ctx_pos(c), n);
    qlm_ctx_free(c);
    qlm_model_close(m);
    return lg;
}

/* Max |runtime - reference| over every logit of every position. */
static double max_err(const tiny_spec *s, const char *name, double *rms_out)
{
    const char *path = tu_tmp(name);
    tiny_model *tm = tiny_write(s, path, NULL, NULL);
    int32_t tok[N_TOK];
    tokens(tok, N_TOK, s->V);
    double *ref = malloc(sizeof(double) * N_TOK * s->V);
    tiny_reference(tm, tok, N_TOK, ref);
    float *lg = run_model(path, 1, 16, tok, N_TOK, N_TOK);
    double err = 0, ss = 0;
    for (int64_t i = 0; i < N_TOK * s->V; i++) {
        double e = fabs(lg[i] - ref[i]);
        err = e > err ? e : err;
        ss += ref[i] * ref[i];
    }
    *rms_out = sqrt(ss / (double)(N_TOK * s->V));
    free(lg);
    free(ref);
    tiny_free(tm);
    remove(path);
    return err;
}

static void check(const tiny_spec *s, const char *name, double tol)
{
    double rms;
    double e = max_err(s, name, &rms);
    print_message("%-14s max |err| %.3g (logit rms %.3g, tolerance %.3g)\n", name, e, rms, tol);
    if (!(e <= tol))
        fail_msg("%s: logits differ from the double reference by %g (> %g)", name, e, tol);
}

/* Float weights: only float32 rounding of activations separates us from the
 * reference, a few ulps of O(1) logits accumulated over 2 layers. */
#define TOL_FLOAT 2e-4
/* Q8/Q4 weights: activations are quantized to 8 bits per block of 32 before
 * each product (the kernel contract), a relative error of up to 1/254 per
 * element that averages out over the dot products: about 1% of the logit
 * scale. */
#define TOL_QUANT(rms) (0.05 * (rms))

static void test_llama_dtypes(void **state)
{
    (void)state;
    static const qlm_dtype dts[] = {QLM_DT_F32, QLM_DT_F16, QLM_DT_BF16};
    static const char *names[] = {"llama-f32", "llama-f16", "llama-bf16"};
    for (int i = 0; i < 3; i++) {
        tiny_spec s = k_llama;
        s.wtype = dts[i];
        check(&s, names[i], TOL_FLOAT);
    }
}

static void test_llama_quant(void **state)
{
    (void)state;
    static const qlm_dtype dts[] = {QLM_DT_Q8, QLM_DT_Q4};
    static const char *names[] = {"llama-q8", "llama-q4"};
    for (int i = 0; i < 2; i++) {
        tiny_spec s = k_llama;
        s.wtype = dts[i];
        double rms;
        double e = max_err(&s, names[i], &rms);
        print_message("%-14s max |err| %.3g (logit rms %.3g)\n", names[i], e, rms);
        if (!(e <= TOL_QUANT(rms)))
            fail_msg("%s: logits differ from the double reference by %g (> %g)", names[i], e, TOL_QUANT(rms));
    }
}

static void test_qwen2_bias_untied(void **state)
{
    (void)state;
    tiny_spec s = k_llama;
    s.arch = "qwen2";
    s.bias = true;
    s.tied = false;
    s.theta = 1e6;
    check(&s, "qwen2-f32", TOL_FLOAT);
}

static void test_qwen3_qknorm_headdim(void **state)
{
    (void)state;
    tiny_spec s = k_llama;
    s.arch = "qwen3";
    s.qk_norm = true;
    s.hd = 32; /* H * hd = 128 != D = 64, as in Qwen3 */
    s.KV = 1;
    s.wtype = QLM_DT_BF16;
    check(&s, "qwen3-bf16", TOL_FLOAT);
}

static void test_rope_scaling(void **state)
{
    (void)state;
    tiny_spec s = k_llama;
    s.rope_scaling = 1;
    s.tied = false;
    s.theta = 500000.0;
    check(&s, "llama3-rope", TOL_FLOAT);
    s.rope_scaling = 2;
    check(&s, "linear-rope", TOL_FLOAT);
}

/* Bit-identical logits for 1/2/4 threads, and for one batch vs token by
 * token vs uneven chunks (n_batch smaller than the prompt). */
static void test_determinism(void **state)
{
    (void)state;
    static const qlm_dtype dts[] = {QLM_DT_F32, QLM_DT_Q4, QLM_DT_Q4};
    for (int d = 0; d < 3; d++) {
        tiny_spec s = k_llama;
        s.wtype = dts[d];
        s.F = 160; /* rows not a multiple of 16 per thread */
        if (d == 2)
            s.hd = 32; /* whole activation blocks per head: threads quantize their own heads */
        const char *path = tu_tmp("det.qlm");
        tiny_model *tm = tiny_write(&s, path, NULL, NULL);
        int32_t tok[N_TOK];
        tokens(tok, N_TOK, s.V);
        size_t bytes = sizeof(float) * N_TOK * (size_t)s.V;
        float *a = run_model(path, 1, 0, tok, N_TOK, N_TOK);
        float *b = run_model(path, 2, 0, tok, N_TOK, N_TOK);
        float *c = run_model(path, 4, 0, tok, N_TOK, N_TOK);
        float *e = run_model(path, 3, 0, tok, N_TOK, 1);
        float *f = run_model(path, 2, 7, tok, N_TOK, 13);
        assert_memory_equal(a, b, bytes);
        assert_memory_equal(a, c, bytes);
        assert_memory_equal(a, e, bytes);
        assert_memory_equal(a, f, bytes);
        free(a), free(b), free(c), free(e), free(f);
        tiny_free(tm);
        remove(path);
    }
}

/* Every kernel set this CPU has gives the scalar reference's logits bit for bit. */
static void test_isa_equal(void **state)
{
    (void)state;
    static const char *isas[] = {"avx2", "avx512", "neon"};
    tiny_spec s = k_llama;
    s.F = 160;
    const char *path = tu_tmp("isa.qlm");
    int32_t tok[N_TOK];
    tokens(tok, N_TOK, s.V);
    static const qlm_dtype dts[] = {QLM_DT_F32, QLM_DT_F16, QLM_DT_BF16, QLM_DT_Q8, QLM_DT_Q4};
    for (int d = 0; d < 5; d++) {
        s.wtype = dts[d];
        tiny_free(tiny_write(&s, path, NULL, NULL));
        assert_ok(qlm_kernels_select("scalar"));
        float *ref = run_model(path, 1, 0, tok, N_TOK, N_TOK);
        for (int i = 0; i < 3; i++) {
            if (qlm_kernels_select(isas[i]) != QLM_OK)
                continue;
            float *got = run_model(path, 1, 0, tok, N_TOK, N_TOK);
            if (memcmp(ref, got, sizeof(float) * N_TOK * (size_t)s.V) != 0)
                fail_msg("%s logits differ from scalar (weights dtype %d)", isas[i], (int)dts[d]);
            print_message("%s == scalar (dtype %d)\n", isas[i], (int)dts[d]);
            free(got);
        }
        free(ref);
    }
    remove(path);
}

/* Only-last logits equal the last row of all logits; truncate + re-eval
 * reproduces the same logits. */
static void test_last_logits_truncate(void **state)
{
    (void)state;
    const char *path = tu_tmp("last.qlm");
    tiny_model *tm = tiny_write(&k_llama, path, NULL, NULL);
    int32_t tok[N_TOK];
    tokens(tok, N_TOK, k_llama.V);
    float *all = run_model(path, 2, 0, tok, N_TOK, N_TOK);
    qlm_model *m;
    assert_ok(qlm_model_open(path, &m));
    qlm_ctx_params p = {.n_ctx = N_CTX, .n_threads = 2};
    qlm_ctx *c;
    assert_ok(qlm_ctx_new(m, &p, &c));
    assert_int_equal(qlm_ctx_n_ctx(c), N_CTX);
    float *last = malloc(sizeof(float) * (size_t)k_llama.V);
    assert_ok(qlm_ctx_eval(c, tok, N_TOK, last, false));
    assert_memory_equal(last, all + (N_TOK - 1) * k_llama.V, sizeof(float) * (size_t)k_llama.V);
    assert_ok(qlm_ctx_truncate(c, 10));
    assert_int_equal(qlm_ctx_pos(c), 10);
    assert_ok(qlm_ctx_eval(c, tok + 10, N_TOK - 10, last, false));
    assert_memory_equal(last, all + (N_TOK - 1) * k_llama.V, sizeof(float) * (size_t)k_llama.V);
    assert_status(qlm_ctx_truncate(c, N_TOK + 1), QLM_E_ARG);
    /* context overflow and bad ids */
    assert_status(qlm_ctx_eval(c, tok, N_CTX - N_TOK + 1, NULL, false), QLM_E_LIMIT);
    assert_true(strstr(qlm_errmsg(), "context") != NULL);
    int32_t bad = (int32_t)k_llama.V;
    assert_status(qlm_ctx_eval(c, &bad, 1, NULL, false), QLM_E_VALUE);
    bad = -1;
    assert_status(qlm_ctx_eval(c, &bad, 1, NULL, false), QLM_E_VALUE);
    assert_int_equal(qlm_ctx_pos(c), N_TOK);
    free(last);
    free(all);
    qlm_ctx_free(c);
    qlm_model_close(m);
    tiny_free(tm);
    remove(path);
}

static void expect_open_error(const tiny_spec *s, const char *skip, const char *bad_shape, qlm_status code,
                              const char *needle)
{
    const char *path = tu_tmp("bad.qlm");
    tiny_free(tiny_write(s, path, skip, bad_shape));
    qlm_model *m = NULL;
    assert_status(qlm_model_open(path, &m), code);
    assert_null(m);
    if (!strstr(qlm_errmsg(), needle))
        fail_msg("error message '%s' does not name '%s'", qlm_errmsg(), needle);
    remove(path);
}

static void test_bad_models(void **state)
{
    (void)state;
    tiny_spec s = k_llama;
    expect_open_error(&s, "blk.1.ffn_up.weight", NULL, QLM_E_MISSING, "blk.1.ffn_up.weight");
    expect_open_error(&s, NULL, "blk.0.attn_k.weight", QLM_E_SHAPE, "blk.0.attn_k.weight");
    expect_open_error(&s, NULL, "output_norm.weight", QLM_E_SHAPE, "output_norm.weight");
    s.tied = false;
    expect_open_error(&s, "output.weight", NULL, QLM_E_MISSING, "output.weight");
    s = k_llama;
    s.arch = "gpt2";
    expect_open_error(&s, NULL, NULL, QLM_E_ARCH, "gpt2");
    s = k_llama;
    s.KV = 3; /* 4 heads not divisible by 3 */
    expect_open_error(&s, NULL, NULL, QLM_E_VALUE, QLM_K_HEADS_KV);
    s = k_llama;
    s.hd = 15;
    s.H = 4;
    expect_open_error(&s, NULL, NULL, QLM_E_VALUE, "even");
    s = k_llama;
    s.arch = "qwen2";
    s.bias = true;
    expect_open_error(&s, "blk.0.attn_v.bias", NULL, QLM_E_MISSING, "blk.0.attn_v.bias");
    s = k_llama;
    s.arch = "qwen3";
    s.qk_norm = true;
    expect_open_error(&s, "blk.1.attn_k_norm.weight", NULL, QLM_E_MISSING, "attn_k_norm");
}

static void test_bad_ctx(void **state)
{
    (void)state;
    const char *path = tu_tmp("ctx.qlm");
    tiny_free(tiny_write(&k_llama, path, NULL, NULL));
    qlm_model *m;
    assert_ok(qlm_model_open(path, &m));
    qlm_ctx *c = NULL;
    qlm_ctx_params p = {.n_ctx = (int64_t)1 << 40, .n_threads = 1};
    assert_status(qlm_ctx_new(m, &p, &c), QLM_E_LIMIT);
    assert_null(c);
    p = (qlm_ctx_params){.n_threads = 1};
    assert_ok(qlm_ctx_new(m, &p, &c));
    assert_int_equal(qlm_ctx_n_ctx(c), k_llama.ctx); /* default: the model's */
    qlm_ctx_free(c);
    qlm_model_close(m);
    remove(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llama_dtypes),      cmocka_unit_test(test_llama_quant),
        cmocka_unit_test(test_qwen2_bias_untied), cmocka_unit_test(test_qwen3_qknorm_headdim),
        cmocka_unit_test(test_rope_scaling),      cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_isa_equal),
        cmocka_unit_test(test_last_logits_truncate), cmocka_unit_test(test_bad_models),
        cmocka_unit_test(test_bad_ctx),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
