/* NEON quantized matmuls with the dot-product extension (sdot).
 *
 * Lanes are output rows: a tile of 4 rows keeps one float32x4 accumulator per
 * token and adds fmaf(isum, s, acc) per block, the reference's sequential
 * chain for each row. sdot takes signed bytes on both sides, so Q8 weights
 * are used as they are and Q4 nibbles become nibble - 8; pairwise adds then
 * give the four exact row sums in lane order. */
#include <string.h>

#include "simd/arm/neon/neon.h"

#define INLINE static inline __attribute__((always_inline))

typedef struct {
    int8x16_t lo[4], hi[4]; /* elements 0..15 and 16..31 of each row */
    float32x4_t d;          /* fp16 scales widened, lane i = row i */
} wtile;

INLINE void load_tile(wtile *wt, const uint8_t *const *rows, int64_t j, int q4)
{
    size_t off = (size_t)j * (q4 ? sizeof(qlm_block_q4) : sizeof(qlm_block_q8));
    uint16_t h[4];
    #pragma GCC unroll 16
    for (int i = 0; i < 4; i++) {
        const uint8_t *b = rows[i] + off;
        memcpy(&h[i], b, 2);
        if (q4) {
            uint8x16_t v = vld1q_u8(b + 2);
            int8x16_t eight = vdupq_n_s8(8);
            wt->lo[i] = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(v, vdupq_n_u8(15))), eight);
            wt->hi[i] = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(v, 4)), eight);
        } else {
            wt->lo[i] = vld1q_s8((const int8_t *)b + 2);
            wt->hi[i] = vld1q_s8((const int8_t *)b + 18);
        }
    }
    wt->d = vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(h)));
}

INLINE float32x4_t step(const wtile *wt, const qlm_block_q8a *xb, float32x4_t acc)
{
    int8x16_t xlo = vld1q_s8(xb->q), xhi = vld1q_s8(xb->q + 16);
    int32x4_t a[4];
    #pragma GCC unroll 16
    for (int i = 0; i < 4; i++)
        a[i] = vdotq_s32(vdotq_s32(vdupq_n_s32(0), wt->lo[i], xlo), wt->hi[i], xhi);
    int32x4_t isum = vpaddq_s32(vpaddq_s32(a[0], a[1]), vpaddq_s32(a[2], a[3]));
    float32x4_t s = vmulq_n_f32(wt->d, xb->d);
    return vfmaq_f32(acc, vcvtq_f32_s32(isum), s);
}

INLINE void tile(const uint8_t *const *rows, const qlm_block_q8a *x, int64_t nb, int T, float *y,
                 int64_t ldy, int64_t n, int q4)
{
    float32x4_t acc[4];
    #pragma GCC unroll 16
    for (int t = 0; t < T; t++)
        acc[t] = vdupq_n_f32(0.0f);
    for (int64_t j = 0; j < nb; j++) {
        wtile wt;
        load_tile(&wt, rows, j, q4);
        #pragma GCC unroll 16
        for (int t = 0; t < T; t++)
            acc[t] = step(&wt, x + t * nb + j, acc[t]);
    }
    #pragma GCC unroll 16
    for (int t = 0; t < T; t++) {
        float o[4];
        vst1q_f32(o, acc[t]);
        memcpy(y + t * ldy, o, (size_t)n * sizeof *o);
    }
}

INLINE void mm(const uint8_t *w, size_t row_bytes, const qlm_block_q8a *x, int64_t nb, int64_t nt,
               int64_t r0, int64_t r1, float *y, int64_t ldy, int q4)
{
    for (int64_t r = r0; r < r1; r += 4) {
        /* rows past r1 repeat the last row; their lanes are not stored */
        const uint8_t *rows[4];
        int64_t n = r1 - r < 4 ? r1 - r : 4;
        #pragma GCC unroll 16
        for (int i = 0; i < 4; i++)
            rows[i] = w + (size_t)(r + (i < n ? i : n - 1)) * row_bytes;
        int64_t t = 0;
        for (; t + 4 <= nt; t += 4)
            tile(rows, x + t * nb, nb, 4, y + t * ldy + r, ldy, n, q4);
        switch (nt - t) {
        case 3: tile(rows, x + t * nb, nb, 3, y + t * ldy + r, ldy, n, q4); break;
        case 2: tile(rows, x + t * nb, nb, 2, y + t * ldy + r, ldy, n, q4); break;
        case 1: tile(rows, x + t * nb, nb, 1, y + t * ldy + r, ldy, n, q4); break;
        default: break;
        }
    }
}

void qn_mm_q8(const qlm_block_q8 *w, const qlm_block_q8a *x, int64_t nb, int64_t nt, int64_t r0,
              int64_t r1, float *y, int64_t ldy)
{
    mm((const uint8_t *)w, (size_t)nb * sizeof *w, x, nb, nt, r0, r1, y, ldy, 0);
}

void qn_mm_q4(const qlm_block_q4 *w, const qlm_block_q8a *x, int64_t nb, int64_t nt, int64_t r0,
              int64_t r1, float *y, int64_t ldy)
{
    mm((const uint8_t *)w, (size_t)nb * sizeof *w, x, nb, nt, r0, r1, y, ldy, 1);
}
