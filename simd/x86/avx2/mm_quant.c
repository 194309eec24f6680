/* AVX2 quantized matmuls with maddubs/madd (CPUs without AVX-VNNI). */
#define QA2_VNNI 0
#define QA2_MM_Q8 qa2_mm_q8
#define QA2_MM_Q4 qa2_mm_q4
#include "simd/x86/avx2/mm_quant.h"
