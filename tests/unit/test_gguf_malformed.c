/* GGUF reader on malformed input: files from the independent test writer
 * with one field wrong, and the real stories260K GGUF truncated at every
 * header byte, corrupted field by field, and randomly bit-flipped. Each case
 * must give its specific error code (never a crash or leak: run under make asan). */
#include <stdlib.h>
#include <string.h>

#include "formats/gguf/gguf.h"
#include "tests/common/ggufbuild.h"
#include "tests/common/testutil.h"

static qlm_status open_buf(const gb_buf *b, gguf_file **g) { return gguf_open_mem(b->buf, b->len, g); }

/* One tensor with the given n_dims / ne / type, and 64 data bytes. */
static qlm_status open_one_tensor(uint32_t n_dims, const uint64_t *ne, uint32_t type, const char *name)
{
    gb_buf b = {0};
    gb_header(&b, 3, 1, 0);
    gb_tensor(&b, name, n_dims, ne, type, 0);
    gb_pad(&b, 32);
    uint8_t data[64] = {0};
    gb_bytes(&b, data, sizeof data);
    gguf_file *g = NULL;
    qlm_status st = open_buf(&b, &g);
    gguf_close(g);
    gb_free(&b);
    return st;
}

static void test_built_bad_tensors(void **state)
{
    (void)state;
    uint64_t ok[5] = {4, 2, 1, 2, 1}, zero[2] = {4, 0}, big[4] = {1ull << 32, 1ull << 32, 1, 1};
    uint64_t q20[1] = {20};
    assert_ok(open_one_tensor(4, ok, GGML_F32, "t"));
    assert_ok(open_one_tensor(4, ok, 99, "t")); /* unknown type: listed, not sized */
    assert_status(open_one_tensor(4, big, 99, "t"), QLM_E_OVERFLOW);
    assert_status(open_one_tensor(0, ok, GGML_F32, "t"), QLM_E_SHAPE);
    assert_status(open_one_tensor(5, ok, GGML_F32, "t"), QLM_E_OVERFLOW);
    assert_status(open_one_tensor(2, zero, GGML_F32, "t"), QLM_E_SHAPE);
    assert_status(open_one_tensor(4, big, GGML_F32, "t"), QLM_E_OVERFLOW);
    assert_status(open_one_tensor(1, q20, GGML_Q4_0, "t"), QLM_E_SIZE);
    assert_status(open_one_tensor(1, ok, GGML_F32, "t\xc3"), QLM_E_UTF8);
    char longname[300];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    assert_status(open_one_tensor(1, ok, GGML_F32, longname), QLM_E_LIMIT);

    gb_buf b = {0};
    gguf_file *g;
    gb_header(&b, 3, 2, 0);
    gb_tensor(&b, "t", 1, ok, GGML_F32, 0);
    gb_tensor(&b, "t", 1, ok, GGML_F32, 32);
    gb_pad(&b, 32);
    gb_bytes(&b, longname, 64);
    assert_status(open_buf(&b, &g), QLM_E_DUPLICATE);
    gb_free(&b);
}

static void test_built_bad_metadata(void **state)
{
    (void)state;
    gb_buf b = {0};
    gguf_file *g;
    struct { uint32_t version; qlm_status want; } ver[] = {{1, QLM_E_VERSION}, {4, QLM_E_VERSION},
                                                         {0x03000000u, QLM_E_VERSION}, {3, QLM_OK}};
    for (size_t i = 0; i < 4; i++) {
        gb_header(&b, ver[i].version, 0, 0);
        assert_status(open_buf(&b, &g), ver[i].want);
        if (!ver[i].want)
            gguf_close(g);
        gb_free(&b);
    }
    gb_header(&b, 3, 0, 2);
    gb_kv_u32(&b, "k", 1);
    gb_kv_u32(&b, "k", 2);
    assert_status(open_buf(&b, &g), QLM_E_DUPLICATE);
    gb_free(&b);
    gb_header(&b, 3, 0, 1);
    gb_kv_u32(&b, "k\xff", 1);
    assert_status(open_buf(&b, &g), QLM_E_UTF8);
    gb_free(&b);
    gb_header(&b, 3, 0, 1);
    gb_key(&b, "k", 13);
    gb_u32(&b, 0);
    assert_status(open_buf(&b, &g), QLM_E_DTYPE);
    gb_free(&b);
    gb_header(&b, 3, 0, 1);
    gb_key(&b, "nested", GGUF_T_ARRAY);
    gb_u32(&b, GGUF_T_ARRAY);
    gb_u64(&b, 1);
    gb_u32(&b, GGUF_T_U8);
    gb_u64(&b, 1);
    gb_bytes(&b, "x", 1);
    assert_status(open_buf(&b, &g), QLM_E_UNSUPPORTED);
    gb_free(&b);
    gb_header(&b, 3, 0, 1);
    gb_key(&b, "s", GGUF_T_STRING);
    gb_u64(&b, UINT64_MAX);
    gb_bytes(&b, "abcdefgh", 8);
    assert_status(open_buf(&b, &g), QLM_E_TRUNCATED);
    gb_free(&b);
    gb_header(&b, 3, 0, 1);
    gb_key(&b, "arr", GGUF_T_ARRAY);
    gb_u32(&b, GGUF_T_U64);
    gb_u64(&b, UINT64_MAX / 4); /* count * 8 overflows */
    gb_bytes(&b, "abcdefgh", 8);
    assert_status(open_buf(&b, &g), QLM_E_TRUNCATED);
    gb_free(&b);
    gb_header(&b, 3, 0, 1);
    gb_key(&b, "arr", GGUF_T_ARRAY);
    gb_u32(&b, GGUF_T_STRING);
    gb_u64(&b, 1ull << 61); /* would need 2^64 bytes of lengths */
    assert_status(open_buf(&b, &g), QLM_E_TRUNCATED);
    gb_free(&b);
    gb_header(&b, 3, UINT64_MAX, UINT64_MAX);
    assert_status(open_buf(&b, &g), QLM_E_TRUNCATED);
    gb_free(&b);
    gb_bytes(&b, "GGUG\x03\0\0\0", 8);
    assert_status(open_buf(&b, &g), QLM_E_MAGIC);
    gb_free(&b);
    assert_status(gguf_open_mem(NULL, 0, &g), QLM_E_TRUNCATED);
    assert_null(g);
    assert_status(gguf_open("/nonexistent/x.gguf", &g), QLM_E_IO);
}

