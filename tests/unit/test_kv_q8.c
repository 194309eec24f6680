/* The Q8 KV cache (runtime/model/model.h qlm_kv_type, qlm.h kv_type):
 *  - logits against the independent double reference of tests/common/tinymodel.c
 *    with K and V rounded by the same rule (tiny_reference_kv), for a head
 *    that is one block (head_dim 16) and one of two blocks of 32 (head_dim 64):
 *    as close as the f32 cache is to the plain reference, and much further
 *    from the plain reference (so the rounding is really done, as specified);
 *  - bit-identical logits across kernel sets, thread counts and batching;
 *  - the reported KV bytes (context, API, CLI) against the layout's arithmetic;
 *  - state save/load of a Q8 session, and a state of the other type refused;
 *  - --kv on the CLI (bad value: usage error), and `kld --kv q8` against the
 *    same model (0 for an f32 cache, > 0 for q8). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/common/err.h" /* before qlm.h, which then takes its qlm_status */
#include "include/qlm.h"
#include "runtime/model/model.h"
#include "simd/kernels.h"
#include "tests/common/testutil.h"
#include "tests/common/tinymodel.h"

#define N_TOK 80 /* past attention's 64-key blocks */

/* head_dim 16: one block per head; head_dim 64 (qwen2: biases): two. */
static const tiny_spec k_hd16 = {"llama", 96, 64, 2, 96, 4, 2, 16, 256, true, false, false, 0, 10000.0, QLM_DT_F32};
static const tiny_spec k_hd64 = {"qwen2", 96, 128, 2, 96, 4, 2, 64, 256, false, true, false, 0, 1e6, QLM_DT_F32};

static void tokens(int32_t *t, int64_t n, int64_t V)
{
    for (int64_t i = 0; i < n; i++)
        t[i] = (int32_t)((i * 37 + 11) % V);
}

/* Logits of every position, evaluated `step` tokens per call. */
static float *run_model(const char *path, qlm_kv_type kv, int threads, int64_t n_batch, const int32_t *tok,
                        int64_t n, int64_t step)
{
    qlm_model *m;
    assert_ok(qlm_model_open(path, &m));
    int64_t V = qlm_model_hparams(m)->n_vocab;
    qlm_ctx_params p = {.n_threads = threads, .n_batch = n_batch, .kv = kv};
    qlm_ctx *c;
    assert_ok(qlm_ctx_new(m, &p, &c));
    float *lg = malloc(sizeof(float) * (size_t)(n * V));
    assert_non_null(lg);
    for (int64_t i = 0; i < n; i += step) {
        int64_t k = n - i < step ? n - i : step;
        assert_ok(qlm_ctx_eval(c, tok + i, k, lg + i * V, true));
    }
    qlm_ctx_free(c);
    qlm_model_close(m);
    return lg;
}

static double max_diff(const float *a, const double *b, int64_t n)
{
    double e = 0;
    for (int64_t i = 0; i < n; i++)
        e = fmax(e, fabs((double)a[i] - b[i]));
    return e;
}

static void check_reference(const tiny_spec *s, const char *name)
{
    const char *path = tu_tmp(name);
    tiny_model *tm = tiny_write(s, path, NULL, NULL);
    int32_t tok[N_TOK];
    tokens(tok, N_TOK, s->V);
    int64_t n = N_TOK * s->V;
    double *ref = malloc(sizeof(double) * (size_t)n), *ref8 = malloc(sizeof(double) * (size_t)n);
    assert_non_null(ref);
    assert_non_null(ref8);
    tiny_reference_kv(tm, tok, N_TOK, false, ref);
    tiny_reference_kv(tm, tok, N_TOK, true, ref8);
    float *f32 = run_model(path, QLM_CACHE_F32, 1, 0, tok, N_TOK, N_TOK);
    float *q8 = run_model(path, QLM_CACHE_Q8, 1, 0, tok, N_TOK, N_TOK);
    double e_f32 = max_diff(f32, ref, n), e_q8 = max_diff(q8, ref8, n), e_shift = max_diff(q8, ref, n);
    print_message("%s: f32 cache vs reference %.3g; q8 cache vs q8 reference %.3g, vs plain reference %.3g\n", name,
                  e_f32, e_q8, e_shift);
    assert_true(e_f32 <= 2e-4);
    assert_true(e_q8 <= 2e-4);
    assert_true(e_shift > 20 * e_q8);
    free(ref);
    free(ref8);
    free(f32);
    free(q8);
    tiny_free(tm);
    remove(path);
}

