/* Malformed .qlm images: every header field, every directory field, the
 * metadata encodings, truncation at every boundary and at random points.
 * Each case starts from a valid file written by the writer, corrupts one
 * thing, re-seals the checksums (so the reader reaches the corrupted field
 * instead of stopping at a checksum) and expects the specific error code
 * docs/FORMAT.md "Validation" assigns. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/common/hash.h"
#include "formats/qlm/layout.h"
#include "formats/qlm/qlmfile.h"
#include "tests/common/qlmfixture.h"
#include "tests/common/testutil.h"

static uint8_t *g_img;
static size_t g_size;

static int setup(void **state)
{
    (void)state;
    const char *path = tu_tmp("base.qlm");
    tu_qlm_fixture(path, tu_fix_n_tensors, 1);
    g_img = (uint8_t *)tu_read(path, &g_size);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(g_img);
    return 0;
}

static uint8_t *copy(void)
{
    uint8_t *c = malloc(g_size);
    memcpy(c, g_img, g_size);
    return c;
}

static qlm_status try_open(const uint8_t *img, size_t size)
{
    qlm_file *f;
    qlm_status st = qlm_file_open_mem(img, size, &f);
    if (st == QLM_OK)
        qlm_file_close(f);
    else
        assert_true(strlen(qlm_errmsg()) > 0); /* a message, naming something */
    return st;
}

#define EXPECT(img, size, code)                                                                    \
    do {                                                                                           \
        qlm_status got_ = try_open(img, size);                                                     \
        if (got_ != (code))                                                                        \
            fail_msg("line %d: got %s, want %s: %s", __LINE__, qlm_status_name(got_),              \
                     qlm_status_name(code), qlm_errmsg());                                         \
    } while (0)

static uint64_t h64(size_t off) { return qlm_rd64(g_img + off); }

/* Set a header field (4 or 8 bytes), reseal everything, expect `code`. */
static void header_case(int line, size_t off, int width, uint64_t v, qlm_status code)
{
    uint8_t *c = copy();
    if (width == 4)
        qlm_wr32(c + off, (uint32_t)v);
    else
        qlm_wr64(c + off, v);
    qlm_layout_seal(c, g_size);
    qlm_status got = try_open(c, g_size);
    if (got != code)
        fail_msg("line %d: header field @%zu = %llu: got %s, want %s: %s", line, off, (unsigned long long)v,
                 qlm_status_name(got), qlm_status_name(code), qlm_errmsg());
    free(c);
}
#define HDR(off, w, v, code) header_case(__LINE__, off, w, v, code)

static void test_valid_base(void **state)
{
    (void)state;
    EXPECT(g_img, g_size, QLM_OK);
    uint8_t *c = copy();
    qlm_layout_seal(c, g_size); /* sealing a valid file changes nothing */
    assert_memory_equal(c, g_img, g_size);
    free(c);
}

static void test_truncation(void **state)
{
    (void)state;
    for (size_t n = 0; n < QLM_HEADER_SIZE; n++)
        EXPECT(g_img, n, QLM_E_TRUNCATED); /* every header prefix matches the magic */
    /* section and tensor boundaries, +-1 */
    uint64_t cuts[64];
    size_t nc = 0;
    cuts[nc++] = h64(QLM_H_META_OFF);
    cuts[nc++] = h64(QLM_H_DIR_OFF);
    cuts[nc++] = h64(QLM_H_DIR_OFF) + h64(QLM_H_DIR_SIZE);
    cuts[nc++] = h64(QLM_H_DATA_OFF);
    qlm_file *f;
    assert_ok(qlm_file_open_mem(g_img, g_size, &f));
    for (size_t i = 0; i < qlm_file_n_tensors(f); i++) {
        cuts[nc++] = qlm_file_tensor(f, i)->offset;
        cuts[nc++] = qlm_file_tensor(f, i)->offset + qlm_file_tensor(f, i)->nbytes;
    }
    qlm_file_close(f);
    for (size_t i = 0; i < nc; i++)
        for (int d = -1; d <= 1; d++)
            if (cuts[i] + d >= QLM_HEADER_SIZE && cuts[i] + d < g_size)
                EXPECT(g_img, cuts[i] + d, QLM_E_TRUNCATED);
    uint64_t s = 12345;
    for (int i = 0; i < 200; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        EXPECT(g_img, QLM_HEADER_SIZE + (s >> 33) % (g_size - QLM_HEADER_SIZE), QLM_E_TRUNCATED);
    }
    /* a trailing byte is not a valid file either */
    uint8_t *c = malloc(g_size + 1);
    memcpy(c, g_img, g_size);
    c[g_size] = 0;
    EXPECT(c, g_size + 1, QLM_E_SIZE);
    free(c);
}