/* ---- malformed variants of a real file ---- */

static size_t data_start_of(const gguf_file *g, const uint8_t *base)
{
    size_t lo = SIZE_MAX;
    for (size_t i = 0; i < gguf_n_tensors(g); i++) {
        size_t o = (size_t)((const uint8_t *)gguf_tensor_at(g, i)->data - base);
        if (o < lo)
            lo = o;
    }
    return lo;
}

/* Every truncation of the header region and many of the data region. */
static void test_real_truncated(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = (uint8_t *)tu_read(tu_shared("models/stories260K/stories260K-q4_0.gguf"), &len);
    gguf_file *g;
    assert_ok(gguf_open_mem(buf, len, &g));
    size_t ds = data_start_of(g, buf), de = 0;
    for (size_t i = 0; i < gguf_n_tensors(g); i++) {
        const gguf_tensor *t = gguf_tensor_at(g, i);
        size_t end = (size_t)((const uint8_t *)t->data - buf) + t->nbytes;
        de = end > de ? end : de;
    }
    gguf_close(g);
    assert_true(ds > 1000 && ds % 32 == 0);
    for (size_t cut = 0; cut < len; cut += cut < ds ? 1 : 97) {
        qlm_status st = gguf_open_mem(buf, cut, &g);
        if (cut + 32 <= ds && st != QLM_E_TRUNCATED)
            fail_msg("cut at %zu/%zu: %s (%s)", cut, ds, qlm_status_name(st), qlm_errmsg());
        if (cut >= de) { /* only trailing padding lost */
            assert_ok(st);
            gguf_close(g);
        } else if (cut + 32 > ds && st != QLM_E_TRUNCATED && st != QLM_E_BOUNDS)
            fail_msg("cut at %zu: %s (%s)", cut, qlm_status_name(st), qlm_errmsg());
    }
    free(buf);
}

/* Locate a tensor's info record in the file: its name with length prefix. */
static uint8_t *tensor_info(uint8_t *buf, size_t len, const char *name)
{
    uint8_t pat[80];
    uint64_t n = strlen(name);
    memcpy(pat, &n, 8);
    memcpy(pat + 8, name, n);
    uint8_t *p = memmem(buf, len, pat, 8 + n);
    if (!p)
        fail_msg("tensor info of %s not found", name);
    return p + 8 + n; /* at n_dims */
}

typedef void (*mutate_fn)(uint8_t *buf, size_t len);

