/* AVX-512 VNNI matmuls on a row-interleaved copy of Q8/Q4 weights, made at
 * load (kernels.h: pack_size / pack / mm_packed).
 *
 * Layout (private to this set, never written to disk): rows in groups of 16
 * (the last one padded with zero rows), each group nb blocks of codes then
 * nb rows of 16 fp16 scales, the group padded to 64 bytes:
 *   codes of block j:  CB bytes = CB/64 zmm; dword lane r of zmm i holds
 *                      bytes 4i..4i+3 of row r's block, ready for vpdpbusd
 *                      (Q8: codes ^ 0x80, CB = 512; Q4: the 16 raw nibble
 *                      bytes, CB = 256, split into 8 zmm by and/shift)
 *   scales of block j: the 16 rows' fp16 d, one ymm.
 * So a block of 16 rows costs 4 (Q4) or 8 (Q8) aligned loads and no
 * transposes, shared by a tile of up to 12 tokens (outer-product register
 * tile: 16 rows x T tokens, two zmm accumulators per token). Weights are
 * unsigned, so each token's accumulator starts at -c * sum(x) (c = 128 or 8),
 * which makes isum exact (see mm_quant.c); then per row and token
 * acc = fmaf((float)isum, d * x.d, acc) block after block, the reference
 * chain. */
#include <string.h>

#include "formats/qlm/dtype.h"
#include "simd/x86/avx512/avx512.h"

#define INLINE static inline __attribute__((always_inline))

enum {
    NEG_CAP = 16384,        /* int32 offsets kept on the stack: 64 KiB */
    X_CHUNK = 512 * 1024,   /* activation bytes per token chunk (stays in L2) */
    TILE_T = 12,            /* tokens per register tile (12 + 12 zmm accumulators) */
    PF_DIST = 8192,         /* decode: prefetch this far ahead of the weight stream */
};

static size_t code_bytes(int q4) { return q4 ? 256 : 512; }

/* Bytes per group of 16 rows, padded to keep every group 64-byte aligned. */
static size_t group_bytes(int64_t nb, int q4)
{
    size_t b = (size_t)nb * (code_bytes(q4) + 32);
    return (b + 63) & ~(size_t)63;
}

size_t qa5_pack_size(uint32_t dtype, int64_t rows, int64_t nb)
{
    if ((dtype != QLM_DT_Q8 && dtype != QLM_DT_Q4) || rows < 1 || nb < 1 || nb > NEG_CAP / TILE_T)
        return 0;
    return (size_t)((rows + 15) / 16) * group_bytes(nb, dtype == QLM_DT_Q4);
}

/* One block of 16 rows (n valid, the rest zero) into codes + scales. */
static void pack_block(const uint8_t *w, size_t row_bytes, size_t off, int n, int q4, uint8_t *codes,
                       uint16_t *sc)
{
    size_t nd = code_bytes(q4) / 64; /* dwords per row */
    uint32_t flip = q4 ? 0 : 0x80808080u;
    for (int r = 0; r < 16; r++) {
        const uint8_t *b = w + (size_t)r * row_bytes + off;
        sc[r] = 0;
        if (r < n)
            memcpy(&sc[r], b, 2);
        for (size_t i = 0; i < nd; i++) {
            uint32_t v = 0;
            if (r < n)
                memcpy(&v, b + 2 + 4 * i, 4);
            v ^= r < n ? flip : 0;
            memcpy(codes + i * 64 + (size_t)r * 4, &v, 4);
        }
    }
}

