/* .qlm.zst: open through the cache, qlm compress / decompress, and rejection
 * of corrupt, truncated, trailing-data, unknown-size and oversized frames. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "formats/qlm/qlmfile.h"
#include "formats/qlm/zst.h"
#include "tests/common/qlmfixture.h"
#include "tests/common/testutil.h"

static char g_cache[4096];

static int setup(void **state)
{
    (void)state;
    snprintf(g_cache, sizeof g_cache, "%s", tu_tmp("xdg"));
    setenv("XDG_CACHE_HOME", g_cache, 1); /* inherited by the qlm child processes too */
    return 0;
}

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

static int qlm_cmd(char **out, const char *args)
{
    char cmd[8192 + 4200];
    snprintf(cmd, sizeof cmd, "'%s' %s", tu_qlm_bin(), args);
    return tu_run(cmd, out);
}

/* Number of entries in the cache directory, and whether any is a temp file. */
static int cache_entries(int *temps)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/qlm", g_cache);
    DIR *d = opendir(dir);
    int n = 0;
    *temps = 0;
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') {
            n++;
            *temps += strstr(e->d_name, ".tmp") != NULL;
        }
    closedir(d);
    return n;
}

static void test_compress_open_decompress(void **state)
{
    (void)state;
    const char *src = tu_tmp("m.qlm"), *zst = tu_tmp("m.qlm.zst"), *back = tu_tmp("back.qlm");
    tu_qlm_fixture(src, tu_fix_n_tensors, 1);
    char cmd[4096], *out;
    snprintf(cmd, sizeof cmd, "compress '%s' '%s' -l 5", src, zst);
    assert_int_equal(qlm_cmd(&out, cmd), 0);
    free(out);
    size_t n_src, n_zst;
    char *a = tu_read(src, &n_src), *z = tu_read(zst, &n_zst);
    assert_memory_equal(z, "\x28\xb5\x2f\xfd", 4);
    /* independent check with libzstd itself: one frame, declared size, same bytes */
    assert_int_equal(ZSTD_getFrameContentSize(z, n_zst), n_src);
    char *dec = malloc(n_src);
    assert_int_equal(ZSTD_decompress(dec, n_src, z, n_zst), n_src);
    assert_memory_equal(dec, a, n_src);
    free(dec);

    /* qlm_file_open on the .zst goes through the cache */
    int temps;
    int before = cache_entries(&temps);
    qlm_file *f;
    assert_ok(qlm_file_open(zst, &f));
    assert_int_equal(qlm_file_n_tensors(f), tu_fix_n_tensors);
    assert_ok(qlm_file_verify(f, NULL));
    assert_int_equal((uintptr_t)qlm_file_tensor(f, 1)->data % 64, 0);
    qlm_file_close(f);
    char *cached;
    assert_ok(qlm_zst_cache_path(zst, &cached));
    char dir[4200], tail[64];
    snprintf(dir, sizeof dir, "%s/qlm/", g_cache);
    snprintf(tail, sizeof tail, "-%zu.qlm", n_zst);
    assert_int_equal(strncmp(cached, dir, strlen(dir)), 0);
    assert_int_equal(strlen(cached), strlen(dir) + 16 + strlen(tail));
    assert_string_equal(cached + strlen(dir) + 16, tail);
    size_t n_cached;
    char *c = tu_read(cached, &n_cached);
    assert_int_equal(n_cached, n_src);
    assert_memory_equal(c, a, n_src);
    free(c);
    assert_int_equal(cache_entries(&temps), before + 1);
    assert_int_equal(temps, 0);
    /* second open reuses the entry */
    assert_ok(qlm_file_open(zst, &f));
    qlm_file_close(f);
    assert_int_equal(cache_entries(&temps), before + 1);
    /* rewriting the .zst (even with the same bytes) gives it a new cache entry */
    write_file(zst, z, n_zst);
    char *cached2;
    assert_ok(qlm_zst_cache_path(zst, &cached2));
    assert_string_not_equal(cached, cached2);
    assert_ok(qlm_file_open(zst, &f));
    qlm_file_close(f);
    assert_int_equal(cache_entries(&temps), before + 2);
    free(cached2);
    free(cached);

    /* inspect accepts the .zst; decompress restores the identical file */
    snprintf(cmd, sizeof cmd, "inspect --verify '%s'", zst);
    assert_int_equal(qlm_cmd(&out, cmd), 0);
    assert_non_null(strstr(out, tu_fix_tensors[0].name));
    free(out);
    snprintf(cmd, sizeof cmd, "decompress '%s' '%s'", zst, back);
    assert_int_equal(qlm_cmd(&out, cmd), 0);
    free(out);
    size_t n_back;
    char *b = tu_read(back, &n_back);
    assert_int_equal(n_back, n_src);
    assert_memory_equal(b, a, n_src);
    free(b);
    free(a);
    free(z);
}

