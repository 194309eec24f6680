/* llama2.c checkpoint reader and the Q/K row un-permutation. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/convert/srcutil.h"
#include "formats/gguf/gguf.h"
#include "formats/llama2c/llama2c.h"
#include "tests/common/testutil.h"

static const char *bin_path(void) { return tu_shared("models/stories260K/stories260K.bin"); }

static void test_stories_header(void **state)
{
    (void)state;
    l2c_file *f;
    assert_ok(l2c_open(bin_path(), &f));
    const l2c_config *c = l2c_config_of(f);
    /* shared/README.md: 5 layers, dim 64, ffn 172, 8 heads, 4 KV heads, vocab 512, seq 512, tied */
    assert_int_equal(c->dim, 64);
    assert_int_equal(c->hidden_dim, 172);
    assert_int_equal(c->n_layers, 5);
    assert_int_equal(c->n_heads, 8);
    assert_int_equal(c->n_kv_heads, 4);
    assert_int_equal(c->vocab_size, 512);
    assert_int_equal(c->seq_len, 512);
    assert_int_equal(c->head_dim, 8);
    assert_int_equal(c->kv_dim, 32);
    assert_true(c->shared_classifier);
    assert_null(l2c_array_of(f, L2C_WCLS)->data);
    assert_null(l2c_slice(f, L2C_WCLS, 0));
    assert_null(l2c_slice(f, L2C_WQ, 5));
    assert_null(l2c_slice(f, L2C_EMBED, 1));
    const l2c_weights *wk = l2c_array_of(f, L2C_WK);
    assert_int_equal(wk->rows, 32);
    assert_int_equal(wk->cols, 64);
    assert_int_equal(wk->per_layer, 1);
    /* offsets by hand: 28 + 4 * (V*D + L*D + L*D*D) for wk layer 0, + 32*64 per layer */
    const uint8_t *embed = l2c_slice(f, L2C_EMBED, 0);
    assert_int_equal(l2c_slice(f, L2C_WK, 2) - embed, 4 * (512 * 64 + 5 * 64 + 5 * 64 * 64 + 2 * 32 * 64));
    assert_int_equal(l2c_slice(f, L2C_FREQ_IMAG, 0) - l2c_slice(f, L2C_FREQ_REAL, 0), 4 * 512 * 4);
    l2c_close(f);
}

/* llama2.c's Q/K are in Meta order, like llama.cpp's GGUF of the same model:
 * the raw rows must be identical (both get the same un-permutation). */
static void test_qk_same_order_as_gguf(void **state)
{
    (void)state;
    l2c_file *f;
    gguf_file *g;
    assert_ok(l2c_open(bin_path(), &f));
    assert_ok(gguf_open(tu_shared("models/stories260K/stories260K-f32.gguf"), &g));
    for (uint32_t l = 0; l < 5; l++) {
        char name[64];
        snprintf(name, sizeof name, "blk.%u.attn_q.weight", l);
        assert_memory_equal(gguf_find_tensor(g, name)->data, l2c_slice(f, L2C_WQ, l), 64 * 64 * 4);
        snprintf(name, sizeof name, "blk.%u.attn_k.weight", l);
        assert_memory_equal(gguf_find_tensor(g, name)->data, l2c_slice(f, L2C_WK, l), 32 * 64 * 4);
    }
    gguf_close(g);
    l2c_close(f);
}

static void put_i32(uint8_t *p, int32_t v) { memcpy(p, &v, 4); }

static qlm_status open_hdr(const int32_t h[7], size_t size, l2c_file **f)
{
    uint8_t *buf = calloc(1, size < 28 ? 28 : size);
    for (int i = 0; i < 7; i++)
        put_i32(buf + 4 * i, h[i]);
    qlm_status st = l2c_open_mem(buf, size, f);
    l2c_close(*f);
    free(buf);
    return st;
}