static void test_header_magic_version_checksum(void **state)
{
    (void)state;
    for (size_t i = 0; i < QLM_MAGIC_LEN; i++) {
        uint8_t *c = copy();
        c[i] ^= 0x20;
        EXPECT(c, g_size, QLM_E_MAGIC);
        EXPECT(c, i + 1, QLM_E_MAGIC); /* a short file with a wrong prefix */
        free(c);
    }
    HDR(QLM_H_VERSION, 4, 0, QLM_E_VERSION);
    HDR(QLM_H_VERSION, 4, 2, QLM_E_VERSION);
    HDR(QLM_H_VERSION, 4, UINT32_MAX, QLM_E_VERSION);
    /* one flipped bit anywhere in the header's first 120 bytes (not magic/version) */
    for (size_t i = 12; i < QLM_HEADER_SIZE; i++) {
        uint8_t *c = copy();
        c[i] ^= 0x01;
        EXPECT(c, g_size, QLM_E_CHECKSUM);
        free(c);
    }
    /* metadata or directory byte flipped, header sums left alone */
    size_t spots[2] = {h64(QLM_H_META_OFF) + h64(QLM_H_META_SIZE) / 2, h64(QLM_H_DIR_OFF) + 5};
    for (int i = 0; i < 2; i++) {
        uint8_t *c = copy();
        c[spots[i]] ^= 0x40;
        EXPECT(c, g_size, QLM_E_CHECKSUM);
        free(c);
    }
    HDR(QLM_H_FLAGS, 4, 1, QLM_E_UNSUPPORTED);
    HDR(QLM_H_FLAGS, 4, UINT32_MAX, QLM_E_UNSUPPORTED);
    HDR(QLM_H_RESERVED, 8, 1, QLM_E_VALUE);
    HDR(QLM_H_RESERVED, 8, UINT64_MAX, QLM_E_VALUE);
}

/* Stored section checksums wrong while the header checksum is right. */
static void test_section_checksums(void **state)
{
    (void)state;
    size_t sums[2] = {QLM_H_META_SUM, QLM_H_DIR_SUM};
    for (int i = 0; i < 2; i++) {
        uint8_t *c = copy();
        c[sums[i]] ^= 1;
        qlm_wr64(c + QLM_H_HEADER_SUM, qlm_xxh64(c, QLM_H_HEADER_SUM, 0));
        EXPECT(c, g_size, QLM_E_CHECKSUM);
        free(c);
    }
}