/* Expect qlm_file_open(path) to fail with `code`, leaving no cache entry
 * behind, and `qlm decompress` to exit 1 leaving no output. */
static void expect_bad_zst(int line, const char *name, const void *img, size_t n, qlm_status code)
{
    const char *path = tu_tmp(name), *out_path = tu_tmp("never.qlm");
    write_file(path, img, n);
    int temps, before = cache_entries(&temps);
    qlm_file *f;
    qlm_status st = qlm_file_open(path, &f);
    if (st != code)
        fail_msg("line %d: %s: got %s, want %s: %s", line, name, qlm_status_name(st), qlm_status_name(code),
                 qlm_errmsg());
    int after = cache_entries(&temps);
    assert_int_equal(temps, 0);
    assert_int_equal(after, before);
    char cmd[4096], *out;
    snprintf(cmd, sizeof cmd, "decompress '%s' '%s'", path, out_path);
    assert_int_equal(qlm_cmd(&out, cmd), 1);
    assert_non_null(strstr(out, "qlm: "));
    free(out);
    assert_int_not_equal(access(out_path, F_OK), 0);
}
#define BAD(name, img, n, code) expect_bad_zst(__LINE__, name, img, n, code)

static void test_bad_frames(void **state)
{
    (void)state;
    const char *src = tu_tmp("m2.qlm"), *zst = tu_tmp("m2.qlm.zst");
    tu_qlm_fixture(src, tu_fix_n_tensors, 1);
    assert_ok(qlm_zst_compress(src, zst, 3));
    size_t n;
    uint8_t *z = (uint8_t *)tu_read(zst, &n);
    uint8_t *c = malloc(n + 16);

    memcpy(c, z, n);
    c[n / 2] ^= 0x55; /* payload corruption: the frame checksum or the decoder catches it */
    BAD("flip.qlm.zst", c, n, QLM_E_ZSTD);
    BAD("trunc.qlm.zst", z, n - 5, QLM_E_ZSTD);
    BAD("short.qlm.zst", z, 6, QLM_E_ZSTD);
    memcpy(c, z, n);
    memcpy(c + n, "trailing", 8);
    BAD("trail.qlm.zst", c, n + 8, QLM_E_ZSTD);

    /* a valid frame without a content size */
    size_t n_src;
    char *a = tu_read(src, &n_src);
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 0);
    size_t cap = ZSTD_compressBound(n_src);
    uint8_t *u = malloc(cap);
    size_t un = ZSTD_compress2(cc, u, cap, a, n_src);
    assert_false(ZSTD_isError(un));
    ZSTD_freeCCtx(cc);
    assert_int_equal(ZSTD_getFrameContentSize(u, un), ZSTD_CONTENTSIZE_UNKNOWN);
    BAD("nosize.qlm.zst", u, un, QLM_E_ZSTD);
    free(u);

    /* a frame header declaring 2^41 bytes (FHD 0xE0: 8-byte size, single
     * segment), then one empty last raw block: refused before any write */
    uint8_t huge[4 + 1 + 8 + 3] = {0x28, 0xB5, 0x2F, 0xFD, 0xE0};
    for (int i = 0; i < 8; i++)
        huge[5 + i] = (uint8_t)((1ull << 41) >> (8 * i));
    huge[13] = 1;
    assert_int_equal(ZSTD_getFrameContentSize(huge, sizeof huge), 1ull << 41);
    BAD("huge.qlm.zst", huge, sizeof huge, QLM_E_LIMIT);

    /* a sound frame whose content is not a .qlm: the .qlm validation speaks */
    const char junk[] = "this is not a model";
    uint8_t jz[256];
    size_t jn = ZSTD_compress(jz, sizeof jz, junk, sizeof junk, 3);
    assert_false(ZSTD_isError(jn));
    BAD("junk.qlm.zst", jz, jn, QLM_E_MAGIC);
    free(a);
    free(c);
    free(z);
}

