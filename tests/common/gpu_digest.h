/* The GPU conversion digests of tests/data/gpu/cvt_digests.txt (measured by
 * tests/gpu/cvt_digest.cu on real hardware) and their CPU recomputation. */
#ifndef QLM_GPU_DIGEST_H
#define QLM_GPU_DIGEST_H

#include <stdbool.h>
#include <stdint.h>

#include "formats/gpu/gpucvt.h"

#define GD_CHUNKS 256   /* 2^32 inputs in chunks of 2^24 */
#define GD_DECODES 6    /* dec_e4m3 dec_e5m2 dec_e2m1 dec_e8m0 dec_bf16 dec_f16 */

typedef struct {
    char conv[QLM_GPU_CVT_COUNT][GD_CHUNKS][65];
    char dec[GD_DECODES][65];
} gpu_digests;

/* Parse the digest file; fails the test if it is missing, malformed or incomplete. */
void gd_load(gpu_digests *d);
/* Recompute chunk c of mode m with qlm (scratch: 2^25 bytes); true if it equals
 * the GPU digest. */
bool gd_check_chunk(const gpu_digests *d, qlm_gpu_cvt_mode m, unsigned c, uint8_t *scratch);
/* Digest of qlm's decode table k (as named above); true if it equals the GPU's. */
bool gd_check_decode(const gpu_digests *d, int k);

#endif
