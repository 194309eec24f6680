/* The AVX2 (+FMA, F16C) kernel table; its int8 dots use maddubs/madd. The
 * same set with AVX-VNNI dots is in simd/x86/avxvnni/. */
#include "simd/x86/avx2/avx2.h"
#include "simd/x86/isa.h"

static const qlm_kernels k_avx2 = {
    .name = "avx2",
    .quant_act = qa2_quant_act,
    .mm_q8 = qa2_mm_q8,
    .mm_q4 = qa2_mm_q4,
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

const qlm_kernels *qlm_kernels_avx2(void) { return &k_avx2; }
