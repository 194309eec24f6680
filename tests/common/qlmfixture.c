#include "tests/common/qlmfixture.h"

#include <stdlib.h>
#include <string.h>

#include "tests/common/testutil.h"

/* nbytes derived by hand from FORMAT.md: elements x 4/2/2, blocks x 34/18. */
const tu_fix_tensor tu_fix_tensors[] = {
    {"token_embd.weight", QLM_DT_Q8, 2, {3, 64}, 3 * 2 * 34},
    {"blk.0.attn_q.weight", QLM_DT_Q4, 2, {5, 96}, 5 * 3 * 18},
    {"output_norm.weight", QLM_DT_F32, 1, {7}, 7 * 4},
    {"blk.0.ffn_up.weight", QLM_DT_F16, 3, {2, 3, 5}, 30 * 2},
    {"blk.0.attn_k.weight", QLM_DT_BF16, 2, {4, 33}, 132 * 2},
    {"g_idx \xe2\x9c\x93", QLM_DT_I32, 4, {1, 2, 1, 3}, 6 * 4},
};
const size_t tu_fix_n_tensors = sizeof tu_fix_tensors / sizeof tu_fix_tensors[0];

const int32_t tu_fix_i32s[5] = {1, -2, 2147483647, -2147483647 - 1, 0};
const char *const tu_fix_strs[4] = {"a", "", "\xf0\x9f\x98\x80 b", "left right"};

void tu_fix_data(size_t i, uint8_t *buf, size_t n)
{
    uint64_t s = 0x9E3779B97F4A7C15ull * (i + 1);
    for (size_t k = 0; k < n; k++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        buf[k] = (uint8_t)(s >> 56);
    }
}

static void put_meta(qlm_writer *w)
{
    static const uint8_t u8s[3] = {0, 7, 255};
    static const uint32_t u32s[2] = {0, 4294967295u};
    static const int64_t i64s[3] = {-1, 0, 9007199254740993LL};
    static const uint64_t u64s[1] = {18446744073709551615ULL};
    static const float f32s[3] = {0.5f, -1.25f, 3.0e38f};
    static const double f64s[2] = {1e-300, -0.0};
    static const uint8_t bools[4] = {1, 0, 0, 1};
    size_t lens[4];
    for (int i = 0; i < 4; i++)
        lens[i] = strlen(tu_fix_strs[i]);
    assert_ok(qlm_writer_set_str(w, "general.architecture", "llama", 5));
    assert_ok(qlm_writer_set_i64(w, "t.i64", TU_FIX_I64));
    assert_ok(qlm_writer_set_u64(w, "t.u64", TU_FIX_U64));
    assert_ok(qlm_writer_set_f64(w, "t.f64", TU_FIX_F64));
    assert_ok(qlm_writer_set_bool(w, "t.bool", true));
    assert_ok(qlm_writer_set_str(w, "t.str", TU_FIX_STR, strlen(TU_FIX_STR)));
    assert_ok(qlm_writer_set_str(w, "t.empty", "", 0));
    assert_ok(qlm_writer_set_array(w, "t.a.u8", QLM_MT_U8, 3, u8s));
    assert_ok(qlm_writer_set_array(w, "t.a.i32", QLM_MT_I32, 5, tu_fix_i32s));
    assert_ok(qlm_writer_set_array(w, "t.a.u32", QLM_MT_U32, 2, u32s));
    assert_ok(qlm_writer_set_array(w, "t.a.i64", QLM_MT_I64, 3, i64s));
    assert_ok(qlm_writer_set_array(w, "t.a.u64", QLM_MT_U64, 1, u64s));
    assert_ok(qlm_writer_set_array(w, "t.a.f32", QLM_MT_F32, 3, f32s));
    assert_ok(qlm_writer_set_array(w, "t.a.f64", QLM_MT_F64, 2, f64s));
    assert_ok(qlm_writer_set_array(w, "t.a.bool", QLM_MT_BOOL, 4, bools));
    assert_ok(qlm_writer_set_array(w, "t.a.empty", QLM_MT_F32, 0, f32s));
    assert_ok(qlm_writer_set_str_array(w, "t.a.str", 4, tu_fix_strs, lens));
}

void tu_qlm_fixture(const char *path, size_t n_tensors, int with_meta)
{
    qlm_writer *w;
    assert_ok(qlm_writer_open(path, &w));
    if (with_meta)
        put_meta(w);
    for (size_t i = 0; i < n_tensors; i++) {
        const tu_fix_tensor *t = &tu_fix_tensors[i];
        size_t idx;
        assert_ok(qlm_writer_add_tensor(w, t->name, t->dtype, t->rank, t->dims, &idx));
        assert_int_equal(idx, i);
    }
    /* Write in reverse order: the writer must not depend on call order. */
    for (size_t i = n_tensors; i-- > 0;) {
        uint8_t *buf = malloc(tu_fix_tensors[i].nbytes);
        tu_fix_data(i, buf, tu_fix_tensors[i].nbytes);
        assert_ok(qlm_writer_write_tensor(w, i, buf, tu_fix_tensors[i].nbytes));
        free(buf);
    }
    assert_ok(qlm_writer_finish(w));
}
