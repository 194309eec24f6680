/* Hashes written by us: SHA-256 (FIPS 180-4) for model downloads and the
 * synthetic-weight golden checks, xxHash64 (Collet's spec) for .qlm per-tensor
 * and header checksums. */
#ifndef QLM_HASH_H
#define QLM_HASH_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t h[8];
    uint64_t len;
    uint8_t buf[64];
    size_t nbuf;
} qlm_sha256;

void qlm_sha256_init(qlm_sha256 *s);
void qlm_sha256_update(qlm_sha256 *s, const void *data, size_t n);
void qlm_sha256_final(qlm_sha256 *s, uint8_t out[32]);
/* Lower-case hex digest into out (65 bytes incl. NUL). */
void qlm_sha256_hex(const void *data, size_t n, char out[65]);
void qlm_hex(const uint8_t *bytes, size_t n, char *out);

uint64_t qlm_xxh64(const void *data, size_t n, uint64_t seed);

#endif