static void test_header_sizes_counts(void **state)
{
    (void)state;
    const uint64_t size = g_size, max = UINT64_MAX;
    HDR(QLM_H_FILE_SIZE, 8, 0, QLM_E_SIZE);
    HDR(QLM_H_FILE_SIZE, 8, size - 1, QLM_E_SIZE);
    HDR(QLM_H_FILE_SIZE, 8, size + 1, QLM_E_TRUNCATED);
    HDR(QLM_H_FILE_SIZE, 8, max, QLM_E_TRUNCATED);

    uint64_t nm = h64(QLM_H_N_META), nt = h64(QLM_H_N_TENSORS);
    HDR(QLM_H_N_META, 8, 0, QLM_E_SIZE);            /* entries left over */
    HDR(QLM_H_N_META, 8, nm - 1, QLM_E_SIZE);
    HDR(QLM_H_N_META, 8, nm + 1, QLM_E_TRUNCATED);  /* reads past the section */
    HDR(QLM_H_N_META, 8, max, QLM_E_BOUNDS);        /* cannot fit: rejected before allocating */
    HDR(QLM_H_N_META, 8, max / QLM_META_MIN_ENTRY, QLM_E_BOUNDS);
    HDR(QLM_H_N_TENSORS, 8, 0, QLM_E_SIZE);
    HDR(QLM_H_N_TENSORS, 8, nt - 1, QLM_E_SIZE);
    HDR(QLM_H_N_TENSORS, 8, nt + 1, QLM_E_TRUNCATED);
    HDR(QLM_H_N_TENSORS, 8, max, QLM_E_BOUNDS);
    HDR(QLM_H_N_TENSORS, 8, h64(QLM_H_DIR_SIZE) / QLM_DIR_MIN_ENTRY + 1, QLM_E_BOUNDS);

    HDR(QLM_H_DATA_ALIGN, 4, 0, QLM_E_ALIGN);
    HDR(QLM_H_DATA_ALIGN, 4, 2048, QLM_E_ALIGN);
    HDR(QLM_H_DATA_ALIGN, 4, 4095, QLM_E_ALIGN);
    HDR(QLM_H_DATA_ALIGN, 4, 4097, QLM_E_ALIGN);
    HDR(QLM_H_DATA_ALIGN, 4, 8192, QLM_E_ALIGN); /* data_offset 4096 is not a multiple */
    HDR(QLM_H_DATA_ALIGN, 4, UINT32_MAX, QLM_E_ALIGN);
    HDR(QLM_H_TENSOR_ALIGN, 4, 0, QLM_E_ALIGN);
    HDR(QLM_H_TENSOR_ALIGN, 4, 32, QLM_E_ALIGN);
    HDR(QLM_H_TENSOR_ALIGN, 4, 65, QLM_E_ALIGN);
    HDR(QLM_H_TENSOR_ALIGN, 4, 8192, QLM_E_ALIGN); /* above data_align */
    HDR(QLM_H_TENSOR_ALIGN, 4, 4096, QLM_E_ALIGN); /* valid value; the second tensor is not on it */
    HDR(QLM_H_TENSOR_ALIGN, 4, UINT32_MAX, QLM_E_ALIGN);
}

