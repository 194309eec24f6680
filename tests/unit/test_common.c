/* Base layer: JSON, UTF-8, half floats, hashes, deterministic math, file maps. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "formats/common/half.h"
#include "formats/common/hash.h"
#include "formats/common/json.h"
#include "formats/common/mapfile.h"
#include "formats/common/utf8.h"
#include "simd/ref/qmath.h"
#include "simd/ref/ref.h"
#include "tests/common/testutil.h"

static void test_json_basic(void **state)
{
    (void)state;
    const char *t = "{\"a\": [1, -2.5e3, true, null, \"x\\u00e9\\ud83d\\ude00\"], \"b\": {\"c\": 9007199254740993}}";
    json_doc *d;
    assert_ok(json_parse(t, strlen(t), &d));
    const json_value *r = json_root(d);
    const json_value *a = json_get(r, "a");
    assert_non_null(a);
    assert_int_equal(a->n, 5);
    int64_t i;
    assert_true(json_as_i64(json_at(a, 0), &i));
    assert_int_equal(i, 1);
    double f;
    assert_true(json_as_f64(json_at(a, 1), &f));
    assert_true(f == -2500.0);
    assert_int_equal(json_at(a, 2)->type, JSON_TRUE);
    assert_int_equal(json_at(a, 3)->type, JSON_NULL);
    size_t n;
    const char *s = json_as_str(json_at(a, 4), &n);
    assert_int_equal(n, 1 + 2 + 4);
    assert_memory_equal(s, "x\xc3\xa9\xf0\x9f\x98\x80", 7);
    assert_int_equal(json_get_i64(json_get(r, "b"), "c", 0), 9007199254740993LL);
    json_free(d);
}

static void test_json_errors(void **state)
{
    (void)state;
    const char *bad[] = {"", "{", "[1,]", "{\"a\" 1}", "\"abc", "01", "1.", "tru", "[1] x", "\"\x01\"",
                         "\"\xff\"", "{\"a\":}", "-", "[\"\\q\"]"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        json_doc *d = NULL;
        qlm_status st = json_parse(bad[k], strlen(bad[k]), &d);
        if (st == QLM_OK)
            fail_msg("accepted bad JSON #%zu: %s", k, bad[k]);
        assert_null(d);
        assert_true(strstr(qlm_errmsg(), "line") != NULL);
    }
    /* 10^5-deep nesting must fail cleanly, not overflow the stack */
    size_t depth = 100000;
    char *deep = malloc(depth + 1);
    memset(deep, '[', depth);
    deep[depth] = 0;
    json_doc *d = NULL;
    assert_status(json_parse(deep, depth, &d), QLM_E_LIMIT);
    free(deep);
}

