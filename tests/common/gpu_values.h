/* Independent decoders of the GPU narrow formats and block layouts, written
 * from their definitions (docs/GPU-NUMERICS.md, docs/FORMAT.md) for the
 * tests: nothing here calls formats/gpu. */
#ifndef QLM_TEST_GPU_VALUES_H
#define QLM_TEST_GPU_VALUES_H

#include <stdint.h>

#include "formats/qlm/qlmfile.h"

/* Magnitude of E4M3 code c (0..126): bias 7, 3 mantissa bits, subnormals. */
double gv_e4m3(int c);
/* Magnitude of E2M1 code c (0..7): 0, .5, 1, 1.5, 2, 3, 4, 6. */
double gv_e2m1(int c);
/* Signed values: bit 7 (E4M3) / bit 3 (E2M1) is the sign. */
double gv_e4m3_signed(int c);
double gv_e2m1_signed(int c);
/* The magnitude code among 0..max_code nearest to |v|, ties to the even code
 * (round to nearest even, saturating at max_code). */
int gv_nearest(double (*mag)(int), int max_code, double v);

/* Element (r, k) of a 2-D tensor in a GPU block format, decoded from the
 * bytes as docs/FORMAT.md lays them out: the weight value the GEMM contract
 * multiplies (fp8: the E4M3 code's value, unscaled; nvfp4: e2m1 * ue4m3,
 * without the tensor scale; mxfp4 and w4a16: the full value). */
double gv_weight(const qlm_tensor *t, int64_t r, int64_t k);
/* The scale a contract applies after the sum: fp8 row scale, fp8-g128 scale
 * of k's group, nvfp4 tensor scale; 1 for the others. */
double gv_post_scale(const qlm_tensor *t, int64_t r, int64_t k);

#endif
