/* The AVX2 kernel set with AVX-VNNI (VEX vpdpbusd) int8 dots: same name,
 * same results, chosen by simd/dispatch.c when CPUID reports AVX-VNNI. */
#include "simd/x86/isa.h"

#define QA2_VNNI 1
#define QA2_MM_Q8 qa2v_mm_q8
#define QA2_MM_Q4 qa2v_mm_q4
#include "simd/x86/avx2/mm_quant.h"

static const qlm_kernels k_avxvnni = {
    .name = "avx2",
    .quant_act = qa2_quant_act,
    .mm_q8 = qa2v_mm_q8,
    .mm_q4 = qa2v_mm_q4,
    .mm_f32 = qa2_mm_f32,
    .mm_f16 = qa2_mm_f16,
    .mm_bf16 = qa2_mm_bf16,
    .dot = qa2_dot,
    .sum = qa2_sum,
    .axpy = qa2_axpy,
    .dot_rows = qa2_dot_rows,
    .axpy_rows = qa2_axpy_rows,
    .rmsnorm = qa2_rmsnorm,
    .softmax = qa2_softmax,
    .silu_mul = qa2_silu_mul,
    .rope = qa2_rope,
};

const qlm_kernels *qlm_kernels_avxvnni(void) { return &k_avxvnni; }