static void test_header_sections(void **state)
{
    (void)state;
    const uint64_t size = g_size, max = UINT64_MAX;
    uint64_t mo = h64(QLM_H_META_OFF), ms = h64(QLM_H_META_SIZE);
    uint64_t d_o = h64(QLM_H_DIR_OFF), ds = h64(QLM_H_DIR_SIZE);
    uint64_t ao = h64(QLM_H_DATA_OFF), as = h64(QLM_H_DATA_SIZE);

    HDR(QLM_H_META_OFF, 8, 0, QLM_E_OVERLAP);       /* over the header */
    HDR(QLM_H_META_OFF, 8, mo - 1, QLM_E_OVERLAP);
    HDR(QLM_H_META_OFF, 8, mo + 1, QLM_E_OVERLAP);  /* now runs into the directory */
    HDR(QLM_H_META_OFF, 8, size, QLM_E_BOUNDS);
    HDR(QLM_H_META_OFF, 8, size + 1, QLM_E_BOUNDS);
    HDR(QLM_H_META_OFF, 8, max, QLM_E_BOUNDS);      /* offset + size overflows */
    HDR(QLM_H_META_SIZE, 8, 0, QLM_E_BOUNDS);       /* n_meta entries cannot fit in 0 bytes */
    HDR(QLM_H_META_SIZE, 8, ms - 1, QLM_E_TRUNCATED);
    HDR(QLM_H_META_SIZE, 8, ms + 1, QLM_E_OVERLAP);
    HDR(QLM_H_META_SIZE, 8, size, QLM_E_BOUNDS);
    HDR(QLM_H_META_SIZE, 8, max, QLM_E_BOUNDS);

    HDR(QLM_H_DIR_OFF, 8, 0, QLM_E_OVERLAP);
    HDR(QLM_H_DIR_OFF, 8, d_o - 1, QLM_E_OVERLAP);  /* over the last metadata byte */
    /* one byte late: name_len reads 00 00 00 't' = 0x74000000 */
    HDR(QLM_H_DIR_OFF, 8, d_o + 1, QLM_E_LIMIT);
    HDR(QLM_H_DIR_OFF, 8, size + 1, QLM_E_BOUNDS);
    HDR(QLM_H_DIR_OFF, 8, max, QLM_E_BOUNDS);
    HDR(QLM_H_DIR_SIZE, 8, 0, QLM_E_BOUNDS);
    HDR(QLM_H_DIR_SIZE, 8, ds - 1, QLM_E_TRUNCATED);
    HDR(QLM_H_DIR_SIZE, 8, ds + 1, QLM_E_SIZE);     /* a byte after the last entry */
    HDR(QLM_H_DIR_SIZE, 8, size, QLM_E_BOUNDS);
    HDR(QLM_H_DIR_SIZE, 8, max, QLM_E_BOUNDS);

    HDR(QLM_H_DATA_OFF, 8, 0, QLM_E_OVERLAP);
    HDR(QLM_H_DATA_OFF, 8, d_o, QLM_E_OVERLAP);
    HDR(QLM_H_DATA_OFF, 8, ao - 1, QLM_E_ALIGN);
    HDR(QLM_H_DATA_OFF, 8, ao + 1, QLM_E_BOUNDS);   /* with data_size, past EOF */
    HDR(QLM_H_DATA_OFF, 8, size + 1, QLM_E_BOUNDS);
    HDR(QLM_H_DATA_OFF, 8, max, QLM_E_BOUNDS);
    HDR(QLM_H_DATA_SIZE, 8, 0, QLM_E_SIZE);         /* data section must reach EOF */
    HDR(QLM_H_DATA_SIZE, 8, as - 1, QLM_E_SIZE);
    HDR(QLM_H_DATA_SIZE, 8, as + 1, QLM_E_BOUNDS);
    HDR(QLM_H_DATA_SIZE, 8, max, QLM_E_BOUNDS);
}

/* ---- directory ------------------------------------------------------------ */

/* Offset of entry `name`'s u32 name_len (the length-prefixed name is unique). */
static size_t dir_entry(const char *name)
{
    uint8_t pat[300];
    size_t n = strlen(name);
    qlm_wr32(pat, (uint32_t)n);
    memcpy(pat + 4, name, n);
    const uint8_t *d = g_img + h64(QLM_H_DIR_OFF);
    const uint8_t *p = memmem(d, h64(QLM_H_DIR_SIZE), pat, n + 4);
    assert_non_null(p);
    return (size_t)(p - g_img);
}

static size_t dir_tail(size_t i)
{
    const char *name = tu_fix_tensors[i].name;
    return dir_entry(name) + 4 + strlen(name);
}

static void dir_case(int line, size_t i, size_t field, int width, uint64_t v, qlm_status code)
{
    uint8_t *c = copy();
    size_t off = dir_tail(i) + field;
    if (width == 4)
        qlm_wr32(c + off, (uint32_t)v);
    else
        qlm_wr64(c + off, v);
    qlm_layout_seal(c, g_size);
    qlm_status got = try_open(c, g_size);
    if (got != code)
        fail_msg("line %d: tensor %zu field +%zu = %llu: got %s, want %s: %s", line, i, field,
                 (unsigned long long)v, qlm_status_name(got), qlm_status_name(code), qlm_errmsg());
    free(c);
}
#define DIR(i, field, w, v, code) dir_case(__LINE__, i, field, w, v, code)
#define DIM(k) (QLM_D_DIMS + 8 * (k))

