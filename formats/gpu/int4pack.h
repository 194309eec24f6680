/* INT4 checkpoint packings: GPTQ, AWQ and Marlin, to and from one unpacked
 * form (codes, f16 scales and zero points per group along the input dim: G
 * groups of K/G consecutive inputs, K/G a multiple of 128; group 128 is
 * G = K/128, per-channel ("group_size": -1) is G = 1). Every packing carries the same numbers: w = (q - z) * s in f16,
 * the .qlm w4a16 dtype (formats/gpu/gpublock.h) and the W4A16 GEMM contract.
 * Byte layouts: docs/GPU-NUMERICS.md section 4.
 *
 *   GPTQ   qweight u32 [K/8][N]: element (n, k) is nibble k%8 of qweight[k/8][n];
 *          qzeros u32 [G][N/8]: zero of (n, g) is nibble n%8 of qzeros[g][n/8],
 *          stored as z - 1 (AutoGPTQ's convention; unpacking adds 1, so a
 *          stored 15 reads as 16); scales u16 [G][N]; g_idx i32 [K] = k / (K/G).
 *   AWQ    qweight u32 [K][N/8]: nibble i of qweight[k][c] is element
 *          (n = 8c + order[i], k), order = {0, 2, 4, 6, 1, 3, 5, 7};
 *          qzeros u32 [G][N/8] packed the same way (no offset); scales [G][N].
 *   Marlin B u32 [K/16][2N] and s u16 [G][N] in the tile permutation of
 *          Marlin's Layer.pack (IST-DASLab/marlin); symmetric: z = 8.
 * All need K % 128 == 0 and N % 8 == 0; Marlin also N % 64 == 0; and
 * (K / G) % 128 == 0. */
#ifndef QLM_INT4PACK_H
#define QLM_INT4PACK_H

#include <stdint.h>

#include "formats/common/err.h"
#include "formats/gpu/gpublock.h"

typedef struct {
    int64_t N, K;  /* W is N x K (out x in) */
    uint8_t *q;    /* [N][K] codes 0..15 */
    uint16_t *s;   /* [N][G] f16 scales */
    uint8_t *z;    /* [N][G] zero points (0..16) */
    int64_t G;     /* groups along K, each K/G consecutive inputs */
} qlm_int4_mat;

/* QLM_E_SHAPE naming the dims unless K % 128 == 0, N % mult == 0, N, K > 0. */
qlm_status qlm_int4_check_shape(int64_t N, int64_t K, int64_t mult);

void qlm_gptq_pack(const qlm_int4_mat *m, uint32_t *qweight, uint32_t *qzeros, uint16_t *scales, int32_t *g_idx);
/* QLM_E_UNSUPPORTED for a g_idx other than k / (K/G) (act-order
 * checkpoints), QLM_E_VALUE for one outside [0, G). g_idx may be NULL. */
qlm_status qlm_gptq_unpack(const uint32_t *qweight, const uint32_t *qzeros, const uint16_t *scales,
                           const int32_t *g_idx, qlm_int4_mat *m);

void qlm_awq_pack(const qlm_int4_mat *m, uint32_t *qweight, uint32_t *qzeros, uint16_t *scales);
void qlm_awq_unpack(const uint32_t *qweight, const uint32_t *qzeros, const uint16_t *scales, qlm_int4_mat *m);

/* QLM_E_VALUE if a zero point is not 8 (Marlin is symmetric). */
qlm_status qlm_marlin_pack(const qlm_int4_mat *m, uint32_t *B, uint16_t *s);
void qlm_marlin_unpack(const uint32_t *B, const uint16_t *s, qlm_int4_mat *m);

/* Row r of m as w4a16 blocks (K/128 of them; a group of K/G > 128 inputs
 * gives each of its blocks the group's scale and zero point). */
void qlm_int4_row_w4a16(const qlm_int4_mat *m, int64_t r, qlm_block_w4 *out);

#endif
