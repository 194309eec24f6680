/* Sampler behaviour against first principles: argmax, the softmax
 * distribution (frequencies over many seeded draws), each filter's effect,
 * the repetition-penalty window, seed reproducibility, and llama2.c's
 * xorshift generator. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/model/sampler.h"
#include "tests/common/testutil.h"

static qlm_sampler *mk(qlm_sampler_params p, int64_t n)
{
    qlm_sampler *s;
    assert_ok(qlm_sampler_new(&p, n, &s));
    return s;
}

static int32_t draw(qlm_sampler *s, const float *logits, int64_t n, const int32_t *hist, int64_t nh)
{
    float buf[16];
    memcpy(buf, logits, sizeof(float) * (size_t)n);
    return qlm_sampler_sample(s, buf, hist, nh);
}

static qlm_sampler_params plain(void)
{
    qlm_sampler_params p;
    qlm_sampler_defaults(&p);
    p.temp = 1.0;
    p.top_k = 0;
    p.top_p = 1.0;
    p.min_p = 0.0;
    p.seed = 42;
    return p;
}

static void test_greedy(void **state)
{
    (void)state;
    qlm_sampler_params p = plain();
    p.temp = 0;
    qlm_sampler *s = mk(p, 5);
    const float l[5] = {0.5f, 3.0f, -1.0f, 3.0f, 2.0f};
    for (int i = 0; i < 10; i++)
        assert_int_equal(draw(s, l, 5, NULL, 0), 1); /* first of the tied maxima */
    qlm_sampler_free(s);
}

/* With no filters the draw frequencies match softmax(logits / temp). */
static void test_distribution(void **state)
{
    (void)state;
    const float l[4] = {1.0f, 0.0f, 2.0f, -1.0f};
    for (int t = 0; t < 2; t++) {
        qlm_sampler_params p = plain();
        p.temp = t ? 2.0 : 1.0;
        qlm_sampler *s = mk(p, 4);
        int count[4] = {0};
        const int N = 40000;
        for (int i = 0; i < N; i++)
            count[draw(s, l, 4, NULL, 0)]++;
        double z = 0, pr[4];
        for (int i = 0; i < 4; i++)
            z += (pr[i] = exp(l[i] / p.temp));
        for (int i = 0; i < 4; i++) {
            double f = (double)count[i] / N, want = pr[i] / z;
            /* 5 standard deviations of a binomial proportion */
            double tol = 5 * sqrt(want * (1 - want) / N);
            if (fabs(f - want) > tol)
                fail_msg("temp %g token %d: frequency %.4f, softmax %.4f", p.temp, i, f, want);
        }
        qlm_sampler_free(s);
    }
}

static void test_filters(void **state)
{
    (void)state;
    const float l[6] = {1.0f, 3.0f, 2.9f, 0.0f, 2.8f, -5.0f};
    qlm_sampler_params p = plain();
    p.top_k = 2; /* only ids 1 and 2 */
    qlm_sampler *s = mk(p, 6);
    int seen[6] = {0};
    for (int i = 0; i < 2000; i++)
        seen[draw(s, l, 6, NULL, 0)]++;
    assert_true(seen[1] > 0 && seen[2] > 0);
    assert_int_equal(seen[0] + seen[3] + seen[4] + seen[5], 0);
    qlm_sampler_free(s);

    /* top-p: p(1) = e^3/Z ~ 0.35: top_p 0.3 keeps id 1 alone */
    p = plain();
    p.top_p = 0.3;
    s = mk(p, 6);
    for (int i = 0; i < 200; i++)
        assert_int_equal(draw(s, l, 6, NULL, 0), 1);
    qlm_sampler_free(s);
    /* top_p 0.6 keeps ids 1 and 2 (0.35 + 0.32 >= 0.6) but not 4 */
    p.top_p = 0.6;
    s = mk(p, 6);
    memset(seen, 0, sizeof seen);
    for (int i = 0; i < 2000; i++)
        seen[draw(s, l, 6, NULL, 0)]++;
    assert_true(seen[1] > 0 && seen[2] > 0);
    assert_int_equal(seen[0] + seen[3] + seen[4] + seen[5], 0);
    qlm_sampler_free(s);

    /* min-p: p/p_max = e^(l - 3): 0.9 keeps ids 1, 2 (e^-0.1 = 0.905) and not 4 (0.82) */
    p = plain();
    p.min_p = 0.9;
    s = mk(p, 6);
    memset(seen, 0, sizeof seen);
    for (int i = 0; i < 2000; i++)
        seen[draw(s, l, 6, NULL, 0)]++;
    assert_true(seen[1] > 0 && seen[2] > 0);
    assert_int_equal(seen[0] + seen[3] + seen[4] + seen[5], 0);
    qlm_sampler_free(s);
}

