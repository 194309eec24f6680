/* libqlm: streaming detokenizer handle over qlm_detok_stream. */
#include <stdlib.h>

#include "runtime/api/api_int.h"

struct qlm_detok {
    const qlm_tokenizer *tok;
    qlm_detok_stream st;
    size_t cap;
    char buf[]; /* cap + 1 bytes: one push's output, NUL-terminated */
};

qlm_status qlm_detok_new(const qlm_lm *lm, qlm_detok **out)
{
    if (!out)
        return qlm_fail(QLM_E_ARG, "qlm_detok_new: NULL out");
    *out = NULL;
    qlm_status st = qlm_api_need_tok(lm, "qlm_detok_new");
    if (st != QLM_OK)
        return st;
    /* The size tokenizer.h states is enough for any one push. */
    size_t cap = 3 * (qlm_tok_max_piece(lm->tok) + 4);
    qlm_detok *d = malloc(sizeof *d + cap + 1);
    if (!d)
        return qlm_fail(QLM_E_NOMEM, "out of memory for the detokenizer");
    d->tok = lm->tok;
    d->cap = cap;
    qlm_detok_init(&d->st);
    *out = d;
    return QLM_OK;
}

void qlm_detok_free(qlm_detok *d) { free(d); }

const char *qlm_detok_next(qlm_detok *d, int32_t id, size_t *len)
{
    if (!d)
        return qlm_fail(QLM_E_ARG, "qlm_detok_next: NULL stream"), NULL;
    size_t n = qlm_detok_push(d->tok, &d->st, id, d->buf, d->cap);
    d->buf[n] = '\0';
    if (len)
        *len = n;
    return d->buf;
}

const char *qlm_detok_end(qlm_detok *d, size_t *len)
{
    if (!d)
        return qlm_fail(QLM_E_ARG, "qlm_detok_end: NULL stream"), NULL;
    size_t n = qlm_detok_flush(&d->st, d->buf, d->cap);
    d->buf[n] = '\0';
    if (len)
        *len = n;
    qlm_detok_init(&d->st);
    return d->buf;
}
