/* libFuzzer target: safetensors header validation on arbitrary bytes; every
 * tensor the reader accepts must lie inside the input. */
#include <stdint.h>
#include <stdlib.h>

#include "formats/safetensors/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    qlm_st *st;
    if (qlm_st_open_mem(data, size, &st) != QLM_OK)
        return 0;
    for (size_t i = 0; i < qlm_st_count(st); i++) {
        const qlm_st_tensor *t = qlm_st_at(st, i);
        const uint8_t *p = t->data;
        if (p < data || t->nbytes > size || p + t->nbytes > data + size || qlm_st_find(st, t->name) == NULL)
            abort();
        volatile uint8_t sink = t->nbytes ? p[t->nbytes - 1] : 0; /* ASan checks the last byte */
        (void)sink;
    }
    qlm_st_close(st);
    return 0;
}