static uint64_t tail64(size_t i, size_t field) { return qlm_rd64(g_img + dir_tail(i) + field); }

static void test_dir_dtype_rank_dims(void **state)
{
    (void)state;
    /* tensor 0: q8 {3, 64}; 2: f32 {7}; 5: i32 {1, 2, 1, 3} */
    DIR(0, QLM_D_DTYPE, 4, QLM_DT_COUNT_KNOWN, QLM_E_DTYPE);
    DIR(0, QLM_D_DTYPE, 4, 6, QLM_E_DTYPE);         /* unassigned */
    DIR(0, QLM_D_DTYPE, 4, 18, QLM_E_DTYPE);        /* reserved GPU id */
    DIR(0, QLM_D_DTYPE, 4, 22, QLM_E_DTYPE);
    DIR(0, QLM_D_DTYPE, 4, QLM_DT_FP8, QLM_OK);     /* {3,64}: 3 x (4 + 64) = 204 bytes, as q8 */
    DIR(0, QLM_D_DTYPE, 4, QLM_DT_MXFP4, QLM_E_SIZE); /* 6 blocks x 17 = 102 */
    DIR(0, QLM_D_DTYPE, 4, QLM_DT_NVFP4, QLM_E_SIZE); /* 4 + 12 x 9 = 112 */
    DIR(0, QLM_D_DTYPE, 4, QLM_DT_FP8_G128, QLM_E_SIZE); /* 64 is not a multiple of 128 */
    DIR(0, QLM_D_DTYPE, 4, QLM_DT_W4A16, QLM_E_SIZE);
    DIR(0, QLM_D_DTYPE, 4, 63, QLM_E_DTYPE);
    DIR(0, QLM_D_DTYPE, 4, UINT32_MAX, QLM_E_DTYPE);
    DIR(0, QLM_D_DTYPE, 4, QLM_DT_F32, QLM_E_SIZE); /* f32 x {3,64} is not 204 bytes */
    DIR(2, QLM_D_DTYPE, 4, QLM_DT_F16, QLM_E_SIZE);
    DIR(2, QLM_D_DTYPE, 4, QLM_DT_Q8, QLM_E_SIZE);  /* innermost 7 not a multiple of 32 */
    DIR(0, QLM_D_RANK, 4, 0, QLM_E_SHAPE);
    DIR(0, QLM_D_RANK, 4, 5, QLM_E_OVERFLOW);
    DIR(0, QLM_D_RANK, 4, UINT32_MAX, QLM_E_OVERFLOW);
    DIR(0, QLM_D_RANK, 4, 1, QLM_E_SIZE);           /* q8 {3}: not a multiple of 32 */
    DIR(2, QLM_D_RANK, 4, 2, QLM_E_SHAPE);          /* f32 {7, 0} */
    DIR(5, QLM_D_RANK, 4, 3, QLM_E_SHAPE);          /* unused dim 3 is not 0 */
    DIR(0, DIM(0), 8, 0, QLM_E_SHAPE);
    DIR(0, DIM(1), 8, 0, QLM_E_SHAPE);
    DIR(0, DIM(0), 8, 4, QLM_E_SIZE);               /* off by one: nbytes no longer matches */
    DIR(0, DIM(0), 8, 2, QLM_E_SIZE);
    DIR(0, DIM(1), 8, 63, QLM_E_SIZE);
    DIR(0, DIM(1), 8, 96, QLM_E_SIZE);
    DIR(0, DIM(0), 8, UINT64_MAX, QLM_E_OVERFLOW);
    DIR(0, DIM(0), 8, 1ull << 59, QLM_E_OVERFLOW);  /* 2^59 * 64 elements overflow 2^64 */
    DIR(5, DIM(0), 8, 1ull << 62, QLM_E_OVERFLOW);  /* count 6*2^62 */
    DIR(2, DIM(0), 8, 1ull << 62, QLM_E_OVERFLOW);  /* count fits, bytes 2^64 do not */
    DIR(2, DIM(1), 8, 1, QLM_E_SHAPE);              /* unused dim must be 0 */
    DIR(2, DIM(3), 8, UINT64_MAX, QLM_E_SHAPE);
}