static void test_utf8(void **state)
{
    (void)state;
    assert_true(utf8_valid("h\xc3\xa9llo \xf0\x9f\x98\x80", 11));
    assert_false(utf8_valid("\xc0\xaf", 2));     /* overlong */
    assert_false(utf8_valid("\xed\xa0\x80", 3)); /* surrogate */
    assert_false(utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    assert_int_equal(utf8_incomplete_tail("ab\xf0\x9f", 4), 2);
    assert_int_equal(utf8_incomplete_tail("ab\xf0\x9f\x98\x80", 6), 0);
    assert_int_equal(utf8_incomplete_tail("ab\xc3", 3), 1);
    assert_int_equal(utf8_incomplete_tail("ab\xff", 3), 0);
    char buf[4];
    for (uint32_t cp = 0; cp <= 0x10FFFF; cp += (cp < 0x800 ? 1 : 97)) {
        if (cp >= 0xD800 && cp <= 0xDFFF)
            continue;
        size_t n = utf8_encode(cp, buf), adv;
        assert_int_equal(utf8_decode(buf, n, &adv), cp);
        assert_int_equal(adv, n);
    }
}

/* f16: every one of the 65536 values widens and narrows back to itself (NaNs keep payload). */
static void test_half_exhaustive(void **state)
{
    (void)state;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = qlm_f16_to_f32((uint16_t)h);
        uint16_t back = qlm_f32_to_f16(f);
        if ((h & 0x7C00) == 0x7C00 && (h & 0x3FF))
            assert_int_equal(back, h | 0x200); /* quieted NaN */
        else
            assert_int_equal(back, h);
        uint16_t b = qlm_f32_to_bf16(qlm_bf16_to_f32((uint16_t)h));
        if ((h & 0x7F80) == 0x7F80 && (h & 0x7F))
            assert_int_equal(b, h | 0x40);
        else
            assert_int_equal(b, h);
    }
    /* Rounding: halfway cases go to even; compare against a double-based reference. */
    srand(1);
    for (int k = 0; k < 200000; k++) {
        uint32_t u = ((uint32_t)rand() << 16) ^ (uint32_t)rand();
        float f = qlm_bits_f32(u);
        if (isnan(f))
            continue;
        uint16_t h = qlm_f32_to_f16(f);
        /* neighbours: the chosen f16 must be nearest (ties even) */
        double x = f, best = qlm_f16_to_f32(h);
        if (isinf(best) && !isinf(x)) {
            assert_true(fabs(x) >= 65520.0);
            continue;
        }
        uint16_t lo = (uint16_t)(h - 1), hi = (uint16_t)(h + 1);
        double dl = fabs(qlm_f16_to_f32(lo) - x), dh = fabs(qlm_f16_to_f32(hi) - x), d = fabs(best - x);
        if ((h & 0x7FFF) != 0 && (h & 0x7FFF) != 0x7C00 && !isinf(qlm_f16_to_f32(hi)))
            assert_true(d <= dl && d <= dh);
        if (d == dl || d == dh)
            assert_true((h & 1) == 0 || d == 0);
    }
}

