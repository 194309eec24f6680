/* qlm_tok_load_path(): pick the importer from what the file is. */
#include <stdio.h>
#include <string.h>

#include "formats/common/mapfile.h"
#include "formats/qlm/layout.h"
#include "runtime/tokenizer/tok_internal.h"

static qlm_status load_qlm_path(const char *path, qlm_tokenizer **out)
{
    qlm_file *f;
    qlm_status st = qlm_file_open(path, &f);
    if (st)
        return st;
    st = qlm_tok_load_qlm(f, out);
    qlm_file_close(f);
    return st ? qlm_fail_context(st, "%s", path) : QLM_OK;
}

qlm_status qlm_tok_load_path(const char *path, qlm_tokenizer **out)
{
    *out = NULL;
    if (qlm_is_dir(path))
        return tok_load_hf(path, out);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return qlm_fail(QLM_E_IO, "%s: cannot open", path);
    unsigned char head[8] = {0};
    size_t n = fread(head, 1, sizeof head, fp);
    fclose(fp);
    static const unsigned char zstd_magic[4] = {0x28, 0xB5, 0x2F, 0xFD};
    if (n >= 4 && memcmp(head, "GGUF", 4) == 0)
        return tok_load_gguf(path, out);
    if ((n >= QLM_MAGIC_LEN && memcmp(head, QLM_MAGIC, QLM_MAGIC_LEN) == 0) ||
        (n >= 4 && memcmp(head, zstd_magic, 4) == 0))
        return load_qlm_path(path, out);
    size_t plen = strlen(path);
    if ((n >= 1 && head[0] == '{') || (plen >= 5 && strcmp(path + plen - 5, ".json") == 0))
        return tok_load_hf(path, out);
    return tok_load_llama2c(path, out);
}
