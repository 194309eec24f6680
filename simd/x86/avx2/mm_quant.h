/* AVX2 quantized matmuls, instantiated twice: with AVX-VNNI (QA2_VNNI 1,
 * simd/x86/avxvnni/) and with maddubs/madd (QA2_VNNI 0, here). Include once,
 * after defining QA2_VNNI, QA2_MM_Q8 and QA2_MM_Q4 (the function names).
 *
 * Lanes are output rows, as in the AVX-512 set: a tile of 8 rows keeps one
 * ymm accumulator per token, each block adding fmaf(isum, s, acc) to all 8
 * rows. Two rows share a ymm (rows k and 4+k in ymm k), x is broadcast to
 * both 128-bit lanes, and a 4x4 transpose-add yields lane i = row i.
 * Unsigned x signed byte products: VNNI uses w + 128 (Q8) or the raw nibble
 * (Q4) and starts from -c * (sums of x); maddubs would saturate on w + 128,
 * so Q8 uses |w| x (x with the sign of w) there. */
#include <string.h>

#include "simd/x86/avx2/avx2.h"

#define INLINE static inline __attribute__((always_inline))

typedef struct {
    __m256i lo[4], hi[4]; /* elements 0..15 and 16..31 */
    __m256 d;             /* fp16 scales widened, lane i = row i */
} wtile;

INLINE __m256i load2(const uint8_t *const *rows, int k, size_t off)
{
    __m256i v = _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(rows[k] + off)));
    return _mm256_inserti128_si256(v, _mm_loadu_si128((const __m128i *)(rows[4 + k] + off)), 1);
}

INLINE void load_tile(wtile *wt, const uint8_t *const *rows, int64_t j, int q4)
{
    size_t off = (size_t)j * (q4 ? sizeof(qlm_block_q4) : sizeof(qlm_block_q8));
    #pragma GCC unroll 16
    for (int k = 0; k < 4; k++) {
        if (q4) {
            __m256i v = load2(rows, k, off + 2), m = _mm256_set1_epi8(15);
            wt->lo[k] = _mm256_and_si256(v, m);
            wt->hi[k] = _mm256_and_si256(_mm256_srli_epi16(v, 4), m);
        } else {
            wt->lo[k] = load2(rows, k, off + 2);
            wt->hi[k] = load2(rows, k, off + 18);
#if QA2_VNNI
            wt->lo[k] = _mm256_xor_si256(wt->lo[k], _mm256_set1_epi8((char)0x80));
            wt->hi[k] = _mm256_xor_si256(wt->hi[k], _mm256_set1_epi8((char)0x80));
#endif
        }
    }
    uint16_t h[8];
    #pragma GCC unroll 16
    for (int i = 0; i < 8; i++)
        memcpy(&h[i], rows[i] + off, 2);
    wt->d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)h));
}

INLINE __m256i sum4x4(__m256i a, __m256i b, __m256i c, __m256i d)
{
    __m256i ab = _mm256_add_epi32(_mm256_unpacklo_epi32(a, b), _mm256_unpackhi_epi32(a, b));
    __m256i cd = _mm256_add_epi32(_mm256_unpacklo_epi32(c, d), _mm256_unpackhi_epi32(c, d));
    return _mm256_add_epi32(_mm256_unpacklo_epi64(ab, cd), _mm256_unpackhi_epi64(ab, cd));
}

