/* Linear layers through the GPU GEMM contracts of simd/gpu/gemm.h, so that a
 * model runs with the exact arithmetic of a reference GPU kernel
 * (docs/GPU-NUMERICS.md section 5). The activation operand of a matmul is
 * formed once (f16, bf16, or E4M3 codes with one scale per token), then every
 * output element is one call of the contract's dot function. Rows are split
 * across threads exactly like the CPU kernels; each element is computed by one
 * call whatever the split, so results do not depend on the thread count. */
#ifndef QLM_GPU_MM_H
#define QLM_GPU_MM_H

#include "runtime/model/model_int.h"

typedef struct qlm_gpu_scratch qlm_gpu_scratch;

/* The path weight w runs under when the context asks for p: a GPU dtype under
 * QLM_PATH_NATIVE runs its own contract; QLM_PATH_NATIVE as result means the
 * CPU kernels. */
qlm_path qlm_mat_path(const qlm_mat *w, qlm_path p);
/* QLM_E_DTYPE naming the tensor when w cannot run path p. */
qlm_status qlm_mat_check_path(const qlm_mat *w, qlm_path p);

/* f32 values of row r of w (any weight dtype), as the F32 path and the
 * embedding lookup use them: exact widening / dequantization for the CPU
 * dtypes, qlm_gpu_dequant_row for the GPU ones. */
void qlm_mat_row_f32(const qlm_mat *w, int64_t r, float *out);

/* Operand buffers for n_batch rows of up to `widest` columns, and one row of
 * unpacked weights per thread. */
qlm_status qlm_gpu_scratch_new(int64_t n_batch, int64_t widest, int n_threads, qlm_gpu_scratch **out);
void qlm_gpu_scratch_free(qlm_gpu_scratch *s);

/* Form the activation operand of path p (not NATIVE) from nt rows of K floats. */
void qlm_gpu_prepare(qlm_gpu_scratch *s, qlm_path p, const float *x, int64_t nt, int64_t K);
/* The operand formed last: dtype (QLM_DT_F32 when the path uses x itself,
 * QLM_DT_F16, QLM_DT_BF16 or QLM_DUMP_E4M3; nt contiguous rows of K), and the
 * per-token scales (FP8 only, else NULL). */
const void *qlm_gpu_operand(const qlm_gpu_scratch *s, qlm_path p, uint32_t *dtype, const float **scales);

/* y[t*ldy + r] = row r of w . operand row t, for r0 <= r < r1 and t < nt,
 * under path p (after qlm_gpu_prepare with the same p and x); `slot` is the
 * calling thread's index (< n_threads), whose weight-row buffers it uses. */
void qlm_gpu_mm_rows(qlm_gpu_scratch *s, qlm_path p, const qlm_mat *w, const float *x, int64_t nt,
                     int64_t r0, int64_t r1, float *y, int64_t ldy, int slot);

#endif
