/* zstd container for .qlm files. A .qlm.zst is exactly one zstd frame that
 * records its content size; we never allocate or write past that size, and we
 * refuse sizes beyond QLM_ZST_MAX_CONTENT or the free space of the target. */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <zstd.h>

#include "formats/common/hash.h"
#include "formats/qlm/internal.h"
#include "formats/qlm/outfile.h"
#include "formats/qlm/zst.h"

int qlm_is_zstd(const qlm_map *m)
{
    static const uint8_t zmagic[4] = {0x28, 0xB5, 0x2F, 0xFD};
    return m->size >= 4 && memcmp(m->data, zmagic, 4) == 0;
}

/* The one frame of `m`: content size known, sane, and nothing after it. */
static qlm_status frame_content_size(const qlm_map *m, const char *name, uint64_t *content)
{
    if (!qlm_is_zstd(m))
        return qlm_fail(QLM_E_MAGIC, "%s: not a zstd file", name);
    unsigned long long c = ZSTD_getFrameContentSize(m->data, m->size);
    if (c == ZSTD_CONTENTSIZE_ERROR)
        return qlm_fail(QLM_E_ZSTD, "%s: corrupt zstd frame header", name);
    if (c == ZSTD_CONTENTSIZE_UNKNOWN)
        return qlm_fail(QLM_E_ZSTD, "%s: zstd frame does not record its content size (use 'qlm compress')",
                        name);
    if (c > QLM_ZST_MAX_CONTENT)
        return qlm_fail(QLM_E_LIMIT, "%s: decompressed size %llu exceeds the %llu-byte limit", name, c,
                        QLM_ZST_MAX_CONTENT);
    size_t fs = ZSTD_findFrameCompressedSize(m->data, m->size);
    if (ZSTD_isError(fs))
        return qlm_fail(QLM_E_ZSTD, "%s: corrupt or truncated zstd frame: %s", name, ZSTD_getErrorName(fs));
    if (fs != m->size)
        return qlm_fail(QLM_E_ZSTD, "%s: %zu bytes of trailing data after the zstd frame", name, m->size - fs);
    *content = c;
    return QLM_OK;
}

/* Refuse to start a write that cannot fit on the file system of `path`. */
static qlm_status check_space(const char *path, uint64_t need)
{
    char *copy = strdup(path);
    if (!copy)
        return qlm_fail(QLM_E_NOMEM, "out of memory");
    struct statvfs sv;
    int rc = statvfs(dirname(copy), &sv);
    free(copy);
    if (rc == 0 && (uint64_t)sv.f_bavail * sv.f_frsize < need)
        return qlm_fail(QLM_E_LIMIT, "%s: needs %llu bytes, only %llu free", path, (unsigned long long)need,
                        (unsigned long long)sv.f_bavail * sv.f_frsize);
    return QLM_OK;
}

static qlm_status stream_out(ZSTD_DCtx *dc, const qlm_map *m, const char *name, qlm_outfile *o, uint64_t content)
{
    size_t cap = ZSTD_DStreamOutSize();
    uint8_t *buf = malloc(cap);
    if (!buf)
        return qlm_fail(QLM_E_NOMEM, "out of memory");
    ZSTD_inBuffer in = {m->data, m->size, 0};
    uint64_t done = 0;
    size_t ret = 1;
    qlm_status st = QLM_OK;
    while (!st && ret != 0) {
        ZSTD_outBuffer out = {buf, cap, 0};
        ret = ZSTD_decompressStream(dc, &out, &in);
        if (ZSTD_isError(ret))
            st = qlm_fail(QLM_E_ZSTD, "%s: corrupt zstd data: %s", name, ZSTD_getErrorName(ret));
        else if (out.pos > content - done)
            st = qlm_fail(QLM_E_ZSTD, "%s: frame decompresses past its declared size %llu", name,
                          (unsigned long long)content);
        else if (out.pos == 0 && in.pos == in.size && ret != 0)
            st = qlm_fail(QLM_E_ZSTD, "%s: zstd frame is truncated", name);
        else
            st = qlm_outfile_pwrite(o, buf, out.pos, done);
        done += out.pos;
    }
    free(buf);
    if (!st && done != content)
        st = qlm_fail(QLM_E_ZSTD, "%s: frame decompressed to %llu bytes, declared %llu", name,
                      (unsigned long long)done, (unsigned long long)content);
    return st;
}

