/* llama.cpp-style chunked scoring shared by `qlm perplexity` and `qlm kld`:
 * the text is tokenized whole (BOS first when the vocabulary adds one) and cut
 * into floor(n / ctx) chunks of ctx tokens; each chunk runs from an empty
 * context with its first token replaced by BOS (when add_bos), and only its
 * second half is scored: the logits at positions ctx/2 .. ctx-2 predict the
 * next token. */
#ifndef QLM_PPL_CHUNK_H
#define QLM_PPL_CHUNK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "runtime/cli/run_gen.h"

/* Whole file -> token ids (malloc'd), BOS as the model wants it. */
qlm_status ppl_tokenize_file(const char *path, const qlm_lm *lm, int32_t **ids, size_t *n);

/* The id each chunk starts with: BOS when the model adds one, else -1. */
int32_t ppl_bos(const qlm_lm *lm);

/* Scored positions per chunk: ctx - 1 - ctx/2. */
static inline int64_t ppl_scored(int64_t ctx) { return ctx - 1 - ctx / 2; }

/* The logits buffers of `copies` models for chunks of ctx tokens fit the
 * memory budget (formats/common/mem.h): checked before tokenizing. */
qlm_status ppl_check_memory(int64_t ctx, int64_t n_vocab, int copies);

/* Evaluate one chunk tok[0..ctx); lg receives (ctx - ctx/2) x n_vocab logits,
 * row j predicting tok[ctx/2 + j + 1]. bos < 0: keep tok[0]. */
qlm_status ppl_eval_chunk(run_env *env, const int32_t *tok, int64_t ctx, int32_t bos, float *lg);

/* Max logit and log of the softmax denominator (a double sum of deterministic exps). */
void ppl_log_norm(const float *lg, int64_t V, float *mx, double *logz);

/* -log softmax(logits)[tok]. */
double ppl_nll_of(const float *lg, int64_t V, int32_t tok);

/* The options of `qlm perplexity` and `qlm kld` (base: kld's reference model). */
typedef struct {
    const char *model, *base, *file;
    int64_t ctx, chunks, threads;
    int kv;     /* --kv: QLM_KV_* (kld: QUANT's cache; BASE's stays f32) */
    bool json;
} ppl_opts;

/* Parses argv for command cmd (--base accepted and required when with_base).
 * Returns 0, -1 after printing usage for --help, or an exit status. */
int ppl_parse_args(const char *cmd, bool with_base, void (*usage)(FILE *), int argc, char **argv, ppl_opts *o);

#endif
