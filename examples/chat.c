/* A minimal chat loop with libqlm (<qlm.h> only): each user line is added to
 * the conversation, the whole chat is rendered with the model's template (or
 * ChatML if it has none) and only the tokens after the cached prefix are
 * evaluated. usage: chat MODEL.qlm [max_reply_tokens]   (lines on stdin) */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include <qlm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TURNS 64

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL.qlm [MAX_REPLY_TOKENS] < lines\n", argv[0]);
        return 2;
    }
    int max_reply = argc > 2 ? atoi(argv[2]) : 128;
    qlm_lm *lm;
    qlm_session *s;
    qlm_token_sampler *smp;
    qlm_sampling_params sp = qlm_sampling_params_default();
    sp.temp = 0; /* deterministic replies */
    if (qlm_lm_open(argv[1], &lm) != QLM_OK || qlm_session_new(lm, NULL, &s) != QLM_OK ||
        qlm_token_sampler_new(lm, &sp, &smp) != QLM_OK) {
        fprintf(stderr, "chat: %s\n", qlm_last_error());
        return 1;
    }
    qlm_lm_info info = {.size = sizeof info};
    qlm_lm_get_info(lm, &info);
    const char *tpl = info.chat_template ? NULL : qlm_chat_builtin("chatml");
    float *logits = malloc((size_t)info.n_vocab * sizeof *logits);
    qlm_message msgs[2 * MAX_TURNS];
    size_t n_msgs = 0;
    char line[4096];
    while (n_msgs + 2 <= 2 * MAX_TURNS && fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\n")] = '\0';
        msgs[n_msgs++] = (qlm_message){"user", strdup(line)};
        char *text;
        size_t len, n;
        int32_t *ids;
        if (qlm_chat_apply(lm, tpl, msgs, n_msgs, QLM_CHAT_ADD_GENERATION_PROMPT, &text, &len) != QLM_OK ||
            qlm_tokenize(lm, text, len, 0, 1, &ids, &n) != QLM_OK) {
            fprintf(stderr, "chat: %s\n", qlm_last_error());
            return 1;
        }
        /* The cache holds the previous rendering: evaluate only what is new. */
        int64_t pos = qlm_session_pos(s);
        qlm_status st = (size_t)pos < n ? qlm_session_eval(s, ids + pos, (int64_t)n - pos, logits, 0) : QLM_E_VALUE;
        char reply[8192] = "";
        size_t at = 0;
        qlm_detok *d;
        qlm_detok_new(lm, &d);
        for (int i = 0; st == QLM_OK && i < max_reply; i++) {
            int32_t tok = qlm_token_sampler_sample(smp, logits, NULL, 0);
            if (tok < 0 || qlm_is_eog(lm, tok))
                break;
            size_t k;
            const char *piece = qlm_detok_next(d, tok, &k);
            if (at + k < sizeof reply)
                memcpy(reply + at, piece, k), at += k;
            if (qlm_session_pos(s) == qlm_session_n_ctx(s))
                break; /* context full: the reply ends here */
            st = qlm_session_eval(s, &tok, 1, logits, 0);
        }
        reply[at] = '\0';
        qlm_detok_free(d);
        printf("assistant: %s\n", reply);
        msgs[n_msgs++] = (qlm_message){"assistant", strdup(reply)};
        /* Re-rendering may differ from what was sampled: rewind to the prompt. */
        qlm_session_truncate(s, (int64_t)n);
        qlm_free(ids);
        qlm_free(text);
        if (st != QLM_OK) {
            fprintf(stderr, "chat: %s\n", qlm_last_error());
            return 1;
        }
    }
    for (size_t i = 0; i < n_msgs; i++)
        free((char *)msgs[i].content);
    free(logits);
    qlm_token_sampler_free(smp);
    qlm_session_free(s);
    qlm_lm_close(lm);
    return 0;
}
