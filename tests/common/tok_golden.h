/* Golden-data checks shared by the tokenizer suites (tests/unit/test_tokenizer*.c):
 * /work/shared/golden/tokenizers.json and llama.cpp's ggml-vocab .inp/.out pairs.
 * Each returns the number of mismatching cases after printing the first few,
 * so a suite reports every failing case instead of stopping at the first. */
#ifndef QLM_TOK_GOLDEN_H
#define QLM_TOK_GOLDEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "formats/common/json.h"
#include "runtime/tokenizer/tokenizer.h"

/* Parse a JSON file under QLM_SHARED (fails the test if missing/bad). */
json_doc *tg_load_json(const char *rel);

/* Load a tokenizer from a path under QLM_SHARED (fails the test on error). */
qlm_tokenizer *tg_load_tok(const char *rel);

/* encode(text) == want (a JSON array of ids)? */
int tg_check_encode(const qlm_tokenizer *t, const char *label, const char *text, size_t len,
                    bool parse_special, bool add_bos, const json_value *want);

/* decode(ids) == want, and the streaming decoder agrees with it. */
int tg_check_decode(const qlm_tokenizer *t, const char *label, const int32_t *ids, size_t n,
                    const char *want, size_t want_len);

/* Every corpus_public case of golden/tokenizers.json: ids in field `key`
 * (encode, no BOS) and `key`_decoded (decode of those ids). */
int tg_corpus(const qlm_tokenizer *t, const char *key, bool parse_special);

/* llama.cpp's models/ggml-vocab-NAME.gguf.inp/.out (inputs separated by
 * "\n__ggml_vocab_test__\n", one line of ids per input), without BOS or
 * special-token parsing, as llama.cpp's test-tokenizer-0 runs them. */
int tg_ggml_vocab(const qlm_tokenizer *t, const char *name);

#endif
