/* libFuzzer target: the llama2.c checkpoint reader must accept or reject any
 * byte string without crashing, and every slice it hands out of an accepted
 * file must lie inside the input. Seeds: small valid checkpoints written by
 * tests/fuzz/run_smoke.sh plus stories260K.bin's header. */
#include <stddef.h>
#include <stdint.h>

#include "formats/llama2c/llama2c.h"

static volatile uint64_t g_sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    l2c_file *f;
    if (l2c_open_mem(data, size, &f))
        return 0;
    const l2c_config *c = l2c_config_of(f);
    for (int a = 0; a < L2C_N_ARRAYS; a++) {
        const l2c_weights *w = l2c_array_of(f, (l2c_array)a);
        uint32_t n = w->per_layer ? c->n_layers : 1;
        for (uint32_t l = 0; l < n; l++) {
            const uint8_t *p = l2c_slice(f, (l2c_array)a, l);
            if (!p)
                continue;
            size_t bytes = (size_t)w->rows * w->cols * 4;
            if (p < data || p + bytes > data + size)
                __builtin_trap();
            g_sink += p[0] + p[bytes - 1];
        }
    }
    l2c_close(f);
    return 0;
}