static void test_reference(void **state)
{
    (void)state;
    check_reference(&k_hd16, "hd16.qlm");
    check_reference(&k_hd64, "hd64.qlm");
}

/* The determinism contract with a Q8 cache: every kernel set this CPU has,
 * 1 or 3 threads, one call, token by token, or 7 at a time through 16-token
 * batches: the same bits. */
static void test_bitwise(void **state)
{
    (void)state;
    static const char *isas[] = {"avx2", "avx512", "neon"};
    const char *path = tu_tmp("bits.qlm");
    tiny_spec s = k_hd64;
    s.wtype = QLM_DT_Q8;
    tiny_free(tiny_write(&s, path, NULL, NULL));
    int32_t tok[N_TOK];
    tokens(tok, N_TOK, s.V);
    size_t bytes = sizeof(float) * N_TOK * (size_t)s.V;
    assert_ok(qlm_kernels_select("scalar"));
    float *ref = run_model(path, QLM_CACHE_Q8, 1, 0, tok, N_TOK, N_TOK);
    for (int i = 0; i < 3; i++) {
        if (qlm_kernels_select(isas[i]) != QLM_OK)
            continue;
        float *a = run_model(path, QLM_CACHE_Q8, 1, 0, tok, N_TOK, N_TOK);
        float *b = run_model(path, QLM_CACHE_Q8, 3, 0, tok, N_TOK, 1);
        float *c = run_model(path, QLM_CACHE_Q8, 3, 16, tok, N_TOK, 7);
        if (memcmp(ref, a, bytes) || memcmp(ref, b, bytes) || memcmp(ref, c, bytes))
            fail_msg("%s: q8-cache logits differ from scalar, 1 thread, one call", isas[i]);
        print_message("%s == scalar with a q8 cache (threads 1/3, batch/token/7)\n", isas[i]);
        free(a);
        free(b);
        free(c);
    }
    free(ref);
    remove(path);
}

/* The layout's bytes: K and V, every layer and position; f32 4 bytes a
 * value, q8 1 byte a value plus a 4-byte scale per block of 32 (per head
 * when head_dim is not a multiple of 32). */
static int64_t want_bytes(const tiny_spec *s, int64_t n_ctx, bool q8)
{
    int64_t kvd = s->KV * s->hd, per_row = q8 ? kvd + 4 * kvd / (s->hd % 32 == 0 ? 32 : s->hd) : 4 * kvd;
    return 2 * s->L * n_ctx * per_row;
}

static void test_bytes(void **state)
{
    (void)state;
    const tiny_spec *specs[] = {&k_hd16, &k_hd64};
    for (int i = 0; i < 2; i++) {
        const char *path = tu_tmp("bytes.qlm");
        tiny_free(tiny_write(specs[i], path, NULL, NULL));
        qlm_lm *lm;
        assert_ok(qlm_lm_open(path, &lm));
        for (int q8 = 0; q8 < 2; q8++) {
            qlm_session_params sp = qlm_session_params_default();
            sp.n_ctx = 100;
            sp.kv_type = q8 ? QLM_KV_Q8 : QLM_KV_F32;
            qlm_session *s;
            assert_ok(qlm_session_new(lm, &sp, &s));
            assert_int_equal(qlm_session_kv_bytes(s), want_bytes(specs[i], 100, q8));
            qlm_session_free(s);
        }
        /* hd 64: 1 + 4/32 bytes a value against 4 */
        print_message("hd %lld: q8 cache %lld bytes, f32 %lld\n", (long long)specs[i]->hd,
                      (long long)want_bytes(specs[i], 100, true), (long long)want_bytes(specs[i], 100, false));
        qlm_lm_close(lm);
        char *out;
        assert_int_equal(tu_qlm(&out, "run -m '%s' --prompt-ids 1,2,3 -n 2 --ctx 100 --kv q8 -v -t 1", path), 0);
        char want[96];
        snprintf(want, sizeof want, "KV cache q8: %lld bytes", (long long)want_bytes(specs[i], 100, true));
        if (!strstr(out, want))
            fail_msg("no '%s' in: %s", want, out);
        free(out);
        remove(path);
    }
    assert_int_equal(qlm_session_kv_bytes(NULL), -1);
}

/* Save after a prefix, load into a fresh q8 session, go on: the logits of
 * one uninterrupted run. A state of the other cache type is refused. */