static void test_dir_offsets(void **state)
{
    (void)state;
    uint64_t off0 = tail64(0, QLM_D_OFFSET), off1 = tail64(1, QLM_D_OFFSET);
    uint64_t last = tu_fix_n_tensors - 1, lastoff = tail64(last, QLM_D_OFFSET);
    uint64_t d_o = h64(QLM_H_DIR_OFF), dend = d_o + h64(QLM_H_DIR_SIZE), ao = h64(QLM_H_DATA_OFF);
    DIR(0, QLM_D_OFFSET, 8, 0, QLM_E_OVERLAP);            /* the header */
    DIR(0, QLM_D_OFFSET, 8, 128, QLM_E_OVERLAP);          /* the metadata */
    DIR(0, QLM_D_OFFSET, 8, (d_o + 63) / 64 * 64, QLM_E_OVERLAP); /* the directory */
    DIR(0, QLM_D_OFFSET, 8, (dend + 63) / 64 * 64, QLM_E_BOUNDS); /* padding before data */
    DIR(0, QLM_D_OFFSET, 8, ao - 64, QLM_E_BOUNDS);
    DIR(0, QLM_D_OFFSET, 8, off0 + 1, QLM_E_ALIGN);
    DIR(0, QLM_D_OFFSET, 8, off0 - 1, QLM_E_ALIGN);
    DIR(0, QLM_D_OFFSET, 8, off0 + 64, QLM_E_OVERLAP);    /* runs into tensor 1 */
    DIR(1, QLM_D_OFFSET, 8, off0, QLM_E_OVERLAP);         /* same place as tensor 0 */
    DIR(1, QLM_D_OFFSET, 8, off1 - 64, QLM_E_OVERLAP);
    DIR(last, QLM_D_OFFSET, 8, lastoff + 64, QLM_E_BOUNDS); /* ends past EOF */
    DIR(0, QLM_D_OFFSET, 8, (g_size + 63) / 64 * 64, QLM_E_BOUNDS);
    DIR(0, QLM_D_OFFSET, 8, UINT64_MAX & ~63ull, QLM_E_BOUNDS); /* offset + nbytes overflows */
    DIR(0, QLM_D_OFFSET, 8, UINT64_MAX, QLM_E_ALIGN);
    uint64_t nb = tail64(0, QLM_D_NBYTES);
    DIR(0, QLM_D_NBYTES, 8, 0, QLM_E_SIZE);
    DIR(0, QLM_D_NBYTES, 8, nb - 1, QLM_E_SIZE);
    DIR(0, QLM_D_NBYTES, 8, nb + 1, QLM_E_SIZE);
    DIR(0, QLM_D_NBYTES, 8, UINT64_MAX, QLM_E_SIZE);
    /* a wrong stored checksum opens fine and fails verification */
    DIR(3, QLM_D_CHECKSUM, 8, tail64(3, QLM_D_CHECKSUM) ^ 1, QLM_OK);
}

static void test_dir_checksum_verify(void **state)
{
    (void)state;
    for (int pass = 0; pass < 2; pass++) {
        uint8_t *c = copy();
        if (pass == 0)
            qlm_wr64(c + dir_tail(3) + QLM_D_CHECKSUM, tail64(3, QLM_D_CHECKSUM) + 1);
        else
            c[tail64(3, QLM_D_OFFSET) + 7] ^= 0x80; /* a data byte of tensor 3 */
        qlm_layout_seal(c, g_size);
        qlm_file *f;
        assert_ok(qlm_file_open_mem(c, g_size, &f));
        for (size_t i = 0; i < qlm_file_n_tensors(f); i++)
            assert_status(qlm_file_verify(f, qlm_file_tensor(f, i)), i == 3 ? QLM_E_CHECKSUM : QLM_OK);
        assert_status(qlm_file_verify(f, NULL), QLM_E_CHECKSUM);
        assert_non_null(strstr(qlm_errmsg(), tu_fix_tensors[3].name));
        qlm_file_close(f);
        free(c);
    }
}

