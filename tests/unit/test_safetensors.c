/* safetensors reader: valid files, every malformation class with its named
 * error, the writer round trip, and sharded folders. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "formats/safetensors/safetensors.h"
#include "tests/common/testutil.h"

/* 8-byte LE header length + header + `data_bytes` bytes counting 0,1,2,... */
static unsigned char *image(const char *header, size_t data_bytes, size_t *size)
{
    size_t h = strlen(header);
    *size = 8 + h + data_bytes;
    unsigned char *b = malloc(*size);
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)h >> (8 * i));
    memcpy(b + 8, header, h);
    for (size_t i = 0; i < data_bytes; i++)
        b[8 + h + i] = (unsigned char)i;
    return b;
}

static qlm_status open_header(const char *header, size_t data_bytes)
{
    size_t size;
    unsigned char *b = image(header, data_bytes, &size);
    qlm_st *st = NULL;
    qlm_status rc = qlm_st_open_mem(b, size, &st);
    qlm_st_close(st);
    free(b);
    return rc;
}

static void test_valid(void **state)
{
    (void)state;
    const char *h = "{\"b\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[24,32]},"
                    "\"__metadata__\":{\"format\":\"pt\"},"
                    "\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                    "\"e\":{\"dtype\":\"F16\",\"shape\":[0,5],\"data_offsets\":[32,32]}}";
    size_t size;
    unsigned char *b = image(h, 32, &size);
    qlm_st *st;
    assert_ok(qlm_st_open_mem(b, size, &st));
    assert_int_equal(qlm_st_count(st), 3);
    const qlm_st_tensor *a = qlm_st_find(st, "a"), *bt = qlm_st_find(st, "b");
    assert_non_null(a);
    assert_non_null(bt);
    assert_null(qlm_st_find(st, "c"));
    assert_int_equal(a->dtype, QLM_ST_F32);
    assert_int_equal(a->rank, 2);
    assert_int_equal(a->dims[1], 3);
    assert_int_equal(a->n_elems, 6);
    assert_int_equal(a->nbytes, 24);
    assert_ptr_equal(a->data, b + 8 + strlen(h));
    assert_int_equal(bt->dtype, QLM_ST_BF16);
    assert_ptr_equal(bt->data, b + 8 + strlen(h) + 24);
    assert_int_equal(qlm_st_find(st, "e")->n_elems, 0);
    assert_int_equal(qlm_st_data_bytes(st), 32);
    qlm_st_close(st);
    free(b);
}

static void test_truncated(void **state)
{
    (void)state;
    unsigned char b[16] = {200, 0, 0, 0, 0, 0, 0, 0, '{', '}'};
    qlm_st *st;
    assert_status(qlm_st_open_mem(b, 5, &st), QLM_E_TRUNCATED);
    assert_status(qlm_st_open_mem(b, 10, &st), QLM_E_TRUNCATED); /* length 200 > file */
    b[0] = 0xFF;
    b[7] = 0xFF; /* length near 2^64: must not wrap */
    assert_status(qlm_st_open_mem(b, 16, &st), QLM_E_TRUNCATED);
    b[0] = 2;
    b[7] = 0;
    assert_ok(qlm_st_open_mem(b, 10, &st)); /* "{}": no tensors is valid */
    assert_int_equal(qlm_st_count(st), 0);
    qlm_st_close(st);
}

static void test_bad_json(void **state)
{
    (void)state;
    assert_status(open_header("{\"a\":", 0), QLM_E_JSON);
    assert_status(open_header("[1,2]", 0), QLM_E_JSON);
    assert_status(open_header("{\"a\":7}", 0), QLM_E_JSON);
    assert_status(open_header("{\"__metadata__\":3}", 0), QLM_E_JSON);
    assert_status(open_header("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4), QLM_E_MISSING);
    assert_status(open_header("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4), QLM_E_MISSING);
    assert_status(open_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4), QLM_E_MISSING);
    assert_status(open_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4), QLM_E_MISSING);
}

static void test_offsets(void **state)
{
    (void)state;
    assert_status(open_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 8), QLM_E_BOUNDS);
    assert_status(open_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 8), QLM_E_BOUNDS);
    assert_status(open_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 8), QLM_E_VALUE);
    assert_status(open_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8), QLM_E_SIZE);
    assert_status(open_header("{\"a\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[0,4]}}", 8), QLM_E_SIZE);
    assert_status(open_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                              "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                              8),
                  QLM_E_OVERLAP);
    assert_non_null(strstr(qlm_errmsg(), "overlap"));
}

