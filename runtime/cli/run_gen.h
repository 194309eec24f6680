/* The generation loop behind `qlm run` (single prompt and --batch): prompt
 * evaluation, sampling, streaming UTF-8-safe output, stop conditions. */
#ifndef QLM_RUN_GEN_H
#define QLM_RUN_GEN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "runtime/model/model.h"
#include "runtime/model/sampler.h"
#include "runtime/tokenizer/tokenizer.h"

#define RUN_MAX_STOPS 16

typedef struct {
    qlm_model *m;
    qlm_tokenizer *tok; /* NULL: the model has none; output is token ids */
    qlm_ctx *c;
    float *logits;      /* n_vocab */
} run_env;

typedef struct {
    /* in */
    const int32_t *ids;
    int64_t n_ids;
    int64_t n_predict;          /* tokens to generate; -1: until EOG or the context is full */
    qlm_sampler_params sp;
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

/* --batch FILE (run_batch.c documents the JSON lines); returns the exit code. */
int run_batch(run_env *env, const run_job *defaults, const char *path, bool add_bos);

double run_now(void); /* monotonic seconds */

#endif