/* Overwrite `n` bytes at `off`, reseal, expect. */
static void bytes_case(int line, size_t off, const void *bytes, size_t n, qlm_status code)
{
    uint8_t *c = copy();
    memcpy(c + off, bytes, n);
    qlm_layout_seal(c, g_size);
    qlm_status got = try_open(c, g_size);
    if (got != code)
        fail_msg("line %d: bytes @%zu: got %s, want %s: %s", line, off, qlm_status_name(got),
                 qlm_status_name(code), qlm_errmsg());
    free(c);
}
#define BYTES(off, b, n, code) bytes_case(__LINE__, off, b, n, code)

static void put_len(size_t off, uint32_t v, qlm_status code, int line)
{
    uint8_t b[4];
    qlm_wr32(b, v);
    bytes_case(line, off, b, 4, code);
}
#define LEN(off, v, code) put_len(off, v, code, __LINE__)

static void test_dir_names(void **state)
{
    (void)state;
    size_t e0 = dir_entry(tu_fix_tensors[0].name), n0 = strlen(tu_fix_tensors[0].name);
    LEN(e0, 0, QLM_E_VALUE);
    LEN(e0, QLM_MAX_NAME + 1, QLM_E_LIMIT);
    LEN(e0, UINT32_MAX, QLM_E_LIMIT);
    LEN(e0, (uint32_t)n0 + 1, QLM_E_DTYPE);  /* name swallows a dtype byte: dtype 0x02000000 */
    LEN(e0, (uint32_t)n0 - 1, QLM_E_DTYPE);  /* dtype read from the last name byte onward */
    BYTES(e0 + 4, "\xff", 1, QLM_E_UTF8);
    BYTES(e0 + 4 + 2, "\x00", 1, QLM_E_UTF8);      /* embedded NUL */
    BYTES(e0 + 4, "\xc0\xaf", 2, QLM_E_UTF8);      /* overlong '/' */
    BYTES(e0 + 4, "\xed\xa0\x80", 3, QLM_E_UTF8);  /* surrogate */
    BYTES(e0 + 4 + n0 - 1, "\xe2", 1, QLM_E_UTF8); /* truncated sequence at the end */
    /* tensors 3 and 4 have names of equal length: make them equal */
    const char *a = tu_fix_tensors[3].name, *b = tu_fix_tensors[4].name;
    assert_int_equal(strlen(a), strlen(b));
    BYTES(dir_entry(b) + 4, a, strlen(a), QLM_E_DUPLICATE);
}

/* ---- metadata ------------------------------------------------------------- */

static size_t meta_entry(const char *key)
{
    uint8_t pat[300];
    size_t n = strlen(key);
    qlm_wr32(pat, (uint32_t)n);
    memcpy(pat + 4, key, n);
    const uint8_t *m = g_img + h64(QLM_H_META_OFF);
    const uint8_t *p = memmem(m, h64(QLM_H_META_SIZE), pat, n + 4);
    assert_non_null(p);
    return (size_t)(p - g_img);
}

/* Offset of the value (after key and type) of `key`. */
static size_t meta_val(const char *key) { return meta_entry(key) + 4 + strlen(key) + 4; }

static void test_meta_keys(void **state)
{
    (void)state;
    size_t e = meta_entry("t.bool");
    LEN(e, 0, QLM_E_VALUE);
    LEN(e, QLM_MAX_NAME + 1, QLM_E_LIMIT);
    LEN(e, UINT32_MAX, QLM_E_LIMIT);
    BYTES(e + 4, "\xff", 1, QLM_E_UTF8);
    BYTES(e + 5, "\x00", 1, QLM_E_UTF8);
    BYTES(e + 4, "\xf4\x90\x80\x80", 4, QLM_E_UTF8); /* above U+10FFFF */
    BYTES(meta_entry("t.i64") + 4, "t.u64", 5, QLM_E_DUPLICATE);
    LEN(e + 4 + 6, QLM_MT_ARRAY + 1, QLM_E_DTYPE);   /* type */
    LEN(e + 4 + 6, UINT32_MAX, QLM_E_DTYPE);
}

