/* Internals of a chat session, shared by chat.c (conversation, rendering,
 * persistence) and chat_turn.c (KV cache reuse and generation). */
#ifndef QLM_CHAT_INT_H
#define QLM_CHAT_INT_H

#include "runtime/chat/chat.h"

typedef struct {
    char *role, *content;
    bool protect;  /* user/system text containing special-token text: encode it as plain text */
} chat_msg;

typedef struct {
    int32_t *v;
    size_t n, cap;
} id_vec;

struct qlm_chat {
    const qlm_lm *lm;
    char *tpl;            /* template text (checked at creation) */
    qlm_session *ctx;
    qlm_token_sampler *sampler;
    qlm_sampling_params sampling;
    qlm_detok *detok;     /* the reply's streaming decoder */
    int enable_thinking;
    int64_t n_predict;
    FILE *dump;
    char *system;
    bool protect_system;  /* the system prompt has special-token text */
    chat_msg *msgs;       /* conversation without the system prompt */
    size_t n_msgs, cap_msgs;
    id_vec cache;         /* the ids in the KV cache, position by position */
    float *logits;        /* n_vocab */
    int64_t n_vocab;
    qlm_chat_stats stats;
};

qlm_status chat_vec_push(id_vec *v, const int32_t *ids, size_t n);
qlm_status chat_add_msg(qlm_chat *c, const char *role, const char *content, size_t len);
void chat_pop_msg(qlm_chat *c);
/* Remove the oldest user/assistant exchange; false if none can go. */
bool chat_drop_oldest(qlm_chat *c);
/* Make the KV cache hold exactly a prefix of ids: truncate to the common
 * prefix; with `eval`, evaluate the rest (the last position's logits land
 * in c->logits). Polls `interrupt` between chunks. */
qlm_status chat_sync(qlm_chat *c, const int32_t *ids, size_t n, bool eval, volatile sig_atomic_t *interrupt);

#endif
