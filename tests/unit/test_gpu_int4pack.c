/* INT4 checkpoint packings (formats/gpu/int4pack.h): the same weights packed
 * as GPTQ, AWQ and Marlin unpack to the same codes, scales and zero points,
 * hence to identical w4a16 rows whose values equal f16((q - z) * s) computed
 * here. The packed words are checked against the layouts as their projects
 * define them: GPTQ/AWQ element by element from the bit positions, Marlin by
 * replaying Layer.pack's reshape / permute / gather / pack steps literally. */
#include <stdlib.h>
#include <string.h>

#include "formats/common/half.h"
#include "formats/gpu/int4pack.h"
#include "tests/common/testutil.h"

#define NN 128
#define KK 256
#define GG (KK / 128)

static uint64_t g_rng = 0x2545F4914F6CDD1Dull;
static uint32_t rnd(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (uint32_t)(g_rng >> 32);
}

typedef struct {
    uint8_t q[NN * KK], z[NN * GG];
    uint16_t s[NN * GG];
    qlm_int4_mat m;
} mat_buf;

static void fill(mat_buf *b, int zero /* -1: random 1..15 */)
{
    for (int i = 0; i < NN * KK; i++)
        b->q[i] = (uint8_t)(rnd() & 15);
    for (int i = 0; i < NN * GG; i++) {
        b->z[i] = (uint8_t)(zero >= 0 ? (uint32_t)zero : 1 + rnd() % 15);
        b->s[i] = (uint16_t)(0x1000 + rnd() % 0x2000); /* positive normal f16 scales */
    }
    b->m = (qlm_int4_mat){NN, KK, b->q, b->s, b->z, GG};
}

static void empty(mat_buf *b) { b->m = (qlm_int4_mat){NN, KK, b->q, b->s, b->z, GG}; }

static void expect_same(const mat_buf *a, const mat_buf *b)
{
    assert_memory_equal(a->q, b->q, sizeof a->q);
    assert_memory_equal(a->s, b->s, sizeof a->s);
    assert_memory_equal(a->z, b->z, sizeof a->z);
}

static int nib(uint32_t w, int i) { return (int)(w >> (4 * i)) & 15; }

static void test_gptq(void **state)
{
    (void)state;
    static mat_buf a, b;
    static uint32_t qw[KK / 8 * NN], qz[GG * NN / 8];
    static uint16_t sc[GG * NN];
    static int32_t gi[KK];
    fill(&a, -1);
    qlm_gptq_pack(&a.m, qw, qz, sc, gi);
    for (int n = 0; n < NN; n++) {
        for (int k = 0; k < KK; k++)
            assert_int_equal(nib(qw[(k / 8) * NN + n], k % 8), a.q[n * KK + k]);
        for (int g = 0; g < GG; g++) {
            assert_int_equal(nib(qz[g * (NN / 8) + n / 8], n % 8), a.z[n * GG + g] - 1); /* zero - 1 */
            assert_int_equal(sc[g * NN + n], a.s[n * GG + g]);
        }
    }
    for (int k = 0; k < KK; k++)
        assert_int_equal(gi[k], k / 128);
    empty(&b);
    assert_ok(qlm_gptq_unpack(qw, qz, sc, gi, &b.m));
    expect_same(&a, &b);
    /* act-order g_idx and out-of-range groups are named errors */
    gi[3] = 1;
    assert_status(qlm_gptq_unpack(qw, qz, sc, gi, &b.m), QLM_E_UNSUPPORTED);
    gi[3] = GG;
    assert_status(qlm_gptq_unpack(qw, qz, sc, gi, &b.m), QLM_E_VALUE);
    assert_non_null(strstr(qlm_errmsg(), "g_idx[3]"));
    /* AutoGPTQ's zero - 1: a zero point of 0 is stored as 15 and reads back as 16 */
    a.z[0] = 0;
    qlm_gptq_pack(&a.m, qw, qz, sc, gi);
    assert_ok(qlm_gptq_unpack(qw, qz, sc, NULL, &b.m));
    assert_int_equal(b.z[0], 16);
}

static void test_awq(void **state)
{
    (void)state;
    static const int order[8] = {0, 2, 4, 6, 1, 3, 5, 7};
    static mat_buf a, b;
    static uint32_t qw[KK * NN / 8], qz[GG * NN / 8];
    static uint16_t sc[GG * NN];
    fill(&a, -1);
    qlm_awq_pack(&a.m, qw, qz, sc);
    for (int k = 0; k < KK; k++)
        for (int c = 0; c < NN / 8; c++)
            for (int i = 0; i < 8; i++)
                assert_int_equal(nib(qw[k * (NN / 8) + c], i), a.q[(8 * c + order[i]) * KK + k]);
    for (int g = 0; g < GG; g++)
        for (int c = 0; c < NN / 8; c++)
            for (int i = 0; i < 8; i++)
                assert_int_equal(nib(qz[g * (NN / 8) + c], i), a.z[(8 * c + order[i]) * GG + g]);
    empty(&b);
    qlm_awq_unpack(qw, qz, sc, &b.m);
    expect_same(&a, &b);
}

