/* AVX-512 VNNI quantized matmuls (Q8 / Q4 weights x Q8 activations).
 *
 * Lanes are output rows: a tile of 16 rows x up to 4 tokens keeps one zmm
 * accumulator per token, and each block adds fmaf(isum, s, acc) to all 16
 * rows at once, so every row's chain is the reference's sequential chain.
 *
 * isum per row: vpdpbusd multiplies unsigned by signed bytes, so weights are
 * made unsigned (Q8: w + 128, Q4: the raw nibble) and the offset is taken
 * back exactly: the accumulator starts at -c * (group sums of x), c = 128 or
 * 8. Four rows share a zmm (one per 128-bit lane, rows k, 4+k, 8+k, 12+k in
 * zmm k) against x broadcast to all four lanes; a 4x4 transpose-add then
 * yields the 16 row sums with lane i = row i. Integer sums are exact, so
 * their order is free. */
#include <string.h>

#include "simd/x86/avx512/avx512.h"

#define INLINE static inline __attribute__((always_inline))

typedef struct {
    __m512i lo[4], hi[4]; /* unsigned operands: elements 0..15 and 16..31 */
    __m512 d;             /* fp16 scales widened, lane i = row i */
} wtile;

INLINE __m512i load4(const uint8_t *const *rows, int k, size_t off)
{
    __m512i v = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(rows[k] + off)));
    v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(rows[4 + k] + off)), 1);
    v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(rows[8 + k] + off)), 2);
    return _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(rows[12 + k] + off)), 3);
}

/* The 16 rows of a tile: pointers for the 16-byte loads, and the same rows
 * as int32 byte offsets from rows[0] for gathering the 2-byte scales. */
typedef struct {
    const uint8_t *rows[16];
    __m512i offs;
} rowset;

INLINE __m512 load_scales(const rowset *rs, size_t off)
{
    /* 4 bytes per row: the scale and two code bytes of the same block */
    __m512i d = _mm512_i32gather_epi32(rs->offs, rs->rows[0] + off, 1);
    return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(d));
}

/* Block j of the 16 rows; q4 selects the layout. */
INLINE void load_tile(wtile *wt, const rowset *rs, int64_t j, int q4)
{
    size_t off = (size_t)j * (q4 ? sizeof(qlm_block_q4) : sizeof(qlm_block_q8));
    #pragma GCC unroll 16
    for (int k = 0; k < 4; k++) {
        if (q4) {
            __m512i v = load4(rs->rows, k, off + 2), m = _mm512_set1_epi8(15);
            wt->lo[k] = _mm512_and_si512(v, m);
            wt->hi[k] = _mm512_and_si512(_mm512_srli_epi16(v, 4), m);
        } else {
            __m512i s = _mm512_set1_epi8((char)0x80);
            wt->lo[k] = _mm512_xor_si512(load4(rs->rows, k, off + 2), s);
            wt->hi[k] = _mm512_xor_si512(load4(rs->rows, k, off + 18), s);
        }
    }
    wt->d = load_scales(rs, off);
}

/* [a b c d] per 128-bit lane of each input -> lane 4L+k = sum of input k's lane L. */
INLINE __m512i sum4x4(__m512i a, __m512i b, __m512i c, __m512i d)
{
    __m512i ab = _mm512_add_epi32(_mm512_unpacklo_epi32(a, b), _mm512_unpackhi_epi32(a, b));
    __m512i cd = _mm512_add_epi32(_mm512_unpacklo_epi32(c, d), _mm512_unpackhi_epi32(c, d));
    return _mm512_add_epi32(_mm512_unpacklo_epi64(ab, cd), _mm512_unpackhi_epi64(ab, cd));
}

/* sum of the 32 codes of an activation block */
INLINE int32_t xsum(const qlm_block_q8a *xb)
{
    __m256i u = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)xb->q), _mm256_set1_epi8((char)0x80));
    __m256i s = _mm256_sad_epu8(u, _mm256_setzero_si256());
    __m128i t = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    t = _mm_add_epi64(t, _mm_unpackhi_epi64(t, t));
    return (int32_t)_mm_cvtsi128_si64(t) - 32 * 128;
}

/* acc = fmaf(isum, s, acc) for the 16 rows against one activation block;
 * neg = -c * sum(x) takes the unsigned offset of the weights back out. */
