/* .qlm writer -> reader round trip: every dtype, every metadata type, tensor
 * bytes and alignment, typed getter conversions, writer misuse. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "formats/qlm/qlmfile.h"
#include "tests/common/qlmfixture.h"
#include "tests/common/testutil.h"

static qlm_file *open_fixture(const char *name)
{
    const char *path = tu_tmp(name);
    tu_qlm_fixture(path, tu_fix_n_tensors, 1);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    assert_int_not_equal(access(tmp, F_OK), 0); /* temp file renamed away */
    qlm_file *f;
    assert_ok(qlm_file_open(path, &f));
    return f;
}

static void test_tensors_roundtrip(void **state)
{
    (void)state;
    qlm_file *f = open_fixture("rt.qlm");
    assert_int_equal(qlm_file_version(f), 1);
    assert_int_equal(qlm_file_n_tensors(f), tu_fix_n_tensors);
    for (size_t i = 0; i < tu_fix_n_tensors; i++) {
        const tu_fix_tensor *want = &tu_fix_tensors[i];
        const qlm_tensor *t = qlm_file_tensor(f, i);
        assert_string_equal(t->name, want->name);
        assert_ptr_equal(qlm_file_find(f, want->name), t);
        assert_int_equal(t->dtype, want->dtype);
        assert_int_equal(t->rank, want->rank);
        uint64_t n = 1;
        for (uint32_t d = 0; d < QLM_MAX_RANK; d++) {
            assert_int_equal(t->dims[d], d < want->rank ? want->dims[d] : 0);
            n *= d < want->rank ? want->dims[d] : 1;
        }
        assert_int_equal(t->n_elems, n);
        assert_int_equal(t->nbytes, want->nbytes);
        assert_int_equal((uintptr_t)t->data % 64, 0);
        assert_int_equal(t->offset % 64, 0);
        uint8_t *buf = malloc(want->nbytes);
        tu_fix_data(i, buf, want->nbytes);
        assert_memory_equal(t->data, buf, want->nbytes);
        free(buf);
        assert_ok(qlm_file_verify(f, t));
    }
    assert_ok(qlm_file_verify(f, NULL));
    assert_null(qlm_file_find(f, "nope"));
    assert_null(qlm_file_tensor(f, tu_fix_n_tensors));
    qlm_file_close(f);
}

static void test_meta_scalars(void **state)
{
    (void)state;
    qlm_file *f = open_fixture("meta.qlm");
    int64_t i;
    double d;
    bool b;
    const char *s;
    size_t len;
    assert_ok(qlm_meta_i64(f, "t.i64", &i));
    assert_true(i == TU_FIX_I64);
    assert_status(qlm_meta_i64(f, "t.u64", &i), QLM_E_VALUE); /* 2^64-1 does not fit */
    assert_ok(qlm_meta_f64(f, "t.f64", &d));
    assert_true(d == TU_FIX_F64);
    assert_ok(qlm_meta_f64(f, "t.i64", &d)); /* integers widen to f64 */
    assert_true(d == (double)TU_FIX_I64);
    assert_ok(qlm_meta_f64(f, "t.u64", &d));
    assert_true(d == 18446744073709551616.0);
    assert_ok(qlm_meta_bool(f, "t.bool", &b));
    assert_true(b);
    assert_ok(qlm_meta_str(f, "t.str", &s, &len));
    assert_int_equal(len, strlen(TU_FIX_STR));
    assert_memory_equal(s, TU_FIX_STR, len);
    assert_ok(qlm_meta_str(f, "t.empty", &s, &len));
    assert_int_equal(len, 0);
    /* type mismatches and absence */
    assert_status(qlm_meta_i64(f, "t.f64", &i), QLM_E_VALUE);
    assert_status(qlm_meta_bool(f, "t.i64", &b), QLM_E_VALUE);
    assert_status(qlm_meta_str(f, "t.a.str", &s, &len), QLM_E_VALUE);
    assert_status(qlm_meta_f64(f, "t.str", &d), QLM_E_VALUE);
    assert_status(qlm_meta_i64(f, "absent", &i), QLM_E_MISSING);
    assert_true(qlm_meta_has(f, "t.bool"));
    assert_false(qlm_meta_has(f, "absent"));
    assert_int_equal(qlm_meta_i64_or(f, "absent", 42), 42);
    assert_int_equal(qlm_meta_i64_or(f, "t.i64", 42), TU_FIX_I64);
    assert_true(qlm_meta_f64_or(f, "absent", 2.5) == 2.5);
    assert_true(qlm_meta_bool_or(f, "absent", false) == false);
    assert_true(qlm_meta_bool_or(f, "t.bool", false) == true);
    /* iteration: 17 entries in write order */
    assert_int_equal(qlm_meta_count(f), 17);
    assert_string_equal(qlm_meta_at(f, 0)->key, "general.architecture");
    assert_int_equal(qlm_meta_at(f, 0)->type, QLM_MT_STRING);
    assert_null(qlm_meta_at(f, 17));
    qlm_file_close(f);
}