/* Decompress the frame in `m` to `out` via a temp file (suffix as in outfile.h). */
static qlm_status decompress_map(const qlm_map *m, const char *name, const char *out, const char *suffix)
{
    uint64_t content = 0;
    qlm_status st = frame_content_size(m, name, &content);
    if (st || (st = check_space(out, content)))
        return st;
    qlm_outfile o;
    if ((st = qlm_outfile_open(&o, out, suffix)))
        return st;
    ZSTD_DCtx *dc = ZSTD_createDCtx();
    st = dc ? stream_out(dc, m, name, &o, content) : qlm_fail(QLM_E_NOMEM, "zstd: out of memory");
    ZSTD_freeDCtx(dc);
    if (st) {
        qlm_outfile_abort(&o);
        return st;
    }
    return qlm_outfile_commit(&o, content);
}

static qlm_status map_zst(const char *in, qlm_map *m)
{
    qlm_status st = qlm_map_open(in, m);
    if (st == QLM_OK && !qlm_is_zstd(m)) {
        qlm_map_close(m);
        st = qlm_fail(QLM_E_MAGIC, "%s: not a zstd file", in);
    }
    return st;
}

qlm_status qlm_zst_decompress(const char *in, const char *out)
{
    qlm_map m;
    qlm_status st = map_zst(in, &m);
    if (st)
        return st;
    st = decompress_map(&m, in, out, "");
    qlm_map_close(&m);
    if (st)
        return st;
    qlm_file *f;
    if ((st = qlm_file_open(out, &f))) {
        unlink(out);
        return qlm_fail_context(st, "%s does not hold a valid .qlm", in);
    }
    qlm_file_close(f);
    return QLM_OK;
}

/* mkdir that tolerates an existing directory. */
static qlm_status ensure_dir(const char *d)
{
    if (mkdir(d, 0755) != 0 && errno != EEXIST)
        return qlm_fail(QLM_E_IO, "%s: cannot create cache directory: %s", d, strerror(errno));
    return QLM_OK;
}

/* The cache key names the file's identity, not its content: hashing the
 * content would read the whole compressed model on every start. ctime changes
 * on every write and cannot be set by the user (cp -p, touch -d), so a file
 * whose bytes changed never maps to an old entry. */
