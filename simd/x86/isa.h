/* Tables of the x86 kernel sets. Calling a table's functions needs the CPU
 * features simd/dispatch.c checks first; taking the table's address does not. */
#ifndef QLM_SIMD_X86_ISA_H
#define QLM_SIMD_X86_ISA_H

#include "simd/kernels.h"

const qlm_kernels *qlm_kernels_avx512(void);   /* F, BW, VL, DQ, VNNI (+ AVX2, FMA, F16C) */
const qlm_kernels *qlm_kernels_avx2(void);     /* AVX2, FMA, F16C; maddubs int8 dots */
const qlm_kernels *qlm_kernels_avxvnni(void);  /* the AVX2 set with AVX-VNNI int8 dots */

#endif