static void test_state(void **state)
{
    (void)state;
    const char *path = tu_tmp("state.qlm");
    tiny_free(tiny_write(&k_hd64, path, NULL, NULL));
    int32_t tok[N_TOK];
    tokens(tok, N_TOK, k_hd64.V);
    qlm_lm *lm;
    assert_ok(qlm_lm_open(path, &lm));
    qlm_session_params sp = qlm_session_params_default();
    sp.n_ctx = N_TOK;
    sp.kv_type = QLM_KV_Q8;
    qlm_session *a, *b, *f;
    assert_ok(qlm_session_new(lm, &sp, &a));
    assert_ok(qlm_session_new(lm, &sp, &b));
    sp.kv_type = QLM_KV_F32;
    assert_ok(qlm_session_new(lm, &sp, &f));
    float la[96], lb[96];
    assert_ok(qlm_session_eval(a, tok, N_TOK, la, 0));
    assert_ok(qlm_session_truncate(a, 50));
    size_t n;
    assert_ok(qlm_session_state_size(a, &n));
    char *buf = malloc(n);
    assert_non_null(buf);
    assert_ok(qlm_session_state_save(a, buf, n, &n));
    assert_ok(qlm_session_state_load(b, buf, n));
    assert_ok(qlm_session_eval(b, tok + 50, N_TOK - 50, lb, 0));
    assert_memory_equal(la, lb, sizeof la);
    assert_status(qlm_session_state_load(f, buf, n), QLM_E_DTYPE);
    assert_non_null(strstr(qlm_last_error(), "q8"));
    free(buf);
    qlm_session_free(a);
    qlm_session_free(b);
    qlm_session_free(f);
    qlm_lm_close(lm);
    remove(path);
}

static void test_cli(void **state)
{
    (void)state;
    static const char *const cmds[] = {"run -m x.qlm -p hi", "chat -m x.qlm", "perplexity -m x.qlm -f y",
                                       "kld -m x.qlm --base x.qlm -f y"};
    char *out;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(tu_qlm(&out, "%s --kv q4", cmds[i]), 2);
        assert_non_null(strstr(out, "--kv: 'q4' is not f32 or q8"));
        free(out);
    }
    const char *m = tu_tmp("stories.qlm");
    assert_int_equal(tu_qlm(&out, "convert '%s' -o '%s' --type f32 --quiet",
                            tu_shared("models/stories260K/stories260K-f32.gguf"), m),
                     0);
    free(out);
    /* Against itself: exactly 0 with the f32 cache, > 0 once the cache rounds. */
    const char *text = tu_shared("data/wikitext-2/wiki.test.raw");
    double kld[2];
    for (int q8 = 0; q8 < 2; q8++) {
        assert_int_equal(tu_qlm(&out, "kld -m '%s' --base '%s' -f '%s' --ctx 64 --chunks 4 --json --kv %s 2>/dev/null",
                                m, m, text, q8 ? "q8" : "f32"),
                         0);
        const char *k = strstr(out, "\"kld_mean\":");
        assert_non_null(k);
        kld[q8] = strtod(k + 11, NULL);
        free(out);
    }
    print_message("stories260K vs itself, 4 chunks of 64: KLD f32 cache %g, q8 cache %g\n", kld[0], kld[1]);
    assert_true(kld[0] == 0.0);
    assert_true(kld[1] > 0.0 && kld[1] < 0.05);

    /* perplexity reports its cache's bytes: K and V, 5 layers x 64 positions x
     * 4 KV heads of 8 (one block each: 8 codes + a 4-byte scale). */
    qlm_lm *lm;
    assert_ok(qlm_lm_open(m, &lm));
    qlm_lm_info info = {.size = sizeof info};
    assert_ok(qlm_lm_get_info(lm, &info));
    qlm_lm_close(lm);
    assert_true(info.n_layers == 5 && info.n_kv_heads == 4 && info.head_dim == 8);
    assert_int_equal(tu_qlm(&out, "perplexity -m '%s' -f '%s' --ctx 64 --chunks 1 --json --kv q8 2>/dev/null", m, text),
                     0);
    char want[64];
    snprintf(want, sizeof want, "\"kv_bytes\":%d,", 2 * 5 * 64 * 4 * (8 + 4));
    if (!strstr(out, want))
        fail_msg("no '%s' in: %s", want, out);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference), cmocka_unit_test(test_bitwise), cmocka_unit_test(test_bytes),
        cmocka_unit_test(test_state),     cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
