/* libFuzzer target: the GGUF reader must reject or accept any byte string
 * without crashing, and everything it accepts must be readable in full.
 * Seeds: the small real GGUFs under $QLM_SHARED (tests/fuzz/run_smoke.sh). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "formats/gguf/gguf.h"

static volatile uint64_t g_sink;

static void touch_kv(const gguf_file *g, const char *key)
{
    int64_t i;
    double d;
    bool b;
    const char *s;
    size_t len;
    gguf_vtype et;
    uint64_t n;
    if (!gguf_get_i64(g, key, &i))
        g_sink += (uint64_t)i;
    if (!gguf_get_f64(g, key, &d))
        g_sink += d != d;
    if (!gguf_get_bool(g, key, &b))
        g_sink += b;
    if (!gguf_get_str(g, key, &s, &len) && len)
        g_sink += (uint8_t)s[len - 1];
    if (gguf_get_arr_info(g, key, &et, &n))
        return;
    for (uint64_t k = 0; k < n; k++) {
        if (!gguf_get_arr_i64(g, key, k, &i))
            g_sink += (uint64_t)i;
        if (!gguf_get_arr_f64(g, key, k, &d))
            g_sink += d != d;
        if (!gguf_get_arr_str(g, key, k, &s, &len) && len)
            g_sink += (uint8_t)s[0] + (uint8_t)s[len - 1];
    }
    gguf_get_arr_i64(g, key, n, &i); /* one past the end: must fail cleanly */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gguf_file *g;
    if (gguf_open_mem(data, size, &g))
        return 0;
    for (size_t i = 0; i < gguf_n_kv(g); i++)
        touch_kv(g, gguf_kv_key(g, i));
    for (size_t i = 0; i < gguf_n_tensors(g); i++) {
        const gguf_tensor *t = gguf_tensor_at(g, i);
        if (gguf_find_tensor(g, t->name) != t)
            __builtin_trap();
        if (t->nbytes) /* every byte of an accepted tensor lies inside the input */
            g_sink += ((const uint8_t *)t->data)[0] + ((const uint8_t *)t->data)[t->nbytes - 1];
    }
    gguf_close(g);
    return 0;
}
