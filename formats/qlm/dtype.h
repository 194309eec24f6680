/* Tensor data types of the .qlm format and their block geometry.
 * docs/FORMAT.md gives the byte layout of each; ids are stable on disk. */
#ifndef QLM_DTYPE_H
#define QLM_DTYPE_H

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    QLM_DT_F32 = 0,
    QLM_DT_F16 = 1,
    QLM_DT_BF16 = 2,
    QLM_DT_Q8 = 3,  /* blocks of 32: fp16 scale d, 32 x int8 q;  x = d*q           (34 B) */
    QLM_DT_Q4 = 4,  /* blocks of 32: fp16 scale d, 16 bytes;     x = d*(nibble-8)  (18 B)
                       byte i: low nibble = element i, high nibble = element i+16      */
    QLM_DT_I32 = 5, /* plain int32 (index tensors such as GPTQ g_idx)                 */
    /* 16..63 reserved for the GPU formats (docs/FORMAT.md, docs/GPU-NUMERICS.md):
       16 FP8_E4M3_ROW, 17 FP8_E4M3_G128, 18 FP8_E5M2_ROW, 19 NVFP4, 20 MXFP4,
       21 INT4_G128_MARLIN, 22 INT4_G128_GPTQ, 23 INT4_G128_AWQ                      */
    QLM_DT_COUNT_KNOWN = 6
} qlm_dtype;

#define QLM_BLOCK 32 /* elements per Q8/Q4 block, along the innermost dim */

typedef struct {
    const char *name;     /* "f32", "q4", ... */
    uint32_t block_elems; /* elements per block (1 for plain types) */
    uint32_t block_bytes; /* bytes per block */
} qlm_dtype_info;

/* NULL for an unknown id. */
const qlm_dtype_info *qlm_dtype_get(uint32_t id);
/* Parse "f32|f16|bf16|q8|q4"; returns false if unknown. */
bool qlm_dtype_parse(const char *name, qlm_dtype *out);

#endif