void qa5_pack(uint32_t dtype, const void *w, int64_t rows, int64_t nb, void *out)
{
    int q4 = dtype == QLM_DT_Q4;
    size_t bs = q4 ? sizeof(qlm_block_q4) : sizeof(qlm_block_q8), row_bytes = (size_t)nb * bs;
    size_t cb = code_bytes(q4), gb = group_bytes(nb, q4);
    int64_t groups = (rows + 15) / 16;
#pragma omp parallel for schedule(static)
    for (int64_t g = 0; g < groups; g++) {
        uint8_t *grp = (uint8_t *)out + (size_t)g * gb;
        int n = rows - g * 16 < 16 ? (int)(rows - g * 16) : 16;
        const uint8_t *wg = (const uint8_t *)w + (size_t)g * 16 * row_bytes;
        for (int64_t j = 0; j < nb; j++)
            pack_block(wg, row_bytes, (size_t)j * bs, n, q4, grp + (size_t)j * cb,
                       (uint16_t *)(grp + (size_t)nb * cb) + j * 16);
        memset(grp + (size_t)nb * (cb + 32), 0, gb - (size_t)nb * (cb + 32));
    }
}

/* Operand i of block j's 8 vpdpbusd (Q4: zmm i % 4 of the block, low
 * nibbles for i < 4, high ones after). */
INLINE __m512i codes(const uint8_t *c, int q4, int i)
{
    if (!q4)
        return _mm512_load_si512(c + 64 * i);
    __m512i v = _mm512_load_si512(c + 64 * (i % 4));
    if (i >= 4)
        v = _mm512_srli_epi16(v, 4);
    return _mm512_and_si512(v, _mm512_set1_epi8(15));
}

/* 16 rows x T tokens over all nb blocks; x and neg rows have stride nb.
 * The dpbusd chains of the T tokens are interleaved step by step, so each
 * waits T instructions for its previous step rather than stalling on it. */
INLINE void tile(const uint8_t *grp, int64_t nb, int q4, const qlm_block_q8a *x, const int32_t *neg, int T,
                 float *y, int64_t ldy, __mmask16 m)
{
    size_t cb = code_bytes(q4);
    const uint16_t *sc = (const uint16_t *)(grp + (size_t)nb * cb);
    __m512 acc[TILE_T];
    __m512i a[TILE_T], b[TILE_T];
    #pragma GCC unroll 16
    for (int t = 0; t < T; t++)
        acc[t] = _mm512_setzero_ps();
    for (int64_t j = 0; j < nb; j++) {
        const uint8_t *c = grp + (size_t)j * cb;
        /* Decode reads each weight once per token: it is bound by how many
         * misses one core keeps in flight, and the hardware prefetcher stops
         * at every 4 KiB page. Asking for the line 8 KiB ahead (into the next
         * group or matrix: the copies are one arena in reading order) keeps
         * the queue full; measured +20-25% tokens per CPU-second at 1 thread
         * (distances 0.5-16 KiB and the L2 hint tried). Prefill tiles reuse
         * each block over many tokens and need no help. */
        #pragma GCC unroll 8
        for (size_t p = 0; T <= 2 && p < cb; p += 64)
            _mm_prefetch((const char *)c + PF_DIST + p, _MM_HINT_T0);
        #pragma GCC unroll 16
        for (int t = 0; t < T; t++) {
            a[t] = _mm512_set1_epi32(neg[t * nb + j]);
            b[t] = _mm512_setzero_si512();
        }
        #pragma GCC unroll 8
        for (int i = 0; i < 8; i++) {
            __m512i g = codes(c, q4, i);
            #pragma GCC unroll 16
            for (int t = 0; t < T; t++) {
                int32_t xd;
                memcpy(&xd, x[t * nb + j].q + 4 * i, 4);
                if (T < 4 && i >= 4) /* few tokens: two half chains, half the latency */
                    b[t] = _mm512_dpbusd_epi32(b[t], g, _mm512_set1_epi32(xd));
                else
                    a[t] = _mm512_dpbusd_epi32(a[t], g, _mm512_set1_epi32(xd));
            }
        }
        #pragma GCC unroll 16
        for (int t = 0; t < T && T < 4; t++)
            a[t] = _mm512_add_epi32(a[t], b[t]);
        __m512 d = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(sc + j * 16)));
        #pragma GCC unroll 16
        for (int t = 0; t < T; t++) {
            __m512 s = _mm512_mul_ps(d, _mm512_set1_ps(x[t * nb + j].d));
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(a[t]), s, acc[t]);
        }
    }
    #pragma GCC unroll 16
    for (int t = 0; t < T; t++)
        _mm512_mask_storeu_ps(y + t * ldy, m, acc[t]);
}