static void test_meta_values(void **state)
{
    (void)state;
    BYTES(meta_val("t.bool"), "\x02", 1, QLM_E_VALUE);
    BYTES(meta_val("t.bool"), "\xff", 1, QLM_E_VALUE);
    BYTES(meta_val("t.a.bool") + 12 + 2, "\x02", 1, QLM_E_VALUE); /* elem, count, then bytes */
    size_t s = meta_val("t.str");
    LEN(s, QLM_MAX_STR + 1, QLM_E_LIMIT);
    LEN(s, UINT32_MAX, QLM_E_LIMIT);
    LEN(s, QLM_MAX_STR, QLM_E_TRUNCATED);        /* allowed length, but past the section */
    BYTES(s + 4 + 2, "\xc3", 1, QLM_E_UTF8);     /* "h\xc3\xa9" -> "h\xc3\xc3" */
    BYTES(s + 4, "\x80", 1, QLM_E_UTF8);         /* lone continuation byte */
    /* string array: elem type, count, then strings "a", "", ... */
    size_t a = meta_val("t.a.str");
    BYTES(a + 12 + 4, "\xfe", 1, QLM_E_UTF8);
    LEN(a + 12, QLM_MAX_STR + 1, QLM_E_LIMIT);
    LEN(a + 12, 1000, QLM_E_TRUNCATED);
    LEN(a, QLM_MT_ARRAY, QLM_E_DTYPE);           /* nested arrays */
    LEN(a, QLM_MT_ARRAY + 1, QLM_E_DTYPE);
    LEN(a, UINT32_MAX, QLM_E_DTYPE);
    uint8_t cnt[8];
    qlm_wr64(cnt, 5); /* it is the last entry: a fifth string runs past the section */
    BYTES(a + 4, cnt, 8, QLM_E_TRUNCATED);
    qlm_wr64(cnt, UINT64_MAX);
    BYTES(a + 4, cnt, 8, QLM_E_TRUNCATED);
    BYTES(meta_val("t.a.f64") + 4, cnt, 8, QLM_E_TRUNCATED); /* count * 8 overflows */
    qlm_wr64(cnt, 1ull << 62);
    BYTES(meta_val("t.a.i32") + 4, cnt, 8, QLM_E_TRUNCATED);
    qlm_wr64(cnt, 1ull << 61);
    BYTES(meta_val("t.a.u64") + 4, cnt, 8, QLM_E_TRUNCATED);
}

static void test_open_path_errors(void **state)
{
    (void)state;
    qlm_file *f;
    assert_status(qlm_file_open(tu_tmp("does-not-exist.qlm"), &f), QLM_E_IO);
    assert_status(qlm_file_open(tu_tmpdir(), &f), QLM_E_IO);
    FILE *fp = fopen(tu_tmp("empty"), "wb");
    fclose(fp);
    assert_status(qlm_file_open(tu_tmp("empty"), &f), QLM_E_TRUNCATED);
    assert_non_null(strstr(qlm_errmsg(), "empty")); /* the message names the file */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_base),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_header_magic_version_checksum),
        cmocka_unit_test(test_section_checksums),
        cmocka_unit_test(test_header_sizes_counts),
        cmocka_unit_test(test_header_sections),
        cmocka_unit_test(test_dir_dtype_rank_dims),
        cmocka_unit_test(test_dir_offsets),
        cmocka_unit_test(test_dir_checksum_verify),
        cmocka_unit_test(test_dir_names),
        cmocka_unit_test(test_meta_keys),
        cmocka_unit_test(test_meta_values),
        cmocka_unit_test(test_open_path_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
