/* libFuzzer target: arbitrary bytes (invalid UTF-8 included) through both
 * tokenizer kinds — SentencePiece BPE (stories260K's tok512.bin) and
 * byte-level BPE (SmolLM2's tokenizer.json), loaded from $QLM_SHARED
 * (default ../shared) once. For each: encode must succeed with ids in range;
 * decode and the streaming decoder must agree; without special-token
 * parsing, decode(encode(.)) must be stable after one round (the first
 * round may replace invalid UTF-8 by U+FFFD).
 * The first input byte picks the options; the rest is the text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/tokenizer/tokenizer.h"

static qlm_tokenizer *g_tok[2];

static qlm_tokenizer *load(const char *rel)
{
    const char *root = getenv("QLM_SHARED");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", root && *root ? root : "../shared", rel);
    qlm_tokenizer *t = NULL;
    if (qlm_tok_load_path(path, &t)) {
        fprintf(stderr, "fuzz_tokenizer: cannot load %s: %s (set QLM_SHARED)\n", path, qlm_errmsg());
        abort();
    }
    return t;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    g_tok[0] = load("models/stories260K/tok512.bin");
    g_tok[1] = load("models/tokenizers/smollm2-135m-instruct/tokenizer.json");
    return 0;
}

static char *decode(const qlm_tokenizer *t, const int32_t *ids, size_t n, size_t *len)
{
    char *s;
    if (qlm_tok_decode(t, ids, n, &s, len))
        abort();
    return s;
}

static void check_stream(const qlm_tokenizer *t, const int32_t *ids, size_t n, const char *want, size_t len)
{
    size_t cap = 3 * (qlm_tok_max_piece(t) + 4), k = 0;
    char *buf = malloc(cap), *acc = malloc(len + cap);
    if (!buf || !acc)
        abort();
    qlm_detok_stream s;
    qlm_detok_init(&s);
    for (size_t i = 0; i < n; i++) {
        size_t w = qlm_detok_push(t, &s, ids[i], buf, cap);
        if (k + w > len)
            abort();
        memcpy(acc + k, buf, w);
        k += w;
    }
    k += qlm_detok_flush(&s, acc + k, cap);
    if (k != len || memcmp(acc, want, len) != 0)
        abort();
    free(buf);
    free(acc);
}

static void one(const qlm_tokenizer *t, const char *text, size_t len, qlm_tok_encode_opts o)
{
    int32_t *ids, *ids2;
    size_t n, n2, l1, l2;
    if (qlm_tok_encode(t, text, len, &o, &ids, &n))
        abort();
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || (size_t)ids[i] >= qlm_tok_n_vocab(t))
            abort();
    char *s1 = decode(t, ids, n, &l1);
    check_stream(t, ids, n, s1, l1);
    if (!o.parse_special && !o.add_bos) {
        if (qlm_tok_encode(t, s1, l1, &o, &ids2, &n2))
            abort();
        char *s2 = decode(t, ids2, n2, &l2);
        if (l1 != l2 || memcmp(s1, s2, l1) != 0)
            abort();
        free(s2);
        free(ids2);
    }
    free(s1);
    free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    qlm_tok_encode_opts o = {(data[0] & 1) != 0, (data[0] & 2) != 0};
    for (int k = 0; k < 2; k++)
        one(g_tok[k], (const char *)data + 1, size - 1, o);
    return 0;
}
