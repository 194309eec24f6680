#include "formats/qlm/dtype.h"

#include <string.h>

static const qlm_dtype_info k_info[QLM_DT_COUNT_KNOWN] = {
    [QLM_DT_F32] = {"f32", 1, 4, 0, 0},
    [QLM_DT_F16] = {"f16", 1, 2, 0, 0},
    [QLM_DT_BF16] = {"bf16", 1, 2, 0, 0},
    [QLM_DT_Q8] = {"q8", 32, 34, 0, 0},
    [QLM_DT_Q4] = {"q4", 32, 18, 0, 0},
    [QLM_DT_I32] = {"i32", 1, 4, 0, 0},
    [QLM_DT_FP8] = {"fp8", 1, 1, 4, 0},
    [QLM_DT_FP8_G128] = {"fp8-g128", 128, 132, 0, 0},
    [QLM_DT_NVFP4] = {"nvfp4", 16, 9, 0, 4},
    [QLM_DT_MXFP4] = {"mxfp4", 32, 17, 0, 0},
    [QLM_DT_W4A16] = {"w4a16", 128, 68, 0, 0},
};

const qlm_dtype_info *qlm_dtype_get(uint32_t id)
{
    if (id >= QLM_DT_COUNT_KNOWN || !k_info[id].name)
        return NULL;
    return &k_info[id];
}

bool qlm_dtype_parse(const char *name, qlm_dtype *out)
{
    for (uint32_t i = 0; i < QLM_DT_COUNT_KNOWN; i++) {
        if (k_info[i].name && strcmp(k_info[i].name, name) == 0) {
            *out = (qlm_dtype)i;
            return true;
        }
    }
    return false;
}
