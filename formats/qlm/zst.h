/* .qlm.zst: a .qlm inside one zstd frame (docs/FORMAT.md "Compressed files").
 * qlm_file_open() accepts these directly (decompressing once into the cache);
 * these are the explicit conversions behind `qlm compress` / `qlm decompress`. */
#ifndef QLM_ZST_H
#define QLM_ZST_H

#include "formats/common/err.h"

/* Largest decompressed size accepted (QLM_E_LIMIT beyond). */
#define QLM_ZST_MAX_CONTENT (1ull << 40)

/* Validate `in` as a .qlm (header, metadata, directory and every tensor
 * checksum), then write it as a single zstd frame with the content size and
 * a content checksum to `out` (temp file + rename). */
qlm_status qlm_zst_compress(const char *in, const char *out, int level);
/* Decompress a .qlm.zst to `out` (temp file + rename), then validate the
 * result as a .qlm; an invalid result is removed. */
qlm_status qlm_zst_decompress(const char *in, const char *out);
/* Where qlm_file_open caches the decompressed form of `in` (malloc'd):
 * "$XDG_CACHE_HOME/qlm/" (else "$HOME/.cache/qlm/") + "<key, 16 hex>-<size of
 * in>.qlm", key = xxh64 of in's real path, device, inode, size, mtime and
 * ctime (docs/FORMAT.md). Creates the directory. */
qlm_status qlm_zst_cache_path(const char *in, char **path);

#endif