static void mut_magic(uint8_t *b, size_t n) { (void)n; b[0] = 'g'; }
static void mut_version(uint8_t *b, size_t n) { (void)n; b[4] = 1; }
static void mut_n_tensors(uint8_t *b, size_t n) { (void)n; b[15] = 0x10; }
static void mut_n_kv(uint8_t *b, size_t n) { (void)n; b[20] = 0xff; }
static void mut_rank(uint8_t *b, size_t n) { tensor_info(b, n, "blk.0.attn_q.weight")[0] = 7; }
static void mut_dim0(uint8_t *b, size_t n) { memset(tensor_info(b, n, "blk.0.attn_q.weight") + 4, 0, 8); }
static void mut_type_size(uint8_t *b, size_t n)
{
    tensor_info(b, n, "blk.1.attn_q.weight")[4 + 16] = GGML_F32; /* Q4_0 -> F32: 9x larger */
}
static void mut_offset_misaligned(uint8_t *b, size_t n) { tensor_info(b, n, "blk.1.attn_q.weight")[4 + 16 + 4] += 2; }
static void mut_offset_past_end(uint8_t *b, size_t n) { tensor_info(b, n, "output_norm.weight")[4 + 8 + 4 + 6] = 0x40; }
static void mut_offset_overlap(uint8_t *b, size_t n)
{
    uint8_t *q = tensor_info(b, n, "blk.0.attn_q.weight"), *k = tensor_info(b, n, "blk.0.attn_k.weight");
    memcpy(q + 4 + 16 + 4, k + 4 + 16 + 4, 8);
}
static void mut_dup_name(uint8_t *b, size_t n)
{
    memcpy(tensor_info(b, n, "blk.0.attn_q.weight") - 19, "blk.0.attn_k", 12);
}
static void mut_dup_key(uint8_t *b, size_t n)
{
    uint8_t *p = memmem(b, n, "llama.block_count", 17);
    memcpy(p, "general.file_type", 17);
}
static void mut_key_utf8(uint8_t *b, size_t n) { ((uint8_t *)memmem(b, n, "llama.block_count", 17))[3] = 0xC0; }
static void mut_value_type(uint8_t *b, size_t n) { ((uint8_t *)memmem(b, n, "llama.block_count", 17))[17] = 42; }
static void mut_nested(uint8_t *b, size_t n)
{
    uint8_t *p = memmem(b, n, "tokenizer.ggml.scores", 21);
    p[21 + 4] = GGUF_T_ARRAY; /* element type of the array */
}
static void mut_string_len(uint8_t *b, size_t n)
{
    uint8_t *p = memmem(b, n, "general.architecture", 20);
    p[20 + 4 + 7] = 0x7f; /* value string length ~2^63 */
}
static void mut_array_len(uint8_t *b, size_t n)
{
    uint8_t *p = memmem(b, n, "tokenizer.ggml.token_type", 25);
    p[25 + 4 + 4 + 5] = 0x01; /* count += 2^40 */
}

static void test_real_mutations(void **state)
{
    (void)state;
    struct { const char *what; mutate_fn fn; qlm_status want; } m[] = {
        {"magic", mut_magic, QLM_E_MAGIC},
        {"version 1", mut_version, QLM_E_VERSION},
        {"tensor count", mut_n_tensors, QLM_E_TRUNCATED},
        {"kv count", mut_n_kv, QLM_E_TRUNCATED},
        {"rank 7", mut_rank, QLM_E_OVERFLOW},
        {"dim 0", mut_dim0, QLM_E_SHAPE},
        {"type changes size", mut_type_size, QLM_E_OVERLAP},
        {"misaligned offset", mut_offset_misaligned, QLM_E_ALIGN},
        {"offset past end", mut_offset_past_end, QLM_E_BOUNDS},
        {"overlapping offsets", mut_offset_overlap, QLM_E_OVERLAP},
        {"duplicate tensor", mut_dup_name, QLM_E_DUPLICATE},
        {"duplicate key", mut_dup_key, QLM_E_DUPLICATE},
        {"key not UTF-8", mut_key_utf8, QLM_E_UTF8},
        {"value type", mut_value_type, QLM_E_DTYPE},
        {"nested array", mut_nested, QLM_E_UNSUPPORTED},
        {"string length", mut_string_len, QLM_E_TRUNCATED},
        {"array length", mut_array_len, QLM_E_TRUNCATED},
    };
    size_t len;
    uint8_t *orig = (uint8_t *)tu_read(tu_shared("models/stories260K/stories260K-q4_0.gguf"), &len);
    uint8_t *buf = malloc(len);
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        memcpy(buf, orig, len);
        m[i].fn(buf, len);
        gguf_file *g = NULL;
        qlm_status st = gguf_open_mem(buf, len, &g);
        if (st != m[i].want)
            fail_msg("%s: got %s (%s), want %s", m[i].what, qlm_status_name(st), qlm_errmsg(),
                     qlm_status_name(m[i].want));
        assert_null(g);
        assert_true(strncmp(qlm_errmsg(), "gguf: ", 6) == 0);
    }
    free(buf);
    free(orig);
}

/* Random byte flips in the header region: any outcome but a crash or leak. */
static void test_real_random_flips(void **state)
{
    (void)state;
    size_t len;
    uint8_t *orig = (uint8_t *)tu_read(tu_shared("models/stories260K/stories260K-q8_0.gguf"), &len);
    uint8_t *buf = malloc(len);
    uint64_t rng = 0x9E3779B97F4A7C15ull;
    for (int it = 0; it < 3000; it++) {
        memcpy(buf, orig, len);
        for (int k = 0; k < 3; k++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            size_t pos = (size_t)(rng >> 33) % 12000;
            buf[pos] ^= (uint8_t)(1u << ((rng >> 20) & 7));
        }
        gguf_file *g = NULL;
        if (gguf_open_mem(buf, len, &g) == QLM_OK) {
            for (size_t i = 0; i < gguf_n_tensors(g); i++)
                assert_true(gguf_tensor_at(g, i)->nbytes <= len);
            gguf_close(g);
        } else {
            assert_null(g);
            assert_true(qlm_errmsg()[0] != 0);
        }
    }
    free(buf);
    free(orig);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_built_bad_tensors),
        cmocka_unit_test(test_built_bad_metadata),
        cmocka_unit_test(test_real_truncated),
        cmocka_unit_test(test_real_mutations),
        cmocka_unit_test(test_real_random_flips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
