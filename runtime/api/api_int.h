/* What the public handles (include/qlm.h) wrap; shared by the runtime/api sources. */
#ifndef QLM_API_INT_H
#define QLM_API_INT_H

#include "formats/common/err.h" /* first: qlm.h then uses its qlm_status */
#include "include/qlm.h"
#include "runtime/model/model.h"
#include "runtime/tokenizer/tokenizer.h"

struct qlm_lm {
    qlm_model *model;
    qlm_tokenizer *tok;
};

struct qlm_session {
    const qlm_lm *lm;
    qlm_ctx *ctx;
    qlm_progress_fn progress;
    void *progress_user;
};

/* QLM_E_ARG naming `what` when a params struct's size field is wrong:
 * smaller than the first version of the struct or larger than this one. */
qlm_status qlm_api_check_size(size_t got, size_t min, size_t max, const char *what);

#endif