static void test_dtype_and_shape(void **state)
{
    (void)state;
    assert_status(open_header("{\"w\":{\"dtype\":\"BOOL\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1), QLM_E_DTYPE);
    assert_non_null(strstr(qlm_errmsg(), "BOOL"));
    assert_non_null(strstr(qlm_errmsg(), "'w'"));
    /* integer types of quantized checkpoints: element sizes 1, 1, 2, 4, 4, 8 */
    static const char *const ints[] = {"I8", "U8", "I16", "I32", "U32", "I64"};
    static const size_t isz[] = {1, 1, 2, 4, 4, 8};
    for (int i = 0; i < 6; i++) {
        char h[160];
        snprintf(h, sizeof h, "{\"q\":{\"dtype\":\"%s\",\"shape\":[2,3],\"data_offsets\":[0,%zu]}}", ints[i],
                 6 * isz[i]);
        size_t size;
        unsigned char *b = image(h, 6 * isz[i], &size);
        qlm_st *st = NULL;
        assert_ok(qlm_st_open_mem(b, size, &st));
        const qlm_st_tensor *t = qlm_st_find(st, "q");
        assert_string_equal(qlm_st_dtype_name(t->dtype), ints[i]);
        assert_int_equal(qlm_st_dtype_size(t->dtype), isz[i]);
        assert_false(qlm_st_dtype_is_float(t->dtype));
        assert_int_equal(t->nbytes, 6 * isz[i]);
        qlm_st_close(st);
        free(b);
        /* one element short of dtype x shape */
        snprintf(h, sizeof h, "{\"q\":{\"dtype\":\"%s\",\"shape\":[2,3],\"data_offsets\":[0,%zu]}}", ints[i],
                 5 * isz[i]);
        assert_status(open_header(h, 6 * isz[i]), QLM_E_SIZE);
    }
    /* 2^32 x 2^32 x 2^32 elements: the product overflows */
    assert_status(open_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
                              "\"data_offsets\":[0,4]}}",
                              4),
                  QLM_E_OVERFLOW);
    /* 2^62 elements x 4 bytes overflows the byte size */
    assert_status(open_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],\"data_offsets\":[0,4]}}", 4),
                  QLM_E_OVERFLOW);
    assert_status(open_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4),
                  QLM_E_OVERFLOW);
    assert_status(open_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4), QLM_E_VALUE);
    assert_status(open_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4), QLM_E_VALUE);
    assert_status(open_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                              "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                              8),
                  QLM_E_DUPLICATE);
}

static void write_file(const char *path, const qlm_st_dtype *types, const char *const *names, size_t n,
                       const uint64_t *len)
{
    qlm_st_writer *w;
    assert_ok(qlm_st_writer_open(path, &w));
    for (size_t i = 0; i < n; i++)
        assert_ok(qlm_st_writer_add(w, names[i], types[i], 1, &len[i]));
    for (size_t i = 0; i < n; i++) {
        size_t bytes = (size_t)len[i] * (types[i] == QLM_ST_F32 ? 4 : 2);
        unsigned char *d = malloc(bytes);
        for (size_t k = 0; k < bytes; k++)
            d[k] = (unsigned char)(k * 7 + i);
        assert_ok(qlm_st_writer_data(w, d, bytes));
        free(d);
    }
    assert_ok(qlm_st_writer_finish(w));
}