/* Four processes opening the same new .zst at once: all succeed, and exactly
 * one complete cache entry remains (each decompresses to its own temp file
 * and the renames are atomic). */
static void test_concurrent_first_open(void **state)
{
    (void)state;
    const char *src = tu_tmp("m4.qlm"), *zst = tu_tmp("m4.qlm.zst");
    tu_qlm_fixture(src, tu_fix_n_tensors, 1);
    assert_ok(qlm_zst_compress(src, zst, 1));
    int temps, before = cache_entries(&temps);
    char cmd[8192], *out;
    snprintf(cmd, sizeof cmd,
             "for i in 1 2 3 4; do ('%s' inspect --verify '%s' > /dev/null || echo FAILED) & done; wait",
             tu_qlm_bin(), zst);
    assert_int_equal(tu_run(cmd, &out), 0);
    if (strstr(out, "FAILED"))
        fail_msg("a concurrent open failed: %s", out);
    free(out);
    assert_int_equal(cache_entries(&temps), before + 1);
    assert_int_equal(temps, 0);
}

static void test_compress_errors(void **state)
{
    (void)state;
    const char *src = tu_tmp("m3.qlm"), *bad = tu_tmp("bad3.qlm"), *out_path = tu_tmp("m3.qlm.zst");
    tu_qlm_fixture(src, tu_fix_n_tensors, 1);
    char cmd[4096], *out;
    snprintf(cmd, sizeof cmd, "compress '%s' '%s' -l 99", src, out_path);
    assert_int_equal(qlm_cmd(&out, cmd), 2);
    free(out);
    snprintf(cmd, sizeof cmd, "compress '%s'", src);
    assert_int_equal(qlm_cmd(&out, cmd), 2);
    free(out);
    snprintf(cmd, sizeof cmd, "decompress --x '%s' '%s'", src, out_path);
    assert_int_equal(qlm_cmd(&out, cmd), 2);
    free(out);
    /* an invalid input (a flipped tensor byte) is refused and nothing is written */
    size_t n;
    char *a = tu_read(src, &n);
    a[n - 1] ^= 1;
    write_file(bad, a, n);
    free(a);
    snprintf(cmd, sizeof cmd, "compress '%s' '%s'", bad, out_path);
    assert_int_equal(qlm_cmd(&out, cmd), 1);
    assert_non_null(strstr(out, "checksum"));
    free(out);
    assert_int_not_equal(access(out_path, F_OK), 0);
    assert_status(qlm_zst_compress(src, out_path, 1000), QLM_E_ARG);
    /* decompressing something that is not zstd */
    assert_status(qlm_zst_decompress(src, out_path), QLM_E_MAGIC);
    assert_int_not_equal(access(out_path, F_OK), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compress_open_decompress),
        cmocka_unit_test(test_bad_frames),
        cmocka_unit_test(test_concurrent_first_open),
        cmocka_unit_test(test_compress_errors),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