/* Bytes a valid file with this header needs (independent re-derivation). */
static size_t implied(const int32_t h[7])
{
    size_t D = (size_t)h[0], F = (size_t)h[1], L = (size_t)h[2], H = (size_t)h[3], KV = D / H * (size_t)h[4];
    size_t V = (size_t)abs(h[5]), S = (size_t)h[6], hd = D / H;
    size_t n = V * D + L * (2 * D + 2 * D * D + 2 * KV * D + 3 * F * D) + D + S * hd;
    return 28 + 4 * (n + (h[5] < 0 ? V * D : 0));
}

static void test_headers(void **state)
{
    (void)state;
    l2c_file *f;
    int32_t ok[7] = {16, 24, 2, 4, 2, 10, 8};
    size_t n = implied(ok);
    assert_ok(open_hdr(ok, n, &f));
    assert_status(open_hdr(ok, n - 1, &f), QLM_E_TRUNCATED);
    assert_status(open_hdr(ok, n + 4, &f), QLM_E_SIZE);
    for (size_t cut = 0; cut < 28; cut++)
        assert_status(open_hdr(ok, cut, &f), QLM_E_TRUNCATED);
    int32_t unshared[7] = {16, 24, 2, 4, 2, -10, 8};
    assert_int_equal(implied(unshared), n + 4 * 10 * 16);
    assert_status(open_hdr(unshared, n, &f), QLM_E_TRUNCATED);
    assert_ok(open_hdr(unshared, implied(unshared), &f));
    struct { int32_t h[7]; qlm_status want; } bad[] = {
        {{0, 24, 2, 4, 2, 10, 8}, QLM_E_VALUE},   {{16, -24, 2, 4, 2, 10, 8}, QLM_E_VALUE},
        {{16, 24, 2, 4, 2, INT32_MIN, 8}, QLM_E_VALUE}, {{16, 24, 2, 4, 2, 10, 0}, QLM_E_VALUE},
        {{16, 24, 2, 5, 5, 10, 8}, QLM_E_SHAPE},  {{16, 24, 2, 4, 3, 10, 8}, QLM_E_SHAPE},
        {{16, 24, 2, 4, 8, 10, 8}, QLM_E_SHAPE},  {{12, 24, 2, 4, 2, 10, 8}, QLM_E_SHAPE}, /* head size 3 */
        {{1 << 20, 24, 2, 1, 1, 10, 8}, QLM_E_TRUNCATED},
        {{1 << 30, 1 << 30, INT32_MAX, 2, 1, 10, 8}, QLM_E_OVERFLOW},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        qlm_status st = open_hdr(bad[i].h, 4096, &f);
        if (st != bad[i].want)
            fail_msg("header %zu: %s (%s), want %s", i, qlm_status_name(st), qlm_errmsg(),
                     qlm_status_name(bad[i].want));
        assert_true(strncmp(qlm_errmsg(), "llama2c: ", 9) == 0);
    }
    uint8_t ak42[64] = {0x32, 0x34, 0x6b, 0x61, 1}; /* "ak42" as a little-endian u32 */
    assert_status(l2c_open_mem(ak42, sizeof ak42, &f), QLM_E_VERSION);
    assert_status(l2c_open("/nonexistent/model.bin", &f), QLM_E_IO);
}

/* The real checkpoint cut at many points and grown by a few bytes. */
static void test_real_truncated(void **state)
{
    (void)state;
    size_t len;
    char *buf = tu_read(bin_path(), &len);
    l2c_file *f;
    for (size_t cut = 0; cut < len; cut += cut < 4096 ? 1 : 4093)
        assert_status(l2c_open_mem(buf, cut, &f), QLM_E_TRUNCATED);
    char *big = malloc(len + 8);
    memcpy(big, buf, len);
    for (size_t extra = 1; extra <= 8; extra++)
        assert_status(l2c_open_mem(big, len + extra, &f), QLM_E_SIZE);
    put_i32((uint8_t *)buf + 20, -512); /* unshared classifier: 128 KiB more needed */
    assert_status(l2c_open_mem(buf, len, &f), QLM_E_TRUNCATED);
    free(big);
    free(buf);
}

/* ---- Q/K un-permutation ---- */

