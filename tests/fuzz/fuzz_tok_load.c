/* libFuzzer target: the tokenizer importers on arbitrary file contents.
 * qlm_tok_load_path() picks the importer from the bytes (GGUF magic,
 * .qlm magic, '{' for tokenizer.json, otherwise a llama2.c tokenizer .bin),
 * so the input is written to a file in a private scratch folder (no side
 * files such as config.json are present; removed at exit: fuzz_scratch.h)
 * and loaded. A load must fail with a message or give a tokenizer that
 * encodes and decodes without crashing.
 * zstd-compressed input is skipped: opening it would populate the user's
 * .qlm.zst cache. Seeds: tests/fuzz/corpus/fuzz_tok_load.shared. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "formats/common/err.h"
#include "runtime/tokenizer/tokenizer.h"
#include "tests/fuzz/fuzz_scratch.h"

static char g_path[4096];

/* At the first input, after libFuzzer's signal handlers (fuzz_scratch.h). */
static void setup(void)
{
    snprintf(g_path, sizeof g_path, "%s/tok", fuzz_scratch_make("tok"));
}

static void exercise(const qlm_tokenizer *t)
{
    static const char text[] = "Hello <|im_end|> world <s>\xE2\x82\xAC\xFF 12345";
    qlm_tok_encode_opts o = {true, true};
    int32_t *ids;
    size_t n;
    if (qlm_tok_encode(t, text, sizeof text - 1, &o, &ids, &n) == QLM_OK) {
        char *s;
        size_t len;
        for (size_t i = 0; i < n; i++)
            if (ids[i] < 0 || (size_t)ids[i] >= qlm_tok_n_vocab(t))
                abort();
        if (qlm_tok_decode(t, ids, n, &s, &len) != QLM_OK)
            abort();
        free(s);
        free(ids);
    }
    size_t len;
    for (int32_t id = 0; id < 16 && (size_t)id < qlm_tok_n_vocab(t); id++)
        if (!qlm_tok_piece(t, id, &len) || !qlm_tok_text(t, id, &len))
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t zstd_magic[4] = {0x28, 0xB5, 0x2F, 0xFD};
    static int ready;
    if (!ready++)
        setup();
    if (size >= 4 && memcmp(data, zstd_magic, 4) == 0)
        return 0;
    FILE *f = fopen(g_path, "wb");
    if (!f || fwrite(data, 1, size, f) != size)
        abort();
    fclose(f);
    qlm_tokenizer *t = NULL;
    qlm_err_clear();
    if (qlm_tok_load_path(g_path, &t) == QLM_OK) {
        exercise(t);
        qlm_tok_free(t);
    } else if (t || !qlm_errmsg()[0]) {
        abort(); /* failures leave no tokenizer and always say why */
    }
    return 0;
}
