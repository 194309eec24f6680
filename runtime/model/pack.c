/* Packed weight copies: a kernel set may read Q8/Q4 matrices faster in a
 * row-interleaved layout of its own (kernels.h, pack_size). The copies are
 * made once per model, in memory; the file is unchanged, and the results are
 * the same bits as from the file layout.
 *
 * All copies live in one arena, in the order the forward pass reads them, on
 * transparent huge pages where the system allows: decode streams the whole
 * arena once per token, and 4 KiB pages would cost a TLB miss (and a stall
 * of the hardware prefetcher, which stops at page boundaries) every 4 KiB.
 * Once a matrix is copied its file pages are dropped from the process
 * (qlm_file_release), so the copy does not double resident memory; anything
 * that still reads the file layout (another kernel set, a GPU contract,
 * embedding lookups of a tied output) faults those bytes back in. */
#include <stdlib.h>
#include <sys/mman.h>

#include "formats/qlm/dtype.h"
#include "runtime/model/model_int.h"

#define HUGE_PAGE ((size_t)2 << 20)

static size_t round_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

/* Bytes of w's copy in the arena (64-byte aligned), 0 if it keeps the file layout. */
static size_t packed_bytes(const qlm_mat *w, const qlm_kernels *k)
{
    return qlm_mat_quantized(w) ? round_up(k->pack_size(w->dtype, w->rows, w->cols / 32), 64) : 0;
}

/* Calls f on each matrix the forward pass multiplies by, in the order it
 * does (not the embedding table, which is only looked up; a tied output is
 * its own qlm_mat). */
static void each_mat(qlm_model *m, void (*f)(qlm_model *, qlm_mat *, const qlm_kernels *, size_t *),
                     const qlm_kernels *k, size_t *acc)
{
    for (int64_t l = 0; m->layers && l < m->hp.n_layers; l++) {
        qlm_layer *L = &m->layers[l];
        qlm_mat *ws[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->gate, &L->up, &L->down};
        for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++)
            f(m, ws[i], k, acc);
    }
    f(m, &m->output, k, acc);
}

static void add_size(qlm_model *m, qlm_mat *w, const qlm_kernels *k, size_t *total)
{
    (void)m;
    *total += packed_bytes(w, k);
}

/* Copies w to the arena at *off and drops its file pages. */
static void pack_mat(qlm_model *m, qlm_mat *w, const qlm_kernels *k, size_t *off)
{
    size_t n = packed_bytes(w, k);
    if (n == 0)
        return;
    int64_t nb = w->cols / 32;
    w->packed = (uint8_t *)m->arena + *off;
    *off += n;
    k->pack(w->dtype, w->data, w->rows, nb, w->packed);
    size_t bs = w->dtype == QLM_DT_Q4 ? sizeof(qlm_block_q4) : sizeof(qlm_block_q8);
    qlm_file_release(m->file, w->data, (size_t)(w->rows * nb) * bs);
}

void qlm_model_pack(qlm_model *m, const qlm_kernels *k)
{
    if (!k || !k->pack_size)
        return;
    size_t total = 0, off = 0;
    each_mat(m, add_size, k, &total);
    if (total == 0)
        return;
    total = round_up(total, HUGE_PAGE);
    if (!(m->arena = aligned_alloc(HUGE_PAGE, total)))
        return; /* no memory for copies: the file layout, same results */
    (void)madvise(m->arena, total, MADV_HUGEPAGE); /* advice; 4 KiB pages otherwise */
    m->pk = k;
    each_mat(m, pack_mat, k, &off);
}

static void drop_packed(qlm_model *m, qlm_mat *w, const qlm_kernels *k, size_t *acc)
{
    (void)m, (void)k, (void)acc;
    w->packed = NULL;
}

void qlm_model_unpack(qlm_model *m)
{
    each_mat(m, drop_packed, NULL, NULL);
    free(m->arena);
    m->arena = NULL;
    m->pk = NULL;
}