static void test_repeat_penalty(void **state)
{
    (void)state;
    qlm_sampler_params p = plain();
    p.temp = 0;
    p.repeat_penalty = 1.2;
    p.repeat_last_n = 2;
    qlm_sampler *s = mk(p, 3);
    const float l[3] = {2.0f, 1.9f, -1.0f};
    int32_t h1[] = {0};
    assert_int_equal(draw(s, l, 3, h1, 1), 1); /* 2 / 1.2 = 1.67 < 1.9 */
    int32_t h2[] = {0, 2, 2};                   /* 0 is outside the window of 2 */
    assert_int_equal(draw(s, l, 3, h2, 3), 0);
    /* negative logits are multiplied: -1 * 1.2 */
    const float m[3] = {-1.0f, -1.1f, -5.0f};
    assert_int_equal(draw(s, m, 3, h1, 1), 1);  /* -1.2 < -1.1 */
    float buf[3] = {2.0f, 1.9f, -1.0f};
    int32_t h3[] = {0, 0};                      /* penalized once, not twice */
    qlm_sampler_sample(s, buf, h3, 2);
    assert_true(buf[0] == 2.0f / 1.2f);
    qlm_sampler_free(s);
}

static void test_seed(void **state)
{
    (void)state;
    const float l[6] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f};
    int32_t a[64], b[64], c[64];
    qlm_sampler_params p = plain();
    qlm_sampler *s1 = mk(p, 6), *s2 = mk(p, 6);
    p.seed = 43;
    qlm_sampler *s3 = mk(p, 6);
    for (int i = 0; i < 64; i++) {
        a[i] = draw(s1, l, 6, NULL, 0);
        b[i] = draw(s2, l, 6, NULL, 0);
        c[i] = draw(s3, l, 6, NULL, 0);
    }
    assert_memory_equal(a, b, sizeof a);
    assert_memory_not_equal(a, c, sizeof a);
    qlm_sampler_free(s1), qlm_sampler_free(s2), qlm_sampler_free(s3);
}

/* llama2.c's generator, stepped by hand from its definition. */
static void test_llama2c(void **state)
{
    (void)state;
    qlm_sampler_params p = plain();
    p.mode = QLM_SAMPLER_LLAMA2C;
    p.seed = 133742;
    p.top_p = 1.0; /* plain multinomial: the draw is the cdf crossing of the coin */
    qlm_sampler *s = mk(p, 4);
    const float l[4] = {0.0f, 0.0f, 0.0f, 0.0f}; /* uniform: token = floor(coin * 4) */
    uint64_t st = 133742;
    for (int i = 0; i < 100; i++) {
        st ^= st >> 12;
        st ^= st << 25;
        st ^= st >> 27;
        uint32_t u = (uint32_t)((st * 0x2545F4914F6CDD1Dull) >> 32);
        double coin = (double)(u >> 8) / 16777216.0;
        assert_int_equal(draw(s, l, 4, NULL, 0), (int)(coin * 4));
    }
    qlm_sampler_free(s);
}

static void test_bad_params(void **state)
{
    (void)state;
    qlm_sampler *s = NULL;
    qlm_sampler_params p = plain();
    p.temp = -1;
    assert_status(qlm_sampler_new(&p, 4, &s), QLM_E_ARG);
    p = plain();
    p.top_p = 0;
    assert_status(qlm_sampler_new(&p, 4, &s), QLM_E_ARG);
    p = plain();
    p.min_p = 1.5;
    assert_status(qlm_sampler_new(&p, 4, &s), QLM_E_ARG);
    p = plain();
    p.repeat_penalty = 0;
    assert_status(qlm_sampler_new(&p, 4, &s), QLM_E_ARG);
    assert_null(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy),         cmocka_unit_test(test_distribution),
        cmocka_unit_test(test_filters),        cmocka_unit_test(test_repeat_penalty),
        cmocka_unit_test(test_seed),           cmocka_unit_test(test_llama2c),
        cmocka_unit_test(test_bad_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
