/* qe_write_fake (analysis.h): a .qlm whose 2-D weights are fake-quantized. */
#include <stdio.h>
#include <stdlib.h>

#include "formats/convert/emit_rows.h"
#include "formats/quant/analysis.h"

/* One tensor: exact f32, fake-quantized (when the scheme fits its shape),
 * then stored as `store`. */
static qlm_status fake_tensor(qlm_writer *w, size_t idx, const qlm_tensor *t, qlm_src_type src, qe_scheme s,
                              qlm_dtype store, uint64_t out_bytes, bool quiet)
{
    float *x = malloc(t->n_elems * sizeof *x + 1);
    void *out = malloc(out_bytes + 1);
    qlm_status st = x && out ? QLM_OK : qlm_fail(QLM_E_NOMEM, "tensor %s: out of memory", t->name);
    if (!st) {
        qlm_src_to_f32(src, t->data, x, t->n_elems);
        if ((s.kind == QE_Q8 || s.kind == QE_Q4) && t->dims[1] % 32) {
            if (!quiet)
                fprintf(stderr, "note: %s: %llu columns is not a multiple of 32, left unquantized\n", t->name,
                        (unsigned long long)t->dims[1]);
        } else {
            st = qe_fake_quant(s, x, x, t->dims[0], t->dims[1]);
        }
    }
    if (!st)
        st = qlm_f32_to_target(store, QLM_Q4_RTN, x, out, t->n_elems, 1.0f);
    if (!st)
        st = qlm_writer_write_tensor(w, idx, out, out_bytes);
    free(x);
    free(out);
    return st ? qlm_fail_context(st, "tensor %s", t->name) : QLM_OK;
}

static qlm_status write_tensors(qlm_writer *w, const qlm_file *f, qe_scheme s, qlm_dtype store, bool quiet)
{
    size_t n = qlm_file_n_tensors(f), idx;
    qlm_status st = QLM_OK;
    for (size_t i = 0; i < n && !st; i++) { /* declare all first (writer rule) */
        const qlm_tensor *t = qlm_file_tensor(f, i);
        qlm_src_type src;
        qlm_dtype dt = t->rank == 2 && qlm_src_type_of(t->dtype, &src) ? store : (qlm_dtype)t->dtype;
        st = qlm_writer_add_tensor(w, t->name, dt, t->rank, t->dims, &idx);
    }
    for (size_t i = 0; i < n && !st; i++) {
        const qlm_tensor *t = qlm_file_tensor(f, i);
        qlm_src_type src;
        if (t->rank != 2 || !qlm_src_type_of(t->dtype, &src)) {
            st = qlm_writer_write_tensor(w, i, t->data, (size_t)t->nbytes);
            continue;
        }
        uint64_t nbytes;
        if (!(st = qlm_tensor_nbytes(store, 2, t->dims, &nbytes)))
            st = fake_tensor(w, i, t, src, s, store, nbytes, quiet);
    }
    return st;
}

qlm_status qe_write_fake(const char *src, const char *out, qe_scheme s, qlm_dtype store, bool quiet)
{
    if (store != QLM_DT_F32 && store != QLM_DT_BF16)
        return qlm_fail(QLM_E_ARG, "fake-quantized weights are stored as f32 or bf16");
    qlm_file *f;
    qlm_writer *w;
    qlm_status st = qlm_file_open(src, &f);
    if (st)
        return st;
    if ((st = qlm_writer_open(out, &w))) {
        qlm_file_close(f);
        return st;
    }
    if (!(st = qlm_writer_copy_meta(w, f)))
        st = write_tensors(w, f, s, store, quiet);
    qlm_file_close(f);
    if (st) {
        qlm_writer_abort(w);
        return st;
    }
    return qlm_writer_finish(w);
}
