/* The NEON (aarch64 ASIMD + dotprod) kernel table. Only referenced by
 * simd/dispatch.c after hwcaps report ASIMD and ASIMDDP. */
#include "simd/arm/isa.h"
#include "simd/arm/neon/neon.h"

static const qlm_kernels k_neon = {
    .name = "neon",
    .quant_act = qn_quant_act,
    .mm_q8 = qn_mm_q8,
    .mm_q4 = qn_mm_q4,
    .mm_f32 = qn_mm_f32,
    .mm_f16 = qn_mm_f16,
    .mm_bf16 = qn_mm_bf16,
    .dot = qn_dot,
    .sum = qn_sum,
    .axpy = qn_axpy,
    .dot_rows = qn_dot_rows,
    .axpy_rows = qn_axpy_rows,
    .rmsnorm = qn_rmsnorm,
    .softmax = qn_softmax,
    .silu_mul = qn_silu_mul,
    .rope = qn_rope,
};

const qlm_kernels *qlm_kernels_neon(void) { return &k_neon; }