static void check_array(qlm_file *f, const char *key, qlm_meta_type elem, uint64_t count, const void *want,
                        size_t es)
{
    qlm_meta_type e;
    uint64_t n;
    const void *p;
    assert_ok(qlm_meta_array(f, key, &e, &n, &p));
    assert_int_equal(e, elem);
    assert_int_equal(n, count);
    if (count)
        assert_memory_equal(p, want, count * es);
    const qlm_meta_info *info = NULL;
    for (size_t i = 0; i < qlm_meta_count(f); i++)
        if (strcmp(qlm_meta_at(f, i)->key, key) == 0)
            info = qlm_meta_at(f, i);
    assert_non_null(info);
    assert_int_equal(info->type, QLM_MT_ARRAY);
    assert_int_equal(info->elem, elem);
    assert_int_equal(info->count, count);
}

static void test_meta_arrays(void **state)
{
    (void)state;
    qlm_file *f = open_fixture("arr.qlm");
    const uint8_t u8s[3] = {0, 7, 255};
    const uint32_t u32s[2] = {0, 4294967295u};
    const int64_t i64s[3] = {-1, 0, 9007199254740993LL};
    const uint64_t u64s[1] = {18446744073709551615ULL};
    const float f32s[3] = {0.5f, -1.25f, 3.0e38f};
    const double f64s[2] = {1e-300, -0.0};
    const uint8_t bools[4] = {1, 0, 0, 1};
    check_array(f, "t.a.u8", QLM_MT_U8, 3, u8s, 1);
    check_array(f, "t.a.i32", QLM_MT_I32, 5, tu_fix_i32s, 4);
    check_array(f, "t.a.u32", QLM_MT_U32, 2, u32s, 4);
    check_array(f, "t.a.i64", QLM_MT_I64, 3, i64s, 8);
    check_array(f, "t.a.u64", QLM_MT_U64, 1, u64s, 8);
    check_array(f, "t.a.f32", QLM_MT_F32, 3, f32s, 4);
    check_array(f, "t.a.f64", QLM_MT_F64, 2, f64s, 8);
    check_array(f, "t.a.bool", QLM_MT_BOOL, 4, bools, 1);
    check_array(f, "t.a.empty", QLM_MT_F32, 0, NULL, 4);
    uint64_t n;
    assert_ok(qlm_meta_str_array_len(f, "t.a.str", &n));
    assert_int_equal(n, 4);
    for (uint64_t i = 0; i < n; i++) {
        const char *s;
        size_t len;
        assert_ok(qlm_meta_str_at(f, "t.a.str", i, &s, &len));
        assert_int_equal(len, strlen(tu_fix_strs[i]));
        assert_memory_equal(s, tu_fix_strs[i], len);
    }
    const char *s;
    size_t len;
    assert_status(qlm_meta_str_at(f, "t.a.str", 4, &s, &len), QLM_E_ARG);
    qlm_meta_type e;
    const void *p;
    assert_status(qlm_meta_array(f, "t.a.str", &e, &n, &p), QLM_E_VALUE);
    assert_status(qlm_meta_array(f, "t.i64", &e, &n, &p), QLM_E_VALUE);
    assert_status(qlm_meta_str_array_len(f, "t.a.f32", &n), QLM_E_VALUE);
    qlm_file_close(f);
}

static void test_empty_file(void **state)
{
    (void)state;
    const char *path = tu_tmp("empty.qlm");
    tu_qlm_fixture(path, 0, 0);
    qlm_file *f;
    assert_ok(qlm_file_open(path, &f));
    assert_int_equal(qlm_file_n_tensors(f), 0);
    assert_int_equal(qlm_meta_count(f), 0);
    assert_int_equal(qlm_file_size(f), 4096); /* header padded to the data alignment */
    assert_ok(qlm_file_verify(f, NULL));
    qlm_file_close(f);
}

