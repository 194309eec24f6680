/* The generation loop behind `qlm run` (single prompt and --batch): prompt
 * evaluation, sampling, streaming UTF-8-safe output, stop conditions. A
 * client of include/qlm.h only, as are perplexity and kld (run_env). */
#ifndef QLM_RUN_GEN_H
#define QLM_RUN_GEN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "formats/common/err.h" /* before qlm.h, which then takes its qlm_status */
#include "include/qlm.h"

#define RUN_MAX_STOPS 16

typedef struct {
    qlm_lm *lm;
    qlm_session *s;
    bool has_tok;       /* false: the model has no tokenizer; output is token ids */
    int64_t n_vocab;
    float *logits;      /* n_vocab */
} run_env;

/* Open the model and a context of n_ctx tokens (0: the model's) on `threads`
 * threads (0: default) with a KV cache of kv_type (QLM_KV_*). On failure
 * everything opened is closed again. */
qlm_status run_env_open(run_env *e, const char *path, int64_t n_ctx, int threads, int kv_type);
void run_env_close(run_env *e);

typedef struct {
    /* in */
    const int32_t *ids;
    int64_t n_ids;
    int64_t n_predict;          /* tokens to generate; -1: until EOG or the context is full */
    qlm_sampling_params sp;
    const char *stops[RUN_MAX_STOPS];
    int n_stops;
    FILE *stream;               /* prompt + continuation written here as generated, or NULL */
    const char *dump_logits;    /* file for every prompt position's logits, or NULL */
    /* out */
    char *text;                 /* continuation (malloc'd, NUL-terminated, stop string cut) */
    size_t len;
    int64_t n_gen;
    const char *reason;         /* "eog", "stop", "length" or "context" */
    double s_prompt, s_gen;     /* seconds spent in prompt evaluation and in generation */
} run_job;

/* Runs one job from an empty context (the context is reset first). */
qlm_status run_generate(run_env *env, run_job *job);

/* --batch FILE (run_batch.c documents the JSON lines); returns the exit code.
 * model_bos: text prompts get BOS as the model wants (false: never). */
int run_batch(run_env *env, const run_job *defaults, const char *path, bool model_bos);

double run_now(void); /* monotonic seconds */

#endif