static void test_hashes(void **state)
{
    (void)state;
    char hex[65];
    qlm_sha256_hex("", 0, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    qlm_sha256_hex("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    qlm_sha256_hex(m, strlen(m), hex);
    assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    /* one million 'a', fed in odd-sized pieces */
    qlm_sha256 s;
    qlm_sha256_init(&s);
    char a[997];
    memset(a, 'a', sizeof a);
    size_t left = 1000000;
    while (left) {
        size_t n = left < sizeof a ? left : sizeof a;
        qlm_sha256_update(&s, a, n);
        left -= n;
    }
    uint8_t dg[32];
    qlm_sha256_final(&s, dg);
    qlm_hex(dg, 32, hex);
    assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    /* xxHash64 reference values (xxhsum) */
    assert_true(qlm_xxh64("", 0, 0) == 0xEF46DB3751D8E999ull);
    assert_true(qlm_xxh64("a", 1, 0) == 0xD24EC4F1A98C6E5Bull);
    assert_true(qlm_xxh64("abc", 3, 0) == 0x44BC2CF5AD770999ull);
    const char *q = "Nobody inspects the spammish repetition";
    assert_true(qlm_xxh64(q, strlen(q), 0) == 0xFBCEA83C8A378BF1ull);
}

/* qlm_expf: within 2 ulp of the correctly rounded value over the whole range. */
static void test_expf(void **state)
{
    (void)state;
    int maxulp = 0;
    for (float x = -103.0f; x < 88.7f; x += 0.0137f) {
        float got = qlm_expf(x);
        double want = exp((double)x);
        float wf = (float)want;
        if (wf == 0.0f || wf < 1.2e-38f) {
            assert_true(fabs(got - want) <= 1.5e-45);
            continue;
        }
        int ulp = abs((int)(qlm_f32_bits(got) - qlm_f32_bits(wf)));
        if (ulp > maxulp)
            maxulp = ulp;
    }
    assert_true(maxulp <= 2);
    assert_true(qlm_expf(0.0f) == 1.0f);
    assert_true(isinf(qlm_expf(89.0f)));
    assert_true(qlm_expf(-104.0f) == 0.0f);
    assert_true(isnan(qlm_expf(NAN)));
}

static void test_dmath(void **state)
{
    (void)state;
    for (double x = 0; x < 70000.0; x += 13.37) {
        double s, c;
        qlm_sincos_d(x, &s, &c);
        assert_true(fabs(s - sin(x)) < 1e-12 && fabs(c - cos(x)) < 1e-12);
    }
    for (double x = 1e-6; x < 1e9; x *= 1.37) {
        assert_true(fabs(qlm_log_d(x) - log(x)) <= 1e-15 * fabs(log(x)) + 1e-16);
        double e = qlm_exp_d(-x / 1e7);
        assert_true(fabs(e - exp(-x / 1e7)) <= 1e-15 * exp(-x / 1e7));
    }
}

/* sum16 is a fixed order: check against an explicit computation of that order. */
/* Resident kB of the mapping that starts at p, from /proc/self/smaps. */
static long mapping_rss_kb(const void *p)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    assert_non_null(f);
    char line[512], start[32];
    snprintf(start, sizeof start, "%lx-", (unsigned long)(uintptr_t)p);
    long kb = -1;
    int in = 0;
    while (fgets(line, sizeof line, f) && kb < 0) {
        if ((line[0] >= '0' && line[0] <= '9') || (line[0] >= 'a' && line[0] <= 'f')) /* a mapping's header */
            in = strncmp(line, start, strlen(start)) == 0;
        else if (strncmp(line, "Rss:", 4) == 0 && in)
            kb = strtol(line + 4, NULL, 10);
    }
    fclose(f);
    assert_true(kb >= 0);
    return kb;
}

/* qlm_map_release drops the pages of a range from the process, and reading
 * them again gives the file's bytes; ranges outside the map are ignored. */
static void test_map_release(void **state)
{
    (void)state;
    size_t page = (size_t)sysconf(_SC_PAGESIZE), n = 64 * page;
    const char *path = tu_tmp("release.bin");
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (size_t i = 0; i < n; i++)
        fputc((int)(i * 7 % 251), f);
    fclose(f);
    qlm_map m;
    assert_ok(qlm_map_open(path, &m));
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < n; i += page) /* fault every page in */
        sink = (uint8_t)(sink + m.data[i]);
    long before = mapping_rss_kb(m.data);
    assert_true(before >= (long)(n / 1024));
    /* unaligned ends: only the 60 whole pages inside go */
    qlm_map_release(&m, m.data + page + 1, n - 2 * page - 2);
    long after = mapping_rss_kb(m.data);
    assert_true(after <= before - (long)(60 * page / 1024));
    qlm_map_release(&m, m.data + n - 10, 20);      /* past the end: ignored */
    qlm_map_release(&m, m.data - page, 2 * page);  /* before the start: ignored */
    assert_int_equal(mapping_rss_kb(m.data), after);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(m.data[i], (uint8_t)(i * 7 % 251));
    qlm_map_close(&m);
}

static void test_sum16_order(void **state)
{
    (void)state;
    float v[37];
    for (int i = 0; i < 37; i++)
        v[i] = (i % 3 ? 1.0f : 1e8f) * (float)(i + 1);
    float lanes[16] = {0};
    for (int i = 0; i < 37; i++)
        lanes[i % 16] += v[i];
    float t8[8], t4[4], t2[2];
    for (int i = 0; i < 8; i++) t8[i] = lanes[i] + lanes[i + 8];
    for (int i = 0; i < 4; i++) t4[i] = t8[i] + t8[i + 4];
    for (int i = 0; i < 2; i++) t2[i] = t4[i] + t4[i + 2];
    assert_true(qlm_ref_sum16(v, 37) == t2[0] + t2[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_basic),  cmocka_unit_test(test_json_errors),
        cmocka_unit_test(test_utf8),        cmocka_unit_test(test_half_exhaustive),
        cmocka_unit_test(test_hashes),      cmocka_unit_test(test_expf),
        cmocka_unit_test(test_dmath),       cmocka_unit_test(test_sum16_order),
        cmocka_unit_test(test_map_release),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