static qlm_status cache_key(const char *in, uint64_t *key, uint64_t *size)
{
    struct stat st;
    char *real = realpath(in, NULL);
    if (!real || stat(real, &st) != 0) {
        qlm_status e = qlm_fail(QLM_E_IO, "%s: cannot resolve: %s", in, strerror(errno));
        free(real);
        return e;
    }
    char id[4096 + 160];
    int n = snprintf(id, sizeof id, "%s%c%llu:%llu:%llu:%lld.%09ld:%lld.%09ld", real, 0,
                     (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
                     (unsigned long long)st.st_size, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
                     (long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
    free(real);
    if (n < 0 || (size_t)n >= sizeof id)
        return qlm_fail(QLM_E_LIMIT, "%s: path too long", in);
    *key = qlm_xxh64(id, (size_t)n, 0);
    *size = (uint64_t)st.st_size;
    return QLM_OK;
}

qlm_status qlm_zst_cache_path(const char *in, char **path)
{
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char dir[4096];
    uint64_t key = 0, size = 0;
    qlm_status st = cache_key(in, &key, &size);
    if (st)
        return st;
    if (xdg && xdg[0] == '/') { /* the XDG spec ignores relative paths */
        snprintf(dir, sizeof dir, "%s", xdg);
    } else if (home && *home) {
        snprintf(dir, sizeof dir, "%s/.cache", home);
    } else {
        return qlm_fail(QLM_E_IO, "no cache directory for .qlm.zst (set XDG_CACHE_HOME or HOME)");
    }
    if ((st = ensure_dir(dir)))
        return st;
    size_t n = strlen(dir);
    if (n + 4 >= sizeof dir)
        return qlm_fail(QLM_E_LIMIT, "cache directory path too long");
    memcpy(dir + n, "/qlm", 5);
    if ((st = ensure_dir(dir)))
        return st;
    size_t cap = strlen(dir) + 64;
    if (!(*path = malloc(cap)))
        return qlm_fail(QLM_E_NOMEM, "out of memory");
    snprintf(*path, cap, "%s/%016llx-%llu.qlm", dir, (unsigned long long)key, (unsigned long long)size);
    return QLM_OK;
}

qlm_status qlm_zst_cached(const char *in, char **path)
{
    qlm_status st = qlm_zst_cache_path(in, path);
    if (st || qlm_is_file(*path))
        return st;
    qlm_map m;
    if ((st = map_zst(in, &m)) == QLM_OK) {
        char suffix[32];
        snprintf(suffix, sizeof suffix, ".%ld", (long)getpid());
        st = decompress_map(&m, in, *path, suffix);
        qlm_map_close(&m);
    }
    if (st) {
        free(*path);
        *path = NULL;
    }
    return st;
}

static qlm_status compress_map(const qlm_map *m, const char *out, int level)
{
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    size_t cap = ZSTD_CStreamOutSize();
    uint8_t *buf = malloc(cap);
    qlm_outfile o;
    qlm_status st = QLM_OK;
    if (!cc || !buf)
        st = qlm_fail(QLM_E_NOMEM, "zstd: out of memory");
    else if (ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, level)) ||
             ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1)) ||
             ZSTD_isError(ZSTD_CCtx_setPledgedSrcSize(cc, m->size)))
        st = qlm_fail(QLM_E_ZSTD, "zstd: cannot configure the compressor");
    if (!st)
        st = qlm_outfile_open(&o, out, "");
    if (st) {
        ZSTD_freeCCtx(cc);
        free(buf);
        return st;
    }
    ZSTD_inBuffer in = {m->data, m->size, 0};
    uint64_t done = 0;
    size_t ret = 1;
    while (!st && ret != 0) {
        ZSTD_outBuffer ob = {buf, cap, 0};
        ret = ZSTD_compressStream2(cc, &ob, &in, ZSTD_e_end);
        if (ZSTD_isError(ret))
            st = qlm_fail(QLM_E_ZSTD, "zstd: compression failed: %s", ZSTD_getErrorName(ret));
        else
            st = qlm_outfile_pwrite(&o, buf, ob.pos, done);
        done += ob.pos;
    }
    ZSTD_freeCCtx(cc);
    free(buf);
    if (st) {
        qlm_outfile_abort(&o);
        return st;
    }
    return qlm_outfile_commit(&o, done);
}

qlm_status qlm_zst_compress(const char *in, const char *out, int level)
{
    if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel())
        return qlm_fail(QLM_E_ARG, "zstd level %d not in [%d, %d]", level, ZSTD_minCLevel(), ZSTD_maxCLevel());
    qlm_map m;
    qlm_status st = qlm_map_open(in, &m);
    if (st)
        return st;
    if (qlm_is_zstd(&m)) {
        qlm_map_close(&m);
        return qlm_fail(QLM_E_ARG, "%s is already zstd-compressed", in);
    }
    static const uint8_t empty[1];
    qlm_file *f;
    if ((st = qlm_file_open_mem(m.data ? m.data : empty, m.size, &f))) {
        qlm_map_close(&m);
        return qlm_fail_context(st, "%s", in);
    }
    st = qlm_file_verify(f, NULL);
    qlm_file_close(f);
    if (!st)
        st = compress_map(&m, out, level);
    else
        qlm_fail_context(st, "%s", in);
    qlm_map_close(&m);
    return st;
}
