/* The AVX-512 (F/BW/VL/DQ + VNNI) kernel table. Only referenced by
 * simd/dispatch.c after CPUID/XGETBV say the instructions are usable. */
#include "simd/x86/avx512/avx512.h"
#include "simd/x86/isa.h"

static const qlm_kernels k_avx512 = {
    .name = "avx512",
    .quant_act = qa5_quant_act,
    .mm_q8 = qa5_mm_q8,
    .mm_q4 = qa5_mm_q4,
    .mm_f32 = qa5_mm_f32,
    .mm_f16 = qa5_mm_f16,
    .mm_bf16 = qa5_mm_bf16,
    .dot = qa5_dot,
    .sum = qa5_sum,
    .axpy = qa5_axpy,
    .dot_rows = qa5_dot_rows,
    .axpy_rows = qa5_axpy_rows,
    .rmsnorm = qa5_rmsnorm,
    .softmax = qa5_softmax,
    .silu_mul = qa5_silu_mul,
    .rope = qa5_rope,
    .pack_size = qa5_pack_size,
    .pack = qa5_pack,
    .mm_packed = qa5_mm_packed,
};

const qlm_kernels *qlm_kernels_avx512(void) { return &k_avx512; }
