/* llama2.c checkpoint reader: header validation and the exact size check. */
#include "formats/llama2c/llama2c.h"

#include <stdlib.h>
#include <string.h>

#include "formats/common/mapfile.h"

#define L2C_HEADER 28
#define L2C_AK42 0x616b3432u /* magic of llama2.c's version-1/2 exports */

struct l2c_file {
    qlm_map map; /* owned when opened from a path */
    const uint8_t *base;
    size_t size;
    l2c_config cfg;
    l2c_weights w[L2C_N_ARRAYS];
};

static int32_t rd_i32(const uint8_t *p)
{
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    int32_t v;
    memcpy(&v, &u, 4);
    return v;
}

static qlm_status parse_config(const uint8_t *p, l2c_config *c)
{
    static const char *const names[7] = {"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size",
                                         "seq_len"};
    uint32_t v[7];
    for (int i = 0; i < 7; i++) {
        int32_t x = rd_i32(p + 4 * i);
        if (i == 5 && x < 0 && x != INT32_MIN) /* negative vocab: unshared classifier */
            x = -x;
        if (x <= 0)
            return qlm_fail(QLM_E_VALUE, "llama2c: header field %s is %d (must be positive)", names[i],
                            rd_i32(p + 4 * i));
        v[i] = (uint32_t)x;
    }
    *c = (l2c_config){v[0], v[1], v[2], v[3], v[4], v[5], v[6], 0, 0, rd_i32(p + 20) > 0};
    if (c->dim % c->n_heads)
        return qlm_fail(QLM_E_SHAPE, "llama2c: dim %u is not a multiple of n_heads %u", c->dim, c->n_heads);
    if (c->n_kv_heads > c->n_heads || c->n_heads % c->n_kv_heads)
        return qlm_fail(QLM_E_SHAPE, "llama2c: n_heads %u is not a multiple of n_kv_heads %u", c->n_heads,
                        c->n_kv_heads);
    c->head_dim = c->dim / c->n_heads;
    if (c->head_dim % 2)
        return qlm_fail(QLM_E_SHAPE, "llama2c: head size %u is odd (RoPE rotates pairs)", c->head_dim);
    c->kv_dim = c->head_dim * c->n_kv_heads;
    return QLM_OK;
}

/* Shapes of every array in file order; the header fields are < 2^31 so each
 * slice (a product of two) fits in 62 bits. */
static void layout(l2c_file *f)
{
    const l2c_config *c = &f->cfg;
    struct { uint32_t per_layer, rows, cols; } s[L2C_N_ARRAYS] = {
        [L2C_EMBED] = {0, c->vocab_size, c->dim},  [L2C_RMS_ATT] = {1, c->dim, 1},
        [L2C_WQ] = {1, c->dim, c->dim},            [L2C_WK] = {1, c->kv_dim, c->dim},
        [L2C_WV] = {1, c->kv_dim, c->dim},         [L2C_WO] = {1, c->dim, c->dim},
        [L2C_RMS_FFN] = {1, c->dim, 1},            [L2C_W1] = {1, c->hidden_dim, c->dim},
        [L2C_W2] = {1, c->dim, c->hidden_dim},     [L2C_W3] = {1, c->hidden_dim, c->dim},
        [L2C_RMS_FINAL] = {0, c->dim, 1},          [L2C_FREQ_REAL] = {0, c->seq_len, c->head_dim / 2},
        [L2C_FREQ_IMAG] = {0, c->seq_len, c->head_dim / 2}, [L2C_WCLS] = {0, c->vocab_size, c->dim},
    };
    for (int a = 0; a < L2C_N_ARRAYS; a++)
        f->w[a] = (l2c_weights){s[a].per_layer, s[a].rows, s[a].cols, NULL};
}

/* Bytes of array a; false on overflow. */
static bool array_bytes(const l2c_file *f, int a, uint64_t *out)
{
    const l2c_weights *w = &f->w[a];
    uint64_t n = (uint64_t)w->rows * w->cols * 4;
    if (w->per_layer) {
        if (n > UINT64_MAX / f->cfg.n_layers)
            return false;
        n *= f->cfg.n_layers;
    }
    *out = n;
    return true;
}

/* Assigns each array its data pointer; the file must end exactly after the last. */
static qlm_status place_arrays(l2c_file *f)
{
    uint64_t off = L2C_HEADER;
    for (int a = 0; a < L2C_N_ARRAYS; a++) {
        if (a == L2C_WCLS && f->cfg.shared_classifier)
            break;
        uint64_t n;
        if (!array_bytes(f, a, &n) || n > UINT64_MAX - off)
            return qlm_fail(QLM_E_OVERFLOW, "llama2c: the header's sizes overflow");
        if (off + n <= f->size)
            f->w[a].data = f->base + off;
        off += n;
    }
    if (off > f->size)
        return qlm_fail(QLM_E_TRUNCATED, "llama2c: file is %zu bytes, the header (dim %u, hidden %u, %u layers, vocab %u, seq %u%s) implies %llu",
                        f->size, f->cfg.dim, f->cfg.hidden_dim, f->cfg.n_layers, f->cfg.vocab_size, f->cfg.seq_len,
                        f->cfg.shared_classifier ? "" : ", unshared classifier", (unsigned long long)off);
    if (off < f->size)
        return qlm_fail(QLM_E_SIZE, "llama2c: file is %zu bytes but the header implies %llu (not a legacy llama2.c checkpoint?)",
                        f->size, (unsigned long long)off);
    return QLM_OK;
}

qlm_status l2c_open_mem(const void *data, size_t size, l2c_file **out)
{
    *out = NULL;
    if (!data || size < L2C_HEADER)
        return qlm_fail(QLM_E_TRUNCATED, "llama2c: file of %zu bytes is too short for the 28-byte header", size);
    const uint8_t *p = data;
    if ((uint32_t)rd_i32(p) == L2C_AK42)
        return qlm_fail(QLM_E_VERSION, "llama2c: version-%d export ('ak42' header) not supported; use the legacy format",
                        rd_i32(p + 4));
    l2c_file *f = calloc(1, sizeof *f);
    if (!f)
        return qlm_fail(QLM_E_NOMEM, "llama2c: out of memory");
    f->base = p;
    f->size = size;
    qlm_status st = parse_config(p, &f->cfg);
    if (!st) {
        layout(f);
        st = place_arrays(f);
    }
    if (st) {
        free(f);
        return st;
    }
    *out = f;
    return QLM_OK;
}

qlm_status l2c_open(const char *path, l2c_file **out)
{
    *out = NULL;
    qlm_map m;
    qlm_status st = qlm_map_open(path, &m);
    if (st)
        return st;
    if ((st = l2c_open_mem(m.data, m.size, out))) {
        qlm_map_close(&m);
        return qlm_fail_context(st, "%s", path);
    }
    (*out)->map = m;
    return QLM_OK;
}

void l2c_close(l2c_file *f)
{
    if (!f)
        return;
    qlm_map_close(&f->map);
    free(f);
}

const l2c_config *l2c_config_of(const l2c_file *f) { return &f->cfg; }

const l2c_weights *l2c_array_of(const l2c_file *f, l2c_array a) { return &f->w[a]; }

const uint8_t *l2c_slice(const l2c_file *f, l2c_array a, uint32_t layer)
{
    const l2c_weights *w = &f->w[a];
    if (!w->data || (w->per_layer ? layer >= f->cfg.n_layers : layer != 0))
        return NULL;
    return w->data + (size_t)layer * w->rows * w->cols * 4;
}
