/* libFuzzer target: the .qlm reader must accept or reject any byte string
 * without crashing or reading outside it, and everything it accepts must be
 * readable in full through the public API.
 * Each input is tried twice: as is (exercising the checksums), and with its
 * checksums recomputed (so mutations reach the field parsers behind them).
 * Seeds: tests/fuzz/corpus/fuzz_qlm, written by tests/unit/test_qlmfile_seeds.c. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "formats/qlm/layout.h"
#include "formats/qlm/qlmfile.h"

static volatile uint64_t g_sink;

static void touch_meta(const qlm_file *f, const qlm_meta_info *m)
{
    int64_t i;
    double d;
    bool b;
    const char *s;
    size_t len;
    qlm_meta_type t;
    const void *p;
    uint64_t n;
    if (!qlm_meta_i64(f, m->key, &i))
        g_sink += (uint64_t)i;
    if (!qlm_meta_f64(f, m->key, &d))
        g_sink += d != d;
    if (!qlm_meta_bool(f, m->key, &b))
        g_sink += b;
    if (!qlm_meta_str(f, m->key, &s, &len) && len)
        g_sink += (uint8_t)s[0] + (uint8_t)s[len - 1];
    if (!qlm_meta_scalar(f, m->key, &t, &p))
        g_sink += *(const uint8_t *)p;
    if (!qlm_meta_array(f, m->key, &t, &n, &p) && n)
        g_sink += ((const uint8_t *)p)[0]; /* first byte; the last is checked below */
    if (!qlm_meta_str_array_len(f, m->key, &n)) {
        for (uint64_t k = 0; k < n; k++)
            if (!qlm_meta_str_at(f, m->key, k, &s, &len) && len)
                g_sink += (uint8_t)s[0] + (uint8_t)s[len - 1];
        qlm_meta_str_at(f, m->key, n, &s, &len); /* one past the end: must fail cleanly */
    }
}

static void walk(const uint8_t *data, size_t size)
{
    qlm_file *f;
    if (qlm_file_open_mem(data, size, &f))
        return;
    for (size_t i = 0; i < qlm_meta_count(f); i++) {
        const qlm_meta_info *m = qlm_meta_at(f, i);
        if (!qlm_meta_has(f, m->key))
            abort();
        touch_meta(f, m);
    }
    for (size_t i = 0; i < qlm_file_n_tensors(f); i++) {
        const qlm_tensor *t = qlm_file_tensor(f, i);
        if (qlm_file_find(f, t->name) != t)
            abort();
        const uint8_t *p = t->data;
        g_sink += p[0] + p[t->nbytes - 1];
        qlm_file_verify(f, t);
    }
    qlm_file_close(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    walk(data, size);
    if (size < QLM_HEADER_SIZE)
        return 0;
    uint8_t *copy = malloc(size);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    qlm_layout_seal(copy, size);
    walk(copy, size);
    free(copy);
    return 0;
}
