/* Tables of the aarch64 kernel sets; calling one needs the features
 * simd/dispatch.c checks (ASIMD + dot product, from hwcaps). */
#ifndef QLM_SIMD_ARM_ISA_H
#define QLM_SIMD_ARM_ISA_H

#include "simd/kernels.h"

const qlm_kernels *qlm_kernels_neon(void); /* ASIMD, dotprod (sdot), fp16 conversions */

#endif