/* Tokens [0, tn) of one chunk against the groups covering rows [r0, r1). */
INLINE void chunk(const uint8_t *wp, int64_t nb, int q4, const qlm_block_q8a *x, const int32_t *neg,
                  int64_t tn, int64_t r0, int64_t r1, float *y, int64_t ldy)
{
    size_t gb = group_bytes(nb, q4);
    for (int64_t g = r0 / 16; g * 16 < r1; g++) {
        int64_t lo = g * 16 > r0 ? g * 16 : r0, hi = g * 16 + 16 < r1 ? g * 16 + 16 : r1;
        __mmask16 m = (__mmask16)(qa5_mask(hi - g * 16) & ~qa5_mask(lo - g * 16));
        const uint8_t *grp = wp + (size_t)g * gb;
        float *yg = y + g * 16;
        int64_t t = 0;
        for (; t + TILE_T <= tn; t += TILE_T)
            tile(grp, nb, q4, x + t * nb, neg + t * nb, TILE_T, yg + t * ldy, ldy, m);
        if (t + 8 <= tn) {
            tile(grp, nb, q4, x + t * nb, neg + t * nb, 8, yg + t * ldy, ldy, m);
            t += 8;
        }
        if (t + 4 <= tn) {
            tile(grp, nb, q4, x + t * nb, neg + t * nb, 4, yg + t * ldy, ldy, m);
            t += 4;
        }
        if (t + 2 <= tn) {
            tile(grp, nb, q4, x + t * nb, neg + t * nb, 2, yg + t * ldy, ldy, m);
            t += 2;
        }
        if (t < tn)
            tile(grp, nb, q4, x + t * nb, neg + t * nb, 1, yg + t * ldy, ldy, m);
    }
}

/* sum of the 32 codes of an activation block */
static int32_t xsum(const qlm_block_q8a *xb)
{
    __m256i v = _mm256_loadu_si256((const __m256i *)xb->q);
    __m256i s = _mm256_sad_epu8(_mm256_xor_si256(v, _mm256_set1_epi8((char)0x80)), _mm256_setzero_si256());
    __m128i t = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    t = _mm_add_epi64(t, _mm_unpackhi_epi64(t, t));
    return (int32_t)_mm_cvtsi128_si64(t) - 32 * 128;
}

static void mm(const uint8_t *wp, int q4, const qlm_block_q8a *x, int64_t nb, int64_t nt, int64_t r0,
               int64_t r1, float *y, int64_t ldy)
{
    int32_t neg[NEG_CAP];
    int32_t c = q4 ? 8 : 128;
    /* tokens per chunk: their offsets fit neg, their blocks stay in L2 */
    int64_t tc = NEG_CAP / nb, tl2 = X_CHUNK / (nb * (int64_t)sizeof *x);
    if (tc > tl2)
        tc = tl2 > TILE_T ? tl2 : TILE_T;
    if (tc > TILE_T)
        tc -= tc % TILE_T;
    for (int64_t t0 = 0; t0 < nt; t0 += tc) {
        int64_t tn = nt - t0 < tc ? nt - t0 : tc;
        for (int64_t i = 0; i < tn * nb; i++)
            neg[i] = -c * xsum(x + t0 * nb + i);
        if (q4)
            chunk(wp, nb, 1, x + t0 * nb, neg, tn, r0, r1, y + t0 * ldy, ldy);
        else
            chunk(wp, nb, 0, x + t0 * nb, neg, tn, r0, r1, y + t0 * ldy, ldy);
    }
}

void qa5_mm_packed(uint32_t dtype, const void *wp, const qlm_block_q8a *x, int64_t nb, int64_t nt, int64_t r0,
                   int64_t r1, float *y, int64_t ldy)
{
    mm(wp, dtype == QLM_DT_Q4, x, nb, nt, r0, r1, y, ldy);
}
