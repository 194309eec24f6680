/* What the public handles (include/qlm.h) wrap; shared by the runtime/api sources. */
#ifndef QLM_API_INT_H
#define QLM_API_INT_H

#include "formats/common/err.h" /* first: qlm.h then uses its qlm_status */
#include "formats/common/log.h" /* and its log level and hook types */
#include "include/qlm.h"
#include "runtime/model/model.h"
#include "runtime/tokenizer/tokenizer.h"

struct qlm_lm {
    qlm_model *model;   /* NULL for a vocab_only handle */
    qlm_tokenizer *tok; /* NULL when the .qlm has no tokenizer */
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

/* QLM_E_ARG for a NULL model, QLM_E_MISSING if it has no tokenizer / no
 * weights; `fn` names the caller in the message. */
qlm_status qlm_api_need_tok(const qlm_lm *lm, const char *fn);
qlm_status qlm_api_need_weights(const qlm_lm *lm, const char *fn);

#endif
