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

INLINE __m512 load_scales(const uint8_t *const *rows, size_t off)
{
    uint16_t h[16];
    for (int i = 0; i < 16; i++)
        memcpy(&h[i], rows[i] + off, 2);
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)h));
}

/* Block j of the 16 rows; q4 selects the layout. */
INLINE void load_tile(wtile *wt, const uint8_t *const *rows, int64_t j, int q4)
{
    size_t off = (size_t)j * (q4 ? sizeof(qlm_block_q4) : sizeof(qlm_block_q8));
    for (int k = 0; k < 4; k++) {
        if (q4) {
            __m512i v = load4(rows, k, off + 2), m = _mm512_set1_epi8(15);
            wt->lo[k] = _mm512_and_si512(v, m);
            wt->hi[k] = _mm512_and_si512(_mm512_srli_epi16(v, 4), m);
        } else {
            __m512i s = _mm512_set1_epi8((char)0x80);
            wt->lo[k] = _mm512_xor_si512(load4(rows, k, off + 2), s);
            wt->hi[k] = _mm512_xor_si512(load4(rows, k, off + 18), s);
        }
    }
    wt->d = load_scales(rows, off);
}

/* [a b c d] per 128-bit lane of each input -> lane 4L+k = sum of input k's lane L. */
INLINE __m512i sum4x4(__m512i a, __m512i b, __m512i c, __m512i d)
{
    __m512i ab = _mm512_add_epi32(_mm512_unpacklo_epi32(a, b), _mm512_unpackhi_epi32(a, b));
    __m512i cd = _mm512_add_epi32(_mm512_unpacklo_epi32(c, d), _mm512_unpackhi_epi32(c, d));
    return _mm512_add_epi32(_mm512_unpacklo_epi64(ab, cd), _mm512_unpackhi_epi64(ab, cd));
}

/* acc = fmaf(isum, s, acc) for the 16 rows against one activation block. */
INLINE __m512 step(const wtile *wt, const qlm_block_q8a *xb, __m512 acc, int q4)
{
    __m512i xlo = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)xb->q));
    __m512i xhi = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(xb->q + 16)));
    __m512i c = _mm512_set1_epi8(q4 ? 8 : (char)0x80);
    __m512i off = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), c, xlo), c, xhi);
    __m512i neg = _mm512_sub_epi32(_mm512_setzero_si512(), off);
    __m512i a[4];
    for (int k = 0; k < 4; k++)
        a[k] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(neg, wt->lo[k], xlo), wt->hi[k], xhi);
    __m512 isum = _mm512_cvtepi32_ps(sum4x4(a[0], a[1], a[2], a[3]));
    __m512 s = _mm512_mul_ps(wt->d, _mm512_set1_ps(xb->d));
    return _mm512_fmadd_ps(isum, s, acc);
}

INLINE void tile(const uint8_t *const *rows, const qlm_block_q8a *x, int64_t nb, int T, float *y,
                 int64_t ldy, __mmask16 m, int q4)
{
    __m512 acc[4];
    for (int t = 0; t < T; t++)
        acc[t] = _mm512_setzero_ps();
    for (int64_t j = 0; j < nb; j++) {
        wtile wt;
        load_tile(&wt, rows, j, q4);
        for (int t = 0; t < T; t++)
            acc[t] = step(&wt, x + t * nb + j, acc[t], q4);
    }
    for (int t = 0; t < T; t++)
        _mm512_mask_storeu_ps(y + t * ldy, m, acc[t]);
}

INLINE void mm(const uint8_t *w, size_t row_bytes, const qlm_block_q8a *x, int64_t nb, int64_t nt,
               int64_t r0, int64_t r1, float *y, int64_t ldy, int q4)
{
    for (int64_t r = r0; r < r1; r += 16) {
        /* rows past r1 repeat the last row; their lanes are not stored */
        const uint8_t *rows[16];
        int64_t n = r1 - r < 16 ? r1 - r : 16;
        for (int i = 0; i < 16; i++)
            rows[i] = w + (size_t)(r + (i < n ? i : n - 1)) * row_bytes;
        __mmask16 m = qa5_mask(n);
        int64_t t = 0;
        for (; t + 4 <= nt; t += 4)
            tile(rows, x + t * nb, nb, 4, y + t * ldy + r, ldy, m, q4);
        switch (nt - t) {
        case 3: tile(rows, x + t * nb, nb, 3, y + t * ldy + r, ldy, m, q4); break;
        case 2: tile(rows, x + t * nb, nb, 2, y + t * ldy + r, ldy, m, q4); break;
        case 1: tile(rows, x + t * nb, nb, 1, y + t * ldy + r, ldy, m, q4); break;
        default: break;
        }
    }
}

void qa5_mm_q8(const qlm_block_q8 *w, const qlm_block_q8a *x, int64_t nb, int64_t nt, int64_t r0,
               int64_t r1, float *y, int64_t ldy)
{
    mm((const uint8_t *)w, (size_t)nb * sizeof *w, x, nb, nt, r0, r1, y, ldy, 0);
}

void qa5_mm_q4(const qlm_block_q4 *w, const qlm_block_q8a *x, int64_t nb, int64_t nt, int64_t r0,
               int64_t r1, float *y, int64_t ldy)
{
    mm((const uint8_t *)w, (size_t)nb * sizeof *w, x, nb, nt, r0, r1, y, ldy, 1);
}
