/* The AVX2 kernel set with AVX-VNNI (VEX vpdpbusd) int8 dots: same name,
 * same results, chosen by simd/dispatch.c when CPUID reports AVX-VNNI. */
#include "simd/x86/isa.h"

#define QA2_VNNI 1
#define QA2_MM_Q8 qa2v_mm_q8
#define QA2_MM_Q4 qa2v_mm_q4
#include "simd/x86/avx2/mm_quant.h"

static const qlm_kernels k_avxvnni = QA2_KERNELS(qa2v_mm_q8, qa2v_mm_q4);

const qlm_kernels *qlm_kernels_avxvnni(void) { return &k_avxvnni; }