/* llama.cpp's forward permutation written as the reshape it is:
 * in viewed as [n_head][2][half], out as [n_head][half][2], out[h][i][j] = in[h][j][i]. */
static void forward_permute(const float *in, float *out, int n_head, int hd, int cols)
{
    int half = hd / 2;
    for (int h = 0; h < n_head; h++)
        for (int i = 0; i < half; i++)
            for (int j = 0; j < 2; j++)
                memcpy(out + (size_t)(h * hd + i * 2 + j) * cols, in + (size_t)(h * hd + j * half + i) * cols,
                       sizeof(float) * (size_t)cols);
}

static uint64_t g_rng = 88172645463325252ull;
static float frand(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (float)((double)(g_rng >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static void test_unpermute_inverts_permute(void **state)
{
    (void)state;
    enum { H = 3, HD = 10, C = 7, R = H * HD };
    float hf[R * C], meta[R * C], back[R * C];
    for (int i = 0; i < R * C; i++)
        hf[i] = frand();
    forward_permute(hf, meta, H, HD, C);
    assert_true(memcmp(hf, meta, sizeof hf) != 0);
    assert_ok(qlm_qk_unpermute(meta, back, R, H, C * sizeof(float)));
    assert_memory_equal(back, hf, sizeof hf);
    /* qlm_qk_permute (the GGUF exporter's direction) is the permutation itself */
    assert_ok(qlm_qk_permute(hf, back, R, H, C * sizeof(float)));
    assert_memory_equal(back, meta, sizeof meta);
    assert_status(qlm_qk_permute(hf, back, 15, 5, 4), QLM_E_SHAPE);
    assert_status(qlm_qk_unpermute(meta, back, R, 4, 4), QLM_E_SHAPE);  /* 30 rows, 4 heads */
    assert_status(qlm_qk_unpermute(meta, back, 15, 5, 4), QLM_E_SHAPE); /* odd head size */
    assert_status(qlm_qk_unpermute(meta, back, R, 0, 4), QLM_E_SHAPE);
}

/* The reason for the permutation: Meta's interleaved RoPE on W x equals, after
 * un-permuting, Hugging Face's rotate-half RoPE on W' x, W' = un-permuted W. */
static void test_unpermute_matches_rope(void **state)
{
    (void)state;
    enum { H = 2, HD = 8, C = 5, R = H * HD };
    float w[R * C], wh[R * C], x[C];
    for (int i = 0; i < R * C; i++)
        w[i] = frand();
    for (int i = 0; i < C; i++)
        x[i] = frand();
    assert_ok(qlm_qk_unpermute(w, wh, R, H, C * sizeof(float)));
    double qm[R], qh[R], qm_hf[R];
    for (int r = 0; r < R; r++) {
        qm[r] = qh[r] = 0;
        for (int k = 0; k < C; k++) {
            qm[r] += (double)w[r * C + k] * x[k];
            qh[r] += (double)wh[r * C + k] * x[k];
        }
    }
    int pos = 7;
    for (int h = 0; h < H; h++)
        for (int i = 0; i < HD / 2; i++) {
            double th = pos * pow(10000.0, -2.0 * i / HD), cs = cos(th), sn = sin(th);
            double *m = qm + h * HD, *q = qh + h * HD;
            double a = m[2 * i], b = m[2 * i + 1]; /* Meta: interleaved pair */
            m[2 * i] = a * cs - b * sn;
            m[2 * i + 1] = a * sn + b * cs;
            a = q[i], b = q[i + HD / 2]; /* HF: rotate-half pair */
            q[i] = a * cs - b * sn;
            q[i + HD / 2] = a * sn + b * cs;
        }
    assert_ok(qlm_qk_unpermute(qm, qm_hf, R, H, sizeof(double)));
    for (int r = 0; r < R; r++)
        assert_true(qm_hf[r] == qh[r]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stories_header),
        cmocka_unit_test(test_qk_same_order_as_gguf),
        cmocka_unit_test(test_headers),
        cmocka_unit_test(test_real_truncated),
        cmocka_unit_test(test_unpermute_inverts_permute),
        cmocka_unit_test(test_unpermute_matches_rope),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
