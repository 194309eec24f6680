/* GPTQ / AWQ / Marlin INT4 packings (layouts in int4pack.h). */
#include "formats/gpu/int4pack.h"

#include <string.h>

#define G128 128

static const int k_awq_order[8] = {0, 2, 4, 6, 1, 3, 5, 7};

qlm_status qlm_int4_check_shape(int64_t N, int64_t K, int64_t mult)
{
    if (N <= 0 || K <= 0 || K % G128 || N % mult)
        return qlm_fail(QLM_E_SHAPE, "int4 weight %lld x %lld: needs in %% 128 == 0 and out %% %lld == 0",
                        (long long)N, (long long)K, (long long)mult);
    return QLM_OK;
}

static int nib(uint32_t w, int i) { return (int)(w >> (4 * i)) & 15; }

/* ---- GPTQ ---- */

void qlm_gptq_pack(const qlm_int4_mat *m, uint32_t *qweight, uint32_t *qzeros, uint16_t *scales, int32_t *g_idx)
{
    int64_t N = m->N, K = m->K, G = m->G;
    for (int64_t i = 0; i < K / 8; i++)
        for (int64_t n = 0; n < N; n++) {
            uint32_t w = 0;
            for (int j = 0; j < 8; j++)
                w |= (uint32_t)(m->q[n * K + 8 * i + j] & 15) << (4 * j);
            qweight[i * N + n] = w;
        }
    for (int64_t g = 0; g < G; g++) {
        for (int64_t c = 0; c < N / 8; c++) {
            uint32_t w = 0;
            for (int j = 0; j < 8; j++)
                w |= (uint32_t)((m->z[(8 * c + j) * G + g] - 1) & 15) << (4 * j);
            qzeros[g * (N / 8) + c] = w;
        }
        for (int64_t n = 0; n < N; n++)
            scales[g * N + n] = m->s[n * G + g];
    }
    for (int64_t k = 0; k < K; k++)
        g_idx[k] = (int32_t)(k / (K / G));
}

qlm_status qlm_gptq_unpack(const uint32_t *qweight, const uint32_t *qzeros, const uint16_t *scales,
                           const int32_t *g_idx, qlm_int4_mat *m)
{
    int64_t N = m->N, K = m->K, G = m->G;
    for (int64_t k = 0; g_idx && k < K; k++) {
        if (g_idx[k] < 0 || g_idx[k] >= G)
            return qlm_fail(QLM_E_VALUE, "g_idx[%lld] = %d is outside [0, %lld)", (long long)k, (int)g_idx[k],
                            (long long)G);
        if (g_idx[k] != k / (K / G))
            return qlm_fail(QLM_E_UNSUPPORTED, "g_idx[%lld] = %d: act-order (desc_act) GPTQ checkpoints are not "
                            "supported, only groups of %lld consecutive inputs (g_idx[k] = k / %lld)",
                            (long long)k, (int)g_idx[k], (long long)(K / G), (long long)(K / G));
    }
    for (int64_t n = 0; n < N; n++) {
        for (int64_t k = 0; k < K; k++)
            m->q[n * K + k] = (uint8_t)nib(qweight[(k / 8) * N + n], (int)(k % 8));
        for (int64_t g = 0; g < G; g++) {
            m->z[n * G + g] = (uint8_t)(nib(qzeros[g * (N / 8) + n / 8], (int)(n % 8)) + 1);
            m->s[n * G + g] = scales[g * N + n];
        }
    }
    return QLM_OK;
}

/* ---- AWQ ---- */

void qlm_awq_pack(const qlm_int4_mat *m, uint32_t *qweight, uint32_t *qzeros, uint16_t *scales)
{
    int64_t N = m->N, K = m->K, G = m->G, C = N / 8;
    for (int64_t c = 0; c < C; c++) {
        for (int64_t k = 0; k < K; k++) {
            uint32_t w = 0;
            for (int i = 0; i < 8; i++)
                w |= (uint32_t)(m->q[(8 * c + k_awq_order[i]) * K + k] & 15) << (4 * i);
            qweight[k * C + c] = w;
        }
        for (int64_t g = 0; g < G; g++) {
            uint32_t w = 0;
            for (int i = 0; i < 8; i++)
                w |= (uint32_t)(m->z[(8 * c + k_awq_order[i]) * G + g] & 15) << (4 * i);
            qzeros[g * C + c] = w;
        }
    }
    for (int64_t g = 0; g < G; g++)
        for (int64_t n = 0; n < N; n++)
            scales[g * N + n] = m->s[n * G + g];
}

void qlm_awq_unpack(const uint32_t *qweight, const uint32_t *qzeros, const uint16_t *scales, qlm_int4_mat *m)
{
    int64_t N = m->N, K = m->K, G = m->G, C = N / 8;
    for (int64_t c = 0; c < C; c++)
        for (int i = 0; i < 8; i++) {
            int64_t n = 8 * c + k_awq_order[i];
            for (int64_t k = 0; k < K; k++)
                m->q[n * K + k] = (uint8_t)nib(qweight[k * C + c], i);
            for (int64_t g = 0; g < G; g++) {
                m->z[n * G + g] = (uint8_t)nib(qzeros[g * C + c], i);
                m->s[n * G + g] = scales[g * N + n];
            }
        }
}