/* Marlin's Layer.pack, step by step on index arrays (W^T is K x N). */
static void marlin_reference(const mat_buf *a, uint32_t *B, uint16_t *S)
{
    static int res[KK / 16][NN * 16], res2[KK / 16][NN * 16];
    /* w.reshape(K/16, 16, N/16, 16).permute(0, 2, 1, 3).reshape(K/16, 16N): append in that order */
    for (int kt = 0; kt < KK / 16; kt++) {
        int p = 0;
        for (int nt = 0; nt < NN / 16; nt++)
            for (int kr = 0; kr < 16; kr++)
                for (int nr = 0; nr < 16; nr++)
                    res[kt][p++] = a->q[(nt * 16 + nr) * KK + kt * 16 + kr];
    }
    /* _get_perms(): perm1 per i, extended by +256*j, then interleaved in 8s */
    int perm[1024], np = 0;
    for (int i = 0; i < 32; i++) {
        int perm1[8], n1 = 0;
        int rows[4] = {2 * (i % 4), 2 * (i % 4) + 1, 2 * (i % 4 + 4), 2 * (i % 4 + 4) + 1};
        for (int block = 0; block <= 1; block++)
            for (int r = 0; r < 4; r++)
                perm1[n1++] = 16 * rows[r] + i / 4 + 8 * block;
        for (int j = 0; j < 4; j++)
            for (int e = 0; e < 8; e++)
                perm[np++] = perm1[e] + 256 * j;
    }
    int il[8] = {0, 2, 4, 6, 1, 3, 5, 7}, tmp[8];
    for (int g = 0; g < 128; g++) {
        for (int e = 0; e < 8; e++)
            tmp[e] = perm[8 * g + il[e]];
        memcpy(perm + 8 * g, tmp, sizeof tmp);
    }
    /* res.reshape(-1, 1024)[:, perm]: gather */
    for (int kt = 0; kt < KK / 16; kt++)
        for (int c = 0; c < NN * 16 / 1024; c++)
            for (int i = 0; i < 1024; i++)
                res2[kt][c * 1024 + i] = res[kt][c * 1024 + perm[i]];
    /* q |= res[:, i::8] << 4i */
    memset(B, 0, sizeof(uint32_t) * (KK / 16) * NN * 2);
    for (int kt = 0; kt < KK / 16; kt++)
        for (int j = 0; j < NN * 2; j++)
            for (int i = 0; i < 8; i++)
                B[kt * NN * 2 + j] |= (uint32_t)res2[kt][8 * j + i] << (4 * i);
    /* scales: s = scales.t() (G x N), reshape(-1, 64)[:, _scale_perm] */
    int sp[64], ns = 0;
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++)
            sp[ns++] = i + 8 * j;
    uint16_t flat[GG * NN];
    for (int g = 0; g < GG; g++)
        for (int n = 0; n < NN; n++)
            flat[g * NN + n] = a->s[n * GG + g];
    for (int c = 0; c < GG * NN / 64; c++)
        for (int i = 0; i < 64; i++)
            S[c * 64 + i] = flat[c * 64 + sp[i]];
}

static void test_marlin(void **state)
{
    (void)state;
    static mat_buf a, b;
    static uint32_t B[KK / 16 * NN * 2], R[KK / 16 * NN * 2];
    static uint16_t S[GG * NN], RS[GG * NN];
    fill(&a, 8);
    assert_ok(qlm_marlin_pack(&a.m, B, S));
    marlin_reference(&a, R, RS);
    assert_memory_equal(B, R, sizeof B);
    assert_memory_equal(S, RS, sizeof S);
    empty(&b);
    qlm_marlin_unpack(B, S, &b.m);
    expect_same(&a, &b);
    a.z[5] = 7;
    assert_status(qlm_marlin_pack(&a.m, B, S), QLM_E_VALUE);
    assert_status(qlm_int4_check_shape(96, 256, 64), QLM_E_SHAPE);
    assert_status(qlm_int4_check_shape(128, 200, 8), QLM_E_SHAPE);
    assert_ok(qlm_int4_check_shape(128, 256, 64));
}

/* Pack the same symmetric weights each way, unpack each: identical w4a16 rows
 * whose values are f16((q - 8) * s). */
static void test_all_agree(void **state)
{
    (void)state;
    static mat_buf a, u[3];
    static uint32_t qw[KK * NN / 8], qz[GG * NN / 8], B[KK / 16 * NN * 2];
    static uint16_t sc[GG * NN];
    static int32_t gi[KK];
    fill(&a, 8);
    for (int i = 0; i < 3; i++)
        empty(&u[i]);
    qlm_gptq_pack(&a.m, qw, qz, sc, gi);
    assert_ok(qlm_gptq_unpack(qw, qz, sc, gi, &u[0].m));
    qlm_awq_pack(&a.m, qw, qz, sc);
    qlm_awq_unpack(qw, qz, sc, &u[1].m);
    assert_ok(qlm_marlin_pack(&a.m, B, sc));
    qlm_marlin_unpack(B, sc, &u[2].m);
    qlm_block_w4 rows[3][GG];
    for (int n = 0; n < NN; n++) {
        for (int i = 0; i < 3; i++)
            qlm_int4_row_w4a16(&u[i].m, n, rows[i]);
        assert_memory_equal(rows[0], rows[1], sizeof rows[0]);
        assert_memory_equal(rows[0], rows[2], sizeof rows[0]);
        float w[KK];
        qlm_gpu_dequant_row(QLM_DT_W4A16, rows[0], KK, 0, w);
        for (int k = 0; k < KK; k++) {
            float want = (float)(a.q[n * KK + k] - 8) * qlm_f16_to_f32(a.s[n * GG + k / 128]); /* exact */
            assert_true(w[k] == qlm_f16_to_f32(qlm_f32_to_f16(want)));
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gptq),
        cmocka_unit_test(test_awq),
        cmocka_unit_test(test_marlin),
        cmocka_unit_test(test_all_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