static void test_writer_roundtrip(void **state)
{
    (void)state;
    const char *names[] = {"x.weight", "y\"quoted\"", "z"};
    qlm_st_dtype types[] = {QLM_ST_BF16, QLM_ST_F32, QLM_ST_F16};
    uint64_t len[] = {5, 3, 7};
    const char *path = tu_tmp("rt.safetensors");
    write_file(path, types, names, 3, len);
    qlm_st *st;
    assert_ok(qlm_st_open(path, &st));
    assert_int_equal(qlm_st_count(st), 3);
    for (size_t i = 0; i < 3; i++) {
        const qlm_st_tensor *t = qlm_st_find(st, names[i]);
        assert_non_null(t);
        assert_int_equal(t->dtype, types[i]);
        assert_int_equal(t->dims[0], len[i]);
        for (size_t k = 0; k < t->nbytes; k++)
            assert_int_equal(((const unsigned char *)t->data)[k], (unsigned char)(k * 7 + i));
    }
    qlm_st_close(st);
    /* data short of the declared size is refused and leaves no file */
    qlm_st_writer *w;
    const char *p2 = tu_tmp("short.safetensors");
    assert_ok(qlm_st_writer_open(p2, &w));
    assert_ok(qlm_st_writer_add(w, "a", QLM_ST_F32, 1, len));
    assert_ok(qlm_st_writer_data(w, "abcd", 4));
    assert_status(qlm_st_writer_finish(w), QLM_E_SIZE);
    struct stat sb;
    assert_true(stat(p2, &sb) != 0);
}

static void test_sharded(void **state)
{
    (void)state;
    char dir[1024], p[1200];
    snprintf(dir, sizeof dir, "%s", tu_tmp("sharded"));
    mkdir(dir, 0777);
    const char *n1[] = {"a", "b"}, *n2[] = {"c"};
    qlm_st_dtype t1[] = {QLM_ST_F32, QLM_ST_BF16}, t2[] = {QLM_ST_F16};
    uint64_t l1[] = {2, 3}, l2[] = {4};
    snprintf(p, sizeof p, "%s/model-00001-of-00002.safetensors", dir);
    write_file(p, t1, n1, 2, l1);
    snprintf(p, sizeof p, "%s/model-00002-of-00002.safetensors", dir);
    write_file(p, t2, n2, 1, l2);
    snprintf(p, sizeof p, "%s/model.safetensors.index.json", dir);
    tu_write(p, "{\"metadata\":{},\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\","
                  "\"c\":\"model-00002-of-00002.safetensors\",\"b\":\"model-00001-of-00002.safetensors\"}}");
    qlm_st *st;
    assert_ok(qlm_st_open_dir(dir, &st));
    assert_int_equal(qlm_st_count(st), 3);
    assert_int_equal(qlm_st_find(st, "c")->dtype, QLM_ST_F16);
    assert_int_equal(qlm_st_find(st, "b")->dims[0], 3);
    qlm_st_close(st);

    tu_write(p, "{\"weight_map\":{\"a\":\"model-00002-of-00002.safetensors\"}}");
    assert_status(qlm_st_open_dir(dir, &st), QLM_E_MISSING); /* a is not in shard 2 */
    tu_write(p, "{\"weight_map\":{\"a\":\"../model-00001-of-00002.safetensors\"}}");
    assert_status(qlm_st_open_dir(dir, &st), QLM_E_VALUE);
    tu_write(p, "{\"weight_map\":{\"a\":\"nope.safetensors\"}}");
    assert_status(qlm_st_open_dir(dir, &st), QLM_E_IO);
    tu_write(p, "{\"weights\":{}}");
    assert_status(qlm_st_open_dir(dir, &st), QLM_E_MISSING);
    /* the same tensor in two shards */
    snprintf(p, sizeof p, "%s/model-00002-of-00002.safetensors", dir);
    write_file(p, t1, n1, 1, l1);
    snprintf(p, sizeof p, "%s/model.safetensors.index.json", dir);
    tu_write(p, "{\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\","
                  "\"b\":\"model-00002-of-00002.safetensors\"}}");
    assert_status(qlm_st_open_dir(dir, &st), QLM_E_DUPLICATE);
    remove(p);
    assert_status(qlm_st_open_dir(dir, &st), QLM_E_MISSING); /* no index, no model.safetensors */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),   cmocka_unit_test(test_truncated),        cmocka_unit_test(test_bad_json),
        cmocka_unit_test(test_offsets), cmocka_unit_test(test_dtype_and_shape), cmocka_unit_test(test_writer_roundtrip),
        cmocka_unit_test(test_sharded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
