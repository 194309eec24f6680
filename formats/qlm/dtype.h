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
    /* 16..63: GPU block formats (docs/FORMAT.md; structs and quantizers in
       formats/gpu/gpublock.h). 18 (FP8 E5M2 per row) and 22..63 stay reserved. */
    QLM_DT_FP8 = 16,      /* per row: f32 scale, then cols E4M3 codes      (4 + cols B/row) */
    QLM_DT_FP8_G128 = 17, /* blocks of 128: f32 scale, 128 E4M3 codes              (132 B) */
    QLM_DT_NVFP4 = 19,    /* tensor: f32 scale; blocks of 16: UE4M3 scale, 8 B E2M1 (9 B) */
    QLM_DT_MXFP4 = 20,    /* blocks of 32: E8M0 scale, 16 B E2M1                  (17 B) */
    QLM_DT_W4A16 = 21,    /* blocks of 128: f16 scale, u8 zero, u8 0, 64 B int4   (68 B) */
    QLM_DT_COUNT_KNOWN = 22 /* ids below this may be known; qlm_dtype_get says which */
} qlm_dtype;

#define QLM_BLOCK 32 /* elements per Q8/Q4 block, along the innermost dim */

/* Bytes of a tensor = tensor_extra + rows * row_extra + blocks * block_bytes,
 * rows = elements / dims[rank-1], blocks = elements / block_elems. */
typedef struct {
    const char *name;      /* "f32", "q4", ... */
    uint32_t block_elems;  /* elements per block (1 for plain types) */
    uint32_t block_bytes;  /* bytes per block */
    uint32_t row_extra;    /* bytes before each row (FP8 per-row scale), else 0 */
    uint32_t tensor_extra; /* bytes before the first row (NVFP4 tensor scale), else 0 */
} qlm_dtype_info;

/* NULL for an unknown id. */
const qlm_dtype_info *qlm_dtype_get(uint32_t id);
/* Parse a dtype name ("f32", "q8", "nvfp4", ...); returns false if unknown. */
bool qlm_dtype_parse(const char *name, qlm_dtype *out);

/* True for the GPU block formats (ids 16..63). */
static inline bool qlm_dtype_is_gpu(uint32_t id) { return id >= 16 && id <= 63; }

#endif
