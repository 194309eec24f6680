/* A chat session: the conversation, its rendering through the chat template,
 * and the model context whose KV cache mirrors the rendered tokens.
 *
 * Every turn renders the whole conversation (as transformers would), encodes
 * it, keeps the longest common prefix with what the KV cache already holds
 * (qlm_ctx_truncate) and evaluates only the rest, so the cost of a turn does
 * not grow with the length of the conversation.
 *
 * Tokenisation follows apply_chat_template(tokenize=True): the rendered text
 * is encoded without an added BOS, special-token text parsed as specials —
 * except inside user and system messages: text a person typed that looks like
 * "<|im_end|>" stays plain text.
 *
 * When the conversation no longer fits the context, the oldest exchanges
 * (never the system prompt) are dropped and the rest re-rendered.
 *
 * The session is a client of include/qlm.h only (model, context, sampler,
 * template rendering, streaming detokenizer), like any program embedding qlm.
 */
#ifndef QLM_CHAT_H
#define QLM_CHAT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "formats/common/err.h" /* before qlm.h, which then takes its qlm_status */
#include "include/qlm.h"

typedef struct qlm_chat qlm_chat;

typedef struct {
    const char *template_text;  /* Jinja chat template (required) */
    const char *system;         /* system prompt, or NULL */
    int enable_thinking;        /* -1: leave undefined, 0/1 */
    int64_t n_ctx;              /* 0: model default */
    int kv_type;                /* QLM_KV_F32 (0) or QLM_KV_Q8 */
    int64_t n_predict;          /* most tokens in one reply; 0: until end of turn or context */
    int n_threads;              /* 0: default */
    qlm_sampling_params sampling;
    FILE *dump_ids;             /* debug: every truncate ("T pos"), eval ("E pos id...") and
                                   the end of each turn's prompt ("P") */
} qlm_chat_params;

/* Streaming callbacks for one reply. */
typedef struct {
    /* Reply text as it is decoded; `think` is true inside <think>...</think>. */
    void (*on_text)(void *user, const char *s, size_t n, bool think);
    void *user;
    /* Polled between tokens; when it becomes non-zero the reply stops. */
    volatile sig_atomic_t *interrupt;
} qlm_chat_stream;

typedef struct {
    int64_t n_ctx, n_past;        /* context size; tokens in the KV cache */
    int64_t prompt_tokens;        /* last turn: tokens evaluated for the prompt */
    int64_t reused_tokens;        /* last turn: tokens kept from the cache */
    int64_t reply_tokens;         /* last turn: tokens generated */
    double ttft_s;                /* last turn: from the request to the first reply token */
    double gen_tok_s;             /* last turn: reply tokens per second after the first */
    int dropped;                  /* last turn: exchanges dropped to fit the context */
    bool interrupted;             /* last turn stopped by the interrupt flag */
    bool truncated;               /* last turn stopped by n_predict or the context end */
    size_t n_messages;
} qlm_chat_stats;

/* The session borrows the model (it must outlive the session), which must
 * have a tokenizer. A template that does not parse fails here. */
qlm_status qlm_chat_new(const qlm_lm *lm, const qlm_chat_params *p, qlm_chat **out);
void qlm_chat_free(qlm_chat *c);

/* One exchange: adds the user message, generates and streams the reply and
 * adds it (partial if interrupted). On error the user message is removed. */
qlm_status qlm_chat_turn(qlm_chat *c, const char *user_text, const qlm_chat_stream *s);

/* Drop the last user/assistant exchange and rewind the KV cache to match.
 * QLM_E_ARG when there is nothing to undo. */
qlm_status qlm_chat_undo(qlm_chat *c);
/* Forget the conversation (the system prompt stays). */
void qlm_chat_reset(qlm_chat *c);
/* Replace (NULL/"" removes) the system prompt. */
qlm_status qlm_chat_set_system(qlm_chat *c, const char *text);

/* The conversation as JSON {"system": ..., "messages": [{"role","content"}...]}. */
qlm_status qlm_chat_save(const qlm_chat *c, const char *path);
/* Replace the conversation by a saved one and evaluate it into the cache. */
qlm_status qlm_chat_load(qlm_chat *c, const char *path);

/* The rendered conversation (with the generation prompt when asked). */
qlm_status qlm_chat_render(const qlm_chat *c, bool gen_prompt, char **out, size_t *len);
/* Token ids of that rendering, as fed to the model. *ids is malloc'd. */
qlm_status qlm_chat_encode(const qlm_chat *c, bool gen_prompt, int32_t **ids, size_t *n);

qlm_chat_stats qlm_chat_get_stats(const qlm_chat *c);
/* Sampling parameters in use; qlm_chat_set_sampling validates and applies new ones. */
qlm_sampling_params qlm_chat_get_sampling(const qlm_chat *c);
qlm_status qlm_chat_set_sampling(qlm_chat *c, const qlm_sampling_params *p);
void qlm_chat_set_thinking(qlm_chat *c, int enable_thinking);
void qlm_chat_set_n_predict(qlm_chat *c, int64_t n_predict);

#endif