INLINE __m512 step(const wtile *wt, const qlm_block_q8a *xb, int32_t neg, __m512 acc)
{
    __m512i xlo = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)xb->q));
    __m512i xhi = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(xb->q + 16)));
    __m512i a[4];
    #pragma GCC unroll 16
    for (int k = 0; k < 4; k++)
        a[k] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), wt->lo[k], xlo), wt->hi[k], xhi);
    __m512i is = _mm512_add_epi32(sum4x4(a[0], a[1], a[2], a[3]), _mm512_set1_epi32(neg));
    __m512 s = _mm512_mul_ps(wt->d, _mm512_set1_ps(xb->d));
    return _mm512_fmadd_ps(_mm512_cvtepi32_ps(is), s, acc);
}

/* Decode (one token at a time): the 4x4 transpose-add per block. neg holds
 * the token's offsets, or is NULL to compute them on the way. */
INLINE void tile_gemv(const rowset *rs, const qlm_block_q8a *x, const int32_t *neg, int64_t nb,
                      float *y, __mmask16 m, int q4)
{
    __m512 acc = _mm512_setzero_ps();
    int32_t c = q4 ? 8 : 128;
    for (int64_t j = 0; j < nb; j++) {
        wtile wt;
        load_tile(&wt, rs, j, q4);
        acc = step(&wt, x + j, neg ? neg[j] : -c * xsum(x + j), acc);
    }
    _mm512_mask_storeu_ps(y, m, acc);
}

/* [a b c d] dwords per 128-bit lane of v[0..3] -> g[i] lane 4L+k = v[k] lane L dword i:
 * with v[k] holding row 4L+k in lane L, g[i] holds bytes 4i..4i+3 of row r in lane r. */
INLINE void transpose4(const __m512i *v, __m512i *g)
{
    __m512i t0 = _mm512_unpacklo_epi32(v[0], v[1]), t1 = _mm512_unpackhi_epi32(v[0], v[1]);
    __m512i t2 = _mm512_unpacklo_epi32(v[2], v[3]), t3 = _mm512_unpackhi_epi32(v[2], v[3]);
    g[0] = _mm512_unpacklo_epi64(t0, t2);
    g[1] = _mm512_unpackhi_epi64(t0, t2);
    g[2] = _mm512_unpacklo_epi64(t1, t3);
    g[3] = _mm512_unpackhi_epi64(t1, t3);
}

/* Prefill: the block's weights are transposed once so that lane r of g[i]
 * holds four bytes of row r; then each token needs only eight vpdpbusd
 * against broadcast dwords of x, starting from -c * sum(x) (neg). */
INLINE void tile_gemm(const rowset *rs, const qlm_block_q8a *x, const int32_t *neg, int64_t nb,
                      int T, float *y, int64_t ldy, __mmask16 m, int q4)
{
    __m512 acc[8];
    #pragma GCC unroll 16
    for (int t = 0; t < T; t++)
        acc[t] = _mm512_setzero_ps();
    for (int64_t j = 0; j < nb; j++) {
        wtile wt;
        __m512i g[8];
        load_tile(&wt, rs, j, q4);
        transpose4(wt.lo, g);
        transpose4(wt.hi, g + 4);
        #pragma GCC unroll 16
        for (int t = 0; t < T; t++) {
            const qlm_block_q8a *xb = x + t * nb + j;
            __m512i a = _mm512_set1_epi32(neg[t * nb + j]);
            #pragma GCC unroll 16
            for (int i = 0; i < 8; i++) {
                int32_t xd;
                memcpy(&xd, xb->q + 4 * i, 4);
                a = _mm512_dpbusd_epi32(a, g[i], _mm512_set1_epi32(xd));
            }
            __m512 s = _mm512_mul_ps(wt.d, _mm512_set1_ps(xb->d));
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(a), s, acc[t]);
        }
    }
    #pragma GCC unroll 16
    for (int t = 0; t < T; t++)
        _mm512_mask_storeu_ps(y + t * ldy, m, acc[t]);
}

INLINE void rows_init(rowset *rs, const uint8_t *w, size_t row_bytes, int64_t r, int64_t n)
{
    /* rows past the range repeat its last row; their lanes are not stored */
    int32_t offs[16];
    for (int i = 0; i < 16; i++) {
        offs[i] = (int32_t)((i < n ? i : n - 1) * (int64_t)row_bytes);
        rs->rows[i] = w + (size_t)r * row_bytes + (size_t)offs[i];
    }
    rs->offs = _mm512_loadu_si512(offs);
}

