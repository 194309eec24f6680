/* libqlm: chat template rendering with the model's special tokens. */
#include <stdlib.h>
#include <string.h>

#include "runtime/api/api_int.h"
#include "runtime/chat/template.h"

const char *qlm_chat_builtin(const char *name) { return name ? qlm_tpl_builtin(name) : NULL; }
const char *qlm_chat_builtin_names(void) { return qlm_tpl_builtin_names(); }

qlm_status qlm_chat_check(const char *tpl)
{
    if (!tpl)
        return qlm_fail(QLM_E_ARG, "qlm_chat_check: NULL template");
    qlm_template *t = NULL;
    qlm_status st = qlm_tpl_parse(tpl, strlen(tpl), &t);
    qlm_tpl_free(t);
    return st;
}

/* A special token's text for bos_token/eos_token: "" when absent. */
static const char *token_text(const qlm_tokenizer *t, int32_t id)
{
    size_t len;
    return t && id >= 0 ? qlm_tok_text(t, id, &len) : "";
}

enum { KNOWN_FLAGS = QLM_CHAT_ADD_GENERATION_PROMPT | QLM_CHAT_THINKING_ON | QLM_CHAT_THINKING_OFF };

qlm_status qlm_chat_apply(const qlm_lm *lm, const char *tpl, const qlm_message *msgs, size_t n, int flags,
                           char **out, size_t *len)
{
    if (!lm || (!msgs && n) || !out || !len)
        return qlm_fail(QLM_E_ARG, "qlm_chat_apply: NULL argument");
    *out = NULL;
    *len = 0;
    if ((flags & ~KNOWN_FLAGS) || (flags & QLM_CHAT_THINKING_ON && flags & QLM_CHAT_THINKING_OFF))
        return qlm_fail(QLM_E_ARG, "qlm_chat_apply: bad flags 0x%x", (unsigned)flags);
    if (!tpl && !(tpl = lm->tok ? qlm_tok_chat_template(lm->tok) : NULL))
        return qlm_fail(QLM_E_MISSING, "the model has no chat template; pass one (e.g. qlm_chat_builtin(\"chatml\"))");
    for (size_t i = 0; i < n; i++)
        if (!msgs[i].role || !msgs[i].content)
            return qlm_fail(QLM_E_ARG, "qlm_chat_apply: message %zu has a NULL role or content", i);
    qlm_chat_msg *cm = calloc(n ? n : 1, sizeof *cm);
    if (!cm)
        return qlm_fail(QLM_E_NOMEM, "out of memory for %zu chat messages", n);
    for (size_t i = 0; i < n; i++)
        cm[i] = (qlm_chat_msg){.role = msgs[i].role, .content = msgs[i].content};
    qlm_template *t = NULL;
    qlm_status st = qlm_tpl_parse(tpl, strlen(tpl), &t);
    if (st == QLM_OK) {
        int think = flags & QLM_CHAT_THINKING_ON ? 1 : flags & QLM_CHAT_THINKING_OFF ? 0 : -1;
        qlm_tpl_vars v = {.messages = cm,
                          .n_messages = n,
                          .add_generation_prompt = (flags & QLM_CHAT_ADD_GENERATION_PROMPT) != 0,
                          .enable_thinking = think,
                          .bos_token = token_text(lm->tok, qlm_tok_bos(lm->tok)),
                          .eos_token = token_text(lm->tok, qlm_tok_eos(lm->tok))};
        st = qlm_tpl_render(t, &v, out, len);
    }
    qlm_tpl_free(t);
    free(cm);
    return st;
}
