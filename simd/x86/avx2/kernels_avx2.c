/* The AVX2 (+FMA, F16C) kernel table; its int8 dots use maddubs/madd. The
 * same set with AVX-VNNI dots is in simd/x86/avxvnni/. */
#include "simd/x86/avx2/avx2.h"
#include "simd/x86/isa.h"

static const qlm_kernels k_avx2 = QA2_KERNELS(qa2_mm_q8, qa2_mm_q4);

const qlm_kernels *qlm_kernels_avx2(void) { return &k_avx2; }
