/* Packed weight copies: a kernel set may read Q8/Q4 matrices faster in a
 * row-interleaved layout of its own (kernels.h, pack_size). The copies are
 * made once per model, in memory; the file is unchanged, and the results are
 * the same bits as from the file layout. */
#include <stdlib.h>

#include "runtime/model/model_int.h"

static void pack_mat(qlm_mat *w, const qlm_kernels *k)
{
    if (!qlm_mat_quantized(w))
        return;
    int64_t nb = w->cols / 32;
    size_t n = k->pack_size(w->dtype, w->rows, nb);
    if (n == 0)
        return;
    w->packed = aligned_alloc(64, (n + 63) & ~(size_t)63);
    if (w->packed)
        k->pack(w->dtype, w->data, w->rows, nb, w->packed);
}

/* Calls f on each matrix the forward pass multiplies by (not the embedding
 * table, which is only looked up; a tied output is its own qlm_mat). */
static void each_mat(qlm_model *m, void (*f)(qlm_mat *, const qlm_kernels *), const qlm_kernels *k)
{
    for (int64_t l = 0; m->layers && l < m->hp.n_layers; l++) {
        qlm_layer *L = &m->layers[l];
        qlm_mat *ws[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->gate, &L->up, &L->down};
        for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++)
            f(ws[i], k);
    }
    f(&m->output, k);
}

void qlm_model_pack(qlm_model *m, const qlm_kernels *k)
{
    if (!k || !k->pack_size)
        return;
    m->pk = k;
    each_mat(m, pack_mat, k);
}

static void free_packed(qlm_mat *w, const qlm_kernels *k)
{
    (void)k;
    free(w->packed);
    w->packed = NULL;
}

void qlm_model_unpack(qlm_model *m)
{
    each_mat(m, free_packed, NULL);
    m->pk = NULL;
}