static void test_tensor_nbytes(void **state)
{
    (void)state;
    uint64_t n, d2[2] = {3, 64}, big[2] = {1ull << 40, 1ull << 40}, odd[2] = {2, 48}, z[1] = {0};
    assert_ok(qlm_tensor_nbytes(QLM_DT_Q4, 2, d2, &n));
    assert_int_equal(n, 3 * 2 * 18);
    assert_ok(qlm_tensor_nbytes(QLM_DT_Q8, 2, d2, &n));
    assert_int_equal(n, 3 * 2 * 34);
    assert_ok(qlm_tensor_nbytes(QLM_DT_BF16, 2, odd, &n)); /* plain types: any innermost dim */
    assert_int_equal(n, 2 * 48 * 2);
    assert_status(qlm_tensor_nbytes(QLM_DT_Q8, 2, odd, &n), QLM_E_SIZE);
    assert_status(qlm_tensor_nbytes(QLM_DT_F32, 2, big, &n), QLM_E_OVERFLOW); /* 2^80 elements */
    assert_status(qlm_tensor_nbytes(QLM_DT_F32, 1, z, &n), QLM_E_SHAPE);
    assert_status(qlm_tensor_nbytes(QLM_DT_F32, 0, d2, &n), QLM_E_SHAPE);
    assert_status(qlm_tensor_nbytes(QLM_DT_F32, 5, d2, &n), QLM_E_OVERFLOW);
    assert_status(qlm_tensor_nbytes(6, 2, d2, &n), QLM_E_DTYPE);
    assert_status(qlm_tensor_nbytes(18, 2, d2, &n), QLM_E_DTYPE); /* reserved GPU id */
    uint64_t b4[1] = {1ull << 62}; /* 2^62 f32 elements = 2^64 bytes */
    assert_status(qlm_tensor_nbytes(QLM_DT_F32, 1, b4, &n), QLM_E_OVERFLOW);
}

static void test_writer_misuse(void **state)
{
    (void)state;
    const char *path = tu_tmp("misuse.qlm");
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    qlm_writer *w;
    uint64_t dims[2] = {2, 32};
    size_t idx;
    float data[64] = {0};
    assert_ok(qlm_writer_open(path, &w));
    assert_ok(qlm_writer_set_i64(w, "k", 1));
    assert_status(qlm_writer_set_i64(w, "k", 2), QLM_E_DUPLICATE);
    assert_status(qlm_writer_set_str(w, "\xff", "x", 1), QLM_E_UTF8);
    assert_status(qlm_writer_set_str(w, "s", "\xc0\xaf", 2), QLM_E_UTF8);
    assert_status(qlm_writer_set_bool(w, "", true), QLM_E_ARG);
    uint8_t badbool = 2;
    assert_status(qlm_writer_set_array(w, "b", QLM_MT_BOOL, 1, &badbool), QLM_E_ARG);
    assert_status(qlm_writer_set_array(w, "b", QLM_MT_STRING, 1, &badbool), QLM_E_ARG);
    assert_ok(qlm_writer_add_tensor(w, "t", QLM_DT_F32, 2, dims, &idx));
    assert_status(qlm_writer_add_tensor(w, "t", QLM_DT_F32, 2, dims, &idx), QLM_E_DUPLICATE);
    assert_status(qlm_writer_add_tensor(w, "u", 99, 2, dims, &idx), QLM_E_DTYPE);
    assert_status(qlm_writer_write_tensor(w, 0, data, 4), QLM_E_SIZE);
    assert_status(qlm_writer_write_tensor(w, 1, data, sizeof data), QLM_E_ARG);
    assert_ok(qlm_writer_add_tensor(w, "v", QLM_DT_F32, 2, dims, &idx));
    assert_ok(qlm_writer_write_tensor(w, 0, data, sizeof data));
    assert_status(qlm_writer_write_tensor(w, 0, data, sizeof data), QLM_E_ARG);
    assert_status(qlm_writer_set_i64(w, "late", 1), QLM_E_ARG);
    assert_status(qlm_writer_add_tensor(w, "late", QLM_DT_F32, 2, dims, &idx), QLM_E_ARG);
    assert_int_equal(access(tmp, F_OK), 0);
    /* tensor "v" never written: finish fails and leaves nothing behind */
    assert_status(qlm_writer_finish(w), QLM_E_MISSING);
    assert_int_not_equal(access(tmp, F_OK), 0);
    assert_int_not_equal(access(path, F_OK), 0);

    assert_ok(qlm_writer_open(path, &w));
    assert_int_equal(access(tmp, F_OK), 0);
    qlm_writer_abort(w);
    assert_int_not_equal(access(tmp, F_OK), 0);
    assert_int_not_equal(access(path, F_OK), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tensors_roundtrip), cmocka_unit_test(test_meta_scalars),
        cmocka_unit_test(test_meta_arrays),       cmocka_unit_test(test_empty_file),
        cmocka_unit_test(test_tensor_nbytes),     cmocka_unit_test(test_writer_misuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
