/* GGUF v2/v3 reader (llama.cpp's container): metadata and tensors, mmapped,
 * every offset and count validated before use (same rules as .qlm: no
 * allocation sized from an unchecked field, no read outside the mapping).
 *
 * Tensor dims are reported in qlm's row-major order (PyTorch order), i.e.
 * GGUF's ne[] reversed: a GGUF tensor with ne = {in, out} has dims {out, in}.
 */
#ifndef QLM_GGUF_H
#define QLM_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "formats/common/err.h"

/* GGUF value types (on-disk ids). */
typedef enum {
    GGUF_T_U8 = 0, GGUF_T_I8 = 1, GGUF_T_U16 = 2, GGUF_T_I16 = 3, GGUF_T_U32 = 4, GGUF_T_I32 = 5,
    GGUF_T_F32 = 6, GGUF_T_BOOL = 7, GGUF_T_STRING = 8, GGUF_T_ARRAY = 9, GGUF_T_U64 = 10,
    GGUF_T_I64 = 11, GGUF_T_F64 = 12
} gguf_vtype;

/* GGML tensor types qlm imports (on-disk ids); anything else is QLM_E_UNSUPPORTED
 * at conversion time, naming the type. */
enum { GGML_F32 = 0, GGML_F16 = 1, GGML_Q4_0 = 2, GGML_Q8_0 = 8, GGML_BF16 = 30 };

typedef struct {
    const char *name;     /* NUL-terminated copy */
    uint32_t ggml_type;
    uint32_t rank;
    uint64_t dims[4];     /* row-major (reversed ne) */
    uint64_t n_elems;
    uint64_t nbytes;      /* 0 if ggml_type unknown to qlm (still listed) */
    const void *data;     /* into the mapping; NULL if ggml_type unknown */
} gguf_tensor;

typedef struct gguf_file gguf_file;

qlm_status gguf_open(const char *path, gguf_file **out);
qlm_status gguf_open_mem(const void *data, size_t size, gguf_file **out);
void gguf_close(gguf_file *g);

uint32_t gguf_version(const gguf_file *g);
size_t gguf_n_tensors(const gguf_file *g);
const gguf_tensor *gguf_tensor_at(const gguf_file *g, size_t i);
const gguf_tensor *gguf_find_tensor(const gguf_file *g, const char *name);

/* Metadata. Getters convert any integer type that fits / any float type;
 * QLM_E_MISSING if absent, QLM_E_VALUE on type mismatch. */
size_t gguf_n_kv(const gguf_file *g);
const char *gguf_kv_key(const gguf_file *g, size_t i);
bool gguf_has(const gguf_file *g, const char *key);
qlm_status gguf_get_i64(const gguf_file *g, const char *key, int64_t *out);
qlm_status gguf_get_f64(const gguf_file *g, const char *key, double *out);
qlm_status gguf_get_bool(const gguf_file *g, const char *key, bool *out);
qlm_status gguf_get_str(const gguf_file *g, const char *key, const char **s, size_t *len);
/* Arrays: element type and count; numeric element i converted; string element i. */
qlm_status gguf_get_arr_info(const gguf_file *g, const char *key, gguf_vtype *elem, uint64_t *count);
qlm_status gguf_get_arr_i64(const gguf_file *g, const char *key, uint64_t i, int64_t *out);
qlm_status gguf_get_arr_f64(const gguf_file *g, const char *key, uint64_t i, double *out);
qlm_status gguf_get_arr_str(const gguf_file *g, const char *key, uint64_t i, const char **s, size_t *len);

#endif
