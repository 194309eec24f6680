/* llama2.c checkpoints (karpathy/llama2.c `model.bin`, the legacy version-0
 * export): a header of 7 int32
 *   dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len
 * (vocab_size < 0 means the classifier is not shared with the embedding), then
 * float32 arrays in run.c's memory_map_weights() order:
 *   token_embedding [V][D], rms_att [L][D], wq [L][D][D], wk [L][KV][D],
 *   wv [L][KV][D], wo [L][D][D], rms_ffn [L][D], w1 [L][F][D], w2 [L][D][F],
 *   w3 [L][F][D], rms_final [D], freq_cis_real [S][hd/2], freq_cis_imag
 *   [S][hd/2], then wcls [V][D] only when unshared
 * (KV = dim * n_kv_heads / n_heads, hd = dim / n_heads). The file size must
 * equal exactly what the header implies. Q/K rows are in Meta's interleaved
 * RoPE order. The newer "ak42" exports (version 1/2) are QLM_E_VERSION.
 */
#ifndef QLM_LLAMA2C_H
#define QLM_LLAMA2C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "formats/common/err.h"

typedef struct {
    uint32_t dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
    uint32_t head_dim, kv_dim;
    bool shared_classifier;
} l2c_config;

/* The weight arrays, in file order. */
typedef enum {
    L2C_EMBED, L2C_RMS_ATT, L2C_WQ, L2C_WK, L2C_WV, L2C_WO, L2C_RMS_FFN, L2C_W1, L2C_W2, L2C_W3,
    L2C_RMS_FINAL, L2C_FREQ_REAL, L2C_FREQ_IMAG, L2C_WCLS, L2C_N_ARRAYS
} l2c_array;

typedef struct {
    uint32_t per_layer; /* 1 if the array holds one slice per layer */
    uint32_t rows, cols; /* shape of one slice (cols 1 for vectors) */
    const uint8_t *data; /* little-endian float32, 4-byte aligned in a mapped file;
                            NULL for L2C_WCLS when shared */
} l2c_weights;

typedef struct l2c_file l2c_file;

qlm_status l2c_open(const char *path, l2c_file **out);
/* Validate an in-memory image; `data` must outlive the file. */
qlm_status l2c_open_mem(const void *data, size_t size, l2c_file **out);
void l2c_close(l2c_file *f);

const l2c_config *l2c_config_of(const l2c_file *f);
const l2c_weights *l2c_array_of(const l2c_file *f, l2c_array a);
/* Slice `layer` of a per-layer array (layer 0 for the others). */
const uint8_t *l2c_slice(const l2c_file *f, l2c_array a, uint32_t layer);

#endif