/* Tokens [0, nt) of one chunk against rows [r0, r1), in tiles of 16 x 8. */
INLINE void gemm(const uint8_t *w, size_t row_bytes, const qlm_block_q8a *x, const int32_t *neg,
                 int64_t nb, int64_t nt, int64_t r0, int64_t r1, float *y, int64_t ldy, int q4)
{
    for (int64_t r = r0; r < r1; r += 16) {
        rowset rs;
        int64_t n = r1 - r < 16 ? r1 - r : 16;
        rows_init(&rs, w, row_bytes, r, n);
        __mmask16 m = qa5_mask(n);
        int64_t t = 0;
        for (; t + 8 <= nt; t += 8)
            tile_gemm(&rs, x + t * nb, neg + t * nb, nb, 8, y + t * ldy + r, ldy, m, q4);
        if (t + 4 <= nt) {
            tile_gemm(&rs, x + t * nb, neg + t * nb, nb, 4, y + t * ldy + r, ldy, m, q4);
            t += 4;
        }
        if (t + 2 <= nt) {
            tile_gemm(&rs, x + t * nb, neg + t * nb, nb, 2, y + t * ldy + r, ldy, m, q4);
            t += 2;
        }
        if (t < nt)
            tile_gemm(&rs, x + t * nb, neg + t * nb, nb, 1, y + t * ldy + r, ldy, m, q4);
    }
}

enum { NEG_CAP = 4096 }; /* int32 offsets kept on the stack: 16 KiB */

INLINE void mm(const uint8_t *w, size_t row_bytes, const qlm_block_q8a *x, int64_t nb, int64_t nt,
               int64_t r0, int64_t r1, float *y, int64_t ldy, int q4)
{
    int32_t neg[NEG_CAP];
    int64_t c = q4 ? 8 : 128;
    if (nt == 1 || nb > NEG_CAP / 8) {
        for (int64_t t = 0; t < nt; t++) {
            const qlm_block_q8a *xt = x + t * nb;
            for (int64_t j = 0; j < nb && nb <= NEG_CAP; j++)
                neg[j] = (int32_t)(-c * xsum(xt + j));
            for (int64_t r = r0; r < r1; r += 16) {
                rowset rs;
                int64_t n = r1 - r < 16 ? r1 - r : 16;
                rows_init(&rs, w, row_bytes, r, n);
                tile_gemv(&rs, xt, nb <= NEG_CAP ? neg : NULL, nb, y + t * ldy + r, qa5_mask(n), q4);
            }
        }
        return;
    }
    int64_t chunk = NEG_CAP / nb;
    for (int64_t t0 = 0; t0 < nt; t0 += chunk) {
        int64_t tn = nt - t0 < chunk ? nt - t0 : chunk;
        for (int64_t i = 0; i < tn * nb; i++)
            neg[i] = (int32_t)(-c * xsum(x + t0 * nb + i));
        gemm(w, row_bytes, x + t0 * nb, neg, nb, tn, r0, r1, y + t0 * ldy, ldy, q4);
    }
}

/* Rows so long that 15 of them overflow the int32 gather offsets (K > 2^27)
 * take the reference path: same results, no realistic model gets there. */
static int too_long(int64_t nb, size_t bs) { return nb > INT32_MAX / 16 / (int64_t)bs; }

void qa5_mm_q8(const qlm_block_q8 *w, const qlm_block_q8a *x, int64_t nb, int64_t nt, int64_t r0,
               int64_t r1, float *y, int64_t ldy)
{
    if (too_long(nb, sizeof *w)) {
        qlm_kernels_ref()->mm_q8(w, x, nb, nt, r0, r1, y, ldy);
        return;
    }
    mm((const uint8_t *)w, (size_t)nb * sizeof *w, x, nb, nt, r0, r1, y, ldy, 0);
}

void qa5_mm_q4(const qlm_block_q4 *w, const qlm_block_q8a *x, int64_t nb, int64_t nt, int64_t r0,
               int64_t r1, float *y, int64_t ldy)
{
    if (too_long(nb, sizeof *w)) {
        qlm_kernels_ref()->mm_q4(w, x, nb, nt, r0, r1, y, ldy);
        return;
    }
    mm((const uint8_t *)w, (size_t)nb * sizeof *w, x, nb, nt, r0, r1, y, ldy, 1);
}
