/* On-disk layout of .qlm version 1 (docs/FORMAT.md is the specification; this
 * header is its executable summary). Internal to formats/qlm, the tests and
 * the fuzz targets: the runtime goes through qlmfile.h.
 *
 * All integers are little-endian. A file is
 *   [header 128 B][metadata][directory][pad][data: 64-B aligned tensors]
 * and the header checksum covers header bytes [0, 120), which include the
 * metadata and directory checksums, so one check at open time protects every
 * byte the reader interprets; tensor data has its own per-tensor xxh64.
 */
#ifndef QLM_LAYOUT_H
#define QLM_LAYOUT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Arrays and tensors are handed out as raw little-endian bytes in the mapping. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "qlm reads and writes little-endian data in place: big-endian hosts are not supported"
#endif

#define QLM_MAGIC "\x89QLM\r\n\x1a\n" /* 8 bytes, PNG-style: catches text-mode mangling */
#define QLM_MAGIC_LEN 8
#define QLM_VERSION 1
#define QLM_HEADER_SIZE 128
#define QLM_DATA_ALIGN 4096  /* data section alignment the writer uses */
#define QLM_TENSOR_ALIGN 64  /* tensor alignment the writer uses */
#define QLM_MAX_DATA_ALIGN (1u << 20)

/* Limits the reader enforces (QLM_E_LIMIT beyond them). */
#define QLM_MAX_NAME 256            /* bytes in a metadata key or tensor name */
#define QLM_MAX_STR (16u << 20)     /* bytes in one metadata string */

/* Header field offsets. */
enum {
    QLM_H_MAGIC = 0,
    QLM_H_VERSION = 8,       /* u32 */
    QLM_H_FLAGS = 12,        /* u32, must be 0 */
    QLM_H_FILE_SIZE = 16,    /* u64 */
    QLM_H_N_META = 24,       /* u64 */
    QLM_H_N_TENSORS = 32,    /* u64 */
    QLM_H_META_OFF = 40,     /* u64 */
    QLM_H_META_SIZE = 48,    /* u64 */
    QLM_H_DIR_OFF = 56,      /* u64 */
    QLM_H_DIR_SIZE = 64,     /* u64 */
    QLM_H_DATA_OFF = 72,     /* u64 */
    QLM_H_DATA_SIZE = 80,    /* u64 */
    QLM_H_DATA_ALIGN = 88,   /* u32 */
    QLM_H_TENSOR_ALIGN = 92, /* u32 */
    QLM_H_META_SUM = 96,     /* u64 xxh64(metadata section) */
    QLM_H_DIR_SUM = 104,     /* u64 xxh64(directory section) */
    QLM_H_RESERVED = 112,    /* u64, must be 0 */
    QLM_H_HEADER_SUM = 120   /* u64 xxh64(header[0..120)) */
};

/* Directory entry: u32 name_len, name, then this fixed tail. */
enum {
    QLM_D_DTYPE = 0,     /* u32 */
    QLM_D_RANK = 4,      /* u32 */
    QLM_D_DIMS = 8,      /* u64[4], unused dims 0 */
    QLM_D_OFFSET = 40,   /* u64 absolute file offset */
    QLM_D_NBYTES = 48,   /* u64 */
    QLM_D_CHECKSUM = 56, /* u64 xxh64(data) */
    QLM_D_TAIL = 64
};
#define QLM_DIR_MIN_ENTRY (4 + 1 + QLM_D_TAIL)
/* Metadata entry: u32 key_len, key, u32 type, value; smallest is a u8/bool. */
#define QLM_META_MIN_ENTRY (4 + 1 + 4 + 1)

static inline uint32_t qlm_rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t qlm_rd64(const uint8_t *p)
{
    return (uint64_t)qlm_rd32(p) | (uint64_t)qlm_rd32(p + 4) << 32;
}

static inline void qlm_wr32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void qlm_wr64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Recompute the metadata, directory and header checksums of a complete
 * in-memory image whose header offsets are in range (the writer, and tests or
 * fuzzers that corrupt a field on purpose and want the reader to get past the
 * checksum to the field itself). Offsets out of range leave those sums alone. */
void qlm_layout_seal(uint8_t *img, size_t size);

#endif