/* ---- Marlin ----
 * Layer.pack lays the codes Q[k][n] (k input, n output) out as rows of 16
 * inputs: in row k/16, the 16x16 tile of column block n/16 occupies 256
 * consecutive entries (k%16 major, n%16 minor). Each run of 1024 entries is
 * then permuted so that a thread's tensor-core fragments are contiguous, and
 * consecutive runs of 8 entries become one u32 (entry i in nibble i). The
 * scales S[g][n] are permuted in runs of 64 (32 when there is one group). */

/* perm[i] = the tiled entry that lands at position i of a 1024-run. */
static void marlin_perm(int perm[1024])
{
    static const int interleave[8] = {0, 2, 4, 6, 1, 3, 5, 7};
    int raw[1024], n = 0;
    for (int i = 0; i < 32; i++) {
        int first[8], f = 0, col = i / 4, r = i % 4;
        const int rows[4] = {2 * r, 2 * r + 1, 2 * (r + 4), 2 * (r + 4) + 1};
        for (int block = 0; block < 2; block++)
            for (int j = 0; j < 4; j++)
                first[f++] = 16 * rows[j] + col + 8 * block;
        for (int j = 0; j < 4; j++)
            for (int e = 0; e < 8; e++)
                raw[n++] = first[e] + 256 * j;
    }
    for (int g = 0; g < 128; g++)
        for (int e = 0; e < 8; e++)
            perm[8 * g + e] = raw[8 * g + interleave[e]];
}

static void invert(const int *perm, int *inv, int n)
{
    for (int i = 0; i < n; i++)
        inv[perm[i]] = i;
}

/* Scale permutation of a run (64 entries, or 32 with a single group). */
static int marlin_scale_perm(int *perm, int single)
{
    static const int single_off[8] = {0, 1, 8, 9, 16, 17, 24, 25};
    int n = 0;
    if (single) {
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 8; j++)
                perm[n++] = 2 * i + single_off[j];
    } else {
        for (int i = 0; i < 8; i++)
            for (int j = 0; j < 8; j++)
                perm[n++] = i + 8 * j;
    }
    return n;
}

/* Position (row, entry) of code (k, n) in the packed rows of 16N entries. */
static int64_t marlin_entry(const int *inv, int64_t k, int64_t n, int64_t *row)
{
    int64_t p = (n / 16) * 256 + (k % 16) * 16 + n % 16;
    *row = k / 16;
    return p / 1024 * 1024 + inv[p % 1024];
}

qlm_status qlm_marlin_pack(const qlm_int4_mat *m, uint32_t *B, uint16_t *s)
{
    int64_t N = m->N, K = m->K, G = m->G;
    for (int64_t i = 0; i < N * G; i++)
        if (m->z[i] != 8)
            return qlm_fail(QLM_E_VALUE, "Marlin is symmetric: zero point %d of output %lld group %lld is not 8",
                            m->z[i], (long long)(i / G), (long long)(i % G));
    int perm[1024], inv[1024], sp[64], sinv[64];
    marlin_perm(perm);
    invert(perm, inv, 1024);
    memset(B, 0, (size_t)(K / 16) * (size_t)(2 * N) * sizeof *B);
    for (int64_t n = 0; n < N; n++)
        for (int64_t k = 0; k < K; k++) {
            int64_t row, e = marlin_entry(inv, k, n, &row);
            B[row * 2 * N + e / 8] |= (uint32_t)(m->q[n * K + k] & 15) << (4 * (e % 8));
        }
    int run = marlin_scale_perm(sp, G == 1);
    invert(sp, sinv, run);
    for (int64_t g = 0; g < G; g++)
        for (int64_t n = 0; n < N; n++) {
            int64_t f = g * N + n;
            s[f / run * run + sinv[f % run]] = m->s[n * G + g];
        }
    return QLM_OK;
}

void qlm_marlin_unpack(const uint32_t *B, const uint16_t *s, qlm_int4_mat *m)
{
    int64_t N = m->N, K = m->K, G = m->G;
    int perm[1024], inv[1024], sp[64], sinv[64];
    marlin_perm(perm);
    invert(perm, inv, 1024);
    for (int64_t n = 0; n < N; n++)
        for (int64_t k = 0; k < K; k++) {
            int64_t row, e = marlin_entry(inv, k, n, &row);
            m->q[n * K + k] = (uint8_t)nib(B[row * 2 * N + e / 8], (int)(e % 8));
        }
    int run = marlin_scale_perm(sp, G == 1);
    invert(sp, sinv, run);
    for (int64_t g = 0; g < G; g++)
        for (int64_t n = 0; n < N; n++) {
            int64_t f = g * N + n;
            m->s[n * G + g] = s[f / run * run + sinv[f % run]];
            m->z[n * G + g] = 8;
        }
}

void qlm_int4_row_w4a16(const qlm_int4_mat *m, int64_t r, qlm_block_w4 *out)
{
    int64_t K = m->K, G = m->G, per = K / G / G128; /* blocks per group */
    for (int64_t i = 0; i < K / G128; i++) {
        qlm_block_w4 *b = &out[i];
        memset(b, 0, sizeof *b);
        b->s = m->s[r * G + i / per];
        b->z = m->z[r * G + i / per];
        const uint8_t *q = m->q + r * K + i * G128;
        for (int j = 0; j < G128 / 2; j++)
            b->qs[j] = (uint8_t)((q[2 * j] & 15) | (q[2 * j + 1] & 15) << 4);
    }
}
