/* libFuzzer target: the .qlm.zst container. The input is written to a file
 * in a private scratch folder (removed at exit: fuzz_scratch.h) and opened
 * both ways a user can: qlm_zst_decompress (`qlm decompress`) and
 * qlm_file_open, which decompresses into the cache ($XDG_CACHE_HOME,
 * pointed into the scratch folder). Either
 * must fail with a message or give a .qlm that opens; a failed decompress
 * leaves no output or temp file behind (checked), and the cache is emptied
 * after each input so the folder does not grow.
 *
 * Frames declaring more than 64 MiB of content are skipped: the reader
 * accepts up to QLM_ZST_MAX_CONTENT and a few fuzzed bytes of RLE blocks can
 * expand that far, which would only measure the disk.
 * Seeds: tests/fuzz/corpus/fuzz_qlmzst (the fuzz_qlm seeds, compressed). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "formats/common/err.h"
#include "formats/qlm/qlmfile.h"
#include "formats/qlm/zst.h"
#include "tests/fuzz/fuzz_scratch.h"

#define MAX_CONTENT (64u << 20)

static char g_dir[64], g_in[128], g_out[128];

/* At the first input, after libFuzzer's signal handlers (fuzz_scratch.h). */
static void setup(void)
{
    const char *dir = fuzz_scratch_make("zst");
    snprintf(g_dir, sizeof g_dir, "%s", dir);
    snprintf(g_in, sizeof g_in, "%s/in.qlm.zst", dir);
    snprintf(g_out, sizeof g_out, "%s/out.qlm", dir);
    if (setenv("XDG_CACHE_HOME", dir, 1))
        abort();
}

/* Anything but the input (and the cache folder's own subfolder) is a leak. */
static void expect_only_input(void)
{
    DIR *d = opendir(g_dir);
    if (!d)
        abort();
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.' && strcmp(e->d_name, "in.qlm.zst") && strcmp(e->d_name, "qlm"))
            abort();
    closedir(d);
}

static void empty_cache(void)
{
    char path[sizeof g_dir + 300]; /* folder + "/qlm/" + a d_name */
    snprintf(path, sizeof path, "%s/qlm", g_dir);
    DIR *d = opendir(path);
    if (!d)
        return;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.') {
            snprintf(path, sizeof path, "%s/qlm/%s", g_dir, e->d_name);
            unlink(path);
        }
    closedir(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready++)
        setup();
    unsigned long long c = ZSTD_getFrameContentSize(data, size);
    if (c != ZSTD_CONTENTSIZE_ERROR && c != ZSTD_CONTENTSIZE_UNKNOWN && c > MAX_CONTENT)
        return 0;
    FILE *f = fopen(g_in, "wb");
    if (!f || fwrite(data, 1, size, f) != size)
        abort();
    fclose(f);

    qlm_err_clear();
    if (qlm_zst_decompress(g_in, g_out) == QLM_OK) {
        qlm_file *q;
        if (qlm_file_open(g_out, &q))
            abort(); /* decompress promised a valid .qlm */
        qlm_file_close(q);
        unlink(g_out);
    } else if (!qlm_errmsg()[0]) {
        abort();
    }
    expect_only_input();

    qlm_file *q = NULL;
    qlm_err_clear();
    if (qlm_file_open(g_in, &q) == QLM_OK) {
        for (size_t i = 0; i < qlm_file_n_tensors(q); i++)
            qlm_file_verify(q, qlm_file_tensor(q, i));
        qlm_file_close(q);
    } else if (q || !qlm_errmsg()[0]) {
        abort();
    }
    empty_cache();
    return 0;
}