#if QA2_VNNI
INLINE __m256i isums(const wtile *wt, __m256i xlo, __m256i xhi, int q4)
{
    __m256i c = _mm256_set1_epi8(q4 ? 8 : (char)0x80);
    __m256i off = _mm256_dpbusd_avx_epi32(_mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), c, xlo), c, xhi);
    __m256i neg = _mm256_sub_epi32(_mm256_setzero_si256(), off);
    __m256i a[4];
    #pragma GCC unroll 16
    for (int k = 0; k < 4; k++)
        a[k] = _mm256_dpbusd_avx_epi32(_mm256_dpbusd_avx_epi32(neg, wt->lo[k], xlo), wt->hi[k], xhi);
    return sum4x4(a[0], a[1], a[2], a[3]);
}
#else
INLINE __m256i isums(const wtile *wt, __m256i xlo, __m256i xhi, int q4)
{
    __m256i one = _mm256_set1_epi16(1), a[4];
    if (q4) { /* nibble x x pairs stay below 2^13: add before widening */
        __m256i c = _mm256_set1_epi8(8);
        __m256i off = _mm256_madd_epi16(
            _mm256_add_epi16(_mm256_maddubs_epi16(c, xlo), _mm256_maddubs_epi16(c, xhi)), one);
        #pragma GCC unroll 16
        for (int k = 0; k < 4; k++) {
            __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(wt->lo[k], xlo),
                                         _mm256_maddubs_epi16(wt->hi[k], xhi));
            a[k] = _mm256_sub_epi32(_mm256_madd_epi16(p, one), off);
        }
    } else {
        #pragma GCC unroll 16
        for (int k = 0; k < 4; k++) {
            __m256i plo = _mm256_maddubs_epi16(_mm256_abs_epi8(wt->lo[k]), _mm256_sign_epi8(xlo, wt->lo[k]));
            __m256i phi = _mm256_maddubs_epi16(_mm256_abs_epi8(wt->hi[k]), _mm256_sign_epi8(xhi, wt->hi[k]));
            a[k] = _mm256_add_epi32(_mm256_madd_epi16(plo, one), _mm256_madd_epi16(phi, one));
        }
    }
    return sum4x4(a[0], a[1], a[2], a[3]);
}
#endif

INLINE __m256 step(const wtile *wt, const qlm_block_q8a *xb, __m256 acc, int q4)
{
    __m256i xlo = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)xb->q));
    __m256i xhi = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(xb->q + 16)));
    __m256 isum = _mm256_cvtepi32_ps(isums(wt, xlo, xhi, q4));
    return _mm256_fmadd_ps(isum, _mm256_mul_ps(wt->d, _mm256_set1_ps(xb->d)), acc);
}

INLINE void tile(const uint8_t *const *rows, const qlm_block_q8a *x, int64_t nb, int T, float *y,
                 int64_t ldy, int64_t n, int q4)
{
    __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int64_t j = 0; j < nb; j++) {
        wtile wt;
        load_tile(&wt, rows, j, q4);
        #pragma GCC unroll 16
        for (int t = 0; t < T; t++)
            acc[t] = step(&wt, x + t * nb + j, acc[t], q4);
    }
    #pragma GCC unroll 16
    for (int t = 0; t < T; t++)
        _mm256_maskstore_ps(y + t * ldy, qa2_mask(n), acc[t]);
}

INLINE void mm(const uint8_t *w, size_t row_bytes, const qlm_block_q8a *x, int64_t nb, int64_t nt,
               int64_t r0, int64_t r1, float *y, int64_t ldy, int q4)
{
    for (int64_t r = r0; r < r1; r += 8) {
        /* rows past r1 repeat the last row; their lanes are not stored */
        const uint8_t *rows[8];
        int64_t n = r1 - r < 8 ? r1 - r : 8;
        #pragma GCC unroll 16
        for (int i = 0; i < 8; i++)
            rows[i] = w + (size_t)(r + (i < n ? i : n - 1)) * row_bytes;
        int64_t t = 0;
        for (; t + 2 <= nt; t += 2)
            tile(rows, x + t * nb, nb, 2, y + t * ldy + r, ldy, n, q4);
        if (t < nt)
            tile(rows, x + t * nb, nb, 1, y + t * ldy + r, ldy, n, q4);
    }
}

void QA2_MM_Q8(const qlm_block_q8 *w, const qlm_block_q8a *x, int64_t nb, int64_t nt, int64_t r0,
               int64_t r1, float *y, int64_t ldy)
{
    mm((const uint8_t *)w, (size_t)nb * sizeof *w, x, nb, nt, r0, r1, y, ldy, 0);
}

void QA2_MM_Q4(const qlm_block_q4 *w, const qlm_block_q8a *x, int64_t nb, int64_t nt, int64_t r0,
               int64_t r1, float *y, int64_t ldy)
{
    mm((const uint8_t *)w, (size_t)nb * sizeof *w, x, nb, nt, r0, r1, y, ldy, 1);
}
