/* Malformed-input corpus for the binary model formats, run through the real
 * CLI (issue #10). Every case derives one broken file from a valid one
 * written or shipped for this test, runs `qlm inspect` / `qlm run -n 1` (for
 * .qlm) or `qlm convert` (GGUF, llama2.c) or `qlm tokenize` (llama2.c
 * tokenizer) on it, and requires the documented outcome (tests/common/
 * malcase.h): exit 1 with exactly one "qlm: " line, or where the case allows
 * it a clean success; under `make asan` the same cases run the sanitized
 * binary, so a sanitizer report fails them too.
 *
 * Families: truncation at every structural boundary and at 16 pseudo-random
 * points; every header and directory field set to 0, all ones, the sign
 * bit, the top positive value, and the original +-1 (checksums re-sealed so
 * the reader reaches the field); offsets past EOF, overlapping tensors,
 * dimension products that overflow 64 bits; NaN/Inf block scales in Q8/Q4
 * (documented: accepted, see test_nonfinite_scales). The number of cases is
 * printed. HF folders, JSON and prompts: test_malformed_hf.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/common/hash.h"
#include "formats/gguf/gguf.h"
#include "formats/qlm/layout.h"
#include "tests/common/malcase.h"
#include "tests/common/proc.h"
#include "tests/common/testutil.h"

static mc_stats g_stats;
static uint8_t *g_qlm;   /* stories260K as q8 .qlm */
static size_t g_qlm_len;

static void convert(const char *src, const char *out, const char *type)
{
    const char *args[] = {"convert", src, "-o", out, "--type", type, "--quiet", "--tokenizer",
                          tu_shared("models/stories260K/tok512.bin"), NULL};
    if (strstr(src, ".gguf"))
        args[7] = NULL; /* GGUF carries its tokenizer */
    mc_stats s = {0};
    mc_check(&s, "base conversion", MC_ACCEPT, args);
}

static int setup(void **state)
{
    (void)state;
    const char *base = tu_tmp("base.qlm");
    convert(tu_shared("models/stories260K/stories260K.bin"), base, "q8");
    g_qlm = (uint8_t *)tu_read(base, &g_qlm_len);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(g_qlm);
    printf("malformed-input cases (binary formats): %u run, %u rejected with one line, %u accepted cleanly\n",
           g_stats.n_cases, g_stats.n_rejected, g_stats.n_accepted);
    return 0;
}

/* ---- .qlm ------------------------------------------------------------------ */

/* Both readers of a .qlm the user meets: inspect (header, metadata,
 * directory) and run (model build, tokenizer, one token of inference). */
static void check_qlm(const char *label, const uint8_t *img, size_t len, mc_expect e)
{
    const char *path = tu_tmp("case.qlm");
    mc_write(path, img, len);
    const char *inspect[] = {"inspect", path, NULL};
    const char *run[] = {"run", "-m", path, "-n", "1", "--temp", "0", "-p", "Once", "-t", "1", NULL};
    mc_check(&g_stats, label, e, inspect);
    mc_check(&g_stats, label, e, run);
}

/* Offset of directory entry i's fixed tail in img (the entries are a name
 * then QLM_D_TAIL bytes; the writer's directory is valid). */
static size_t dir_tail(const uint8_t *img, size_t i)
{
    size_t p = (size_t)qlm_rd64(img + QLM_H_DIR_OFF);
    for (;;) {
        p += 4 + qlm_rd32(img + p);
        if (!i--)
            return p;
        p += QLM_D_TAIL;
    }
}

static void test_qlm_truncated(void **state)
{
    (void)state;
    const uint8_t *h = g_qlm;
    uint64_t meta = qlm_rd64(h + QLM_H_META_OFF), meta_end = meta + qlm_rd64(h + QLM_H_META_SIZE);
    uint64_t dir = qlm_rd64(h + QLM_H_DIR_OFF), dir_end = dir + qlm_rd64(h + QLM_H_DIR_SIZE);
    uint64_t data = qlm_rd64(h + QLM_H_DATA_OFF);
    uint64_t cuts[64] = {0, 1, 7, 8, 64, QLM_HEADER_SIZE - 1, QLM_HEADER_SIZE, meta + 1, meta_end - 1, meta_end,
                         dir + 3, dir + 5, dir_end - 1, dir_end, data, data + 1, g_qlm_len - 1};
    size_t n = 17;
    for (size_t i = 0; i < 3; i++) { /* first and last bytes of the first tensors */
        uint64_t off = qlm_rd64(h + dir_tail(h, i) + QLM_D_OFFSET), nb = qlm_rd64(h + dir_tail(h, i) + QLM_D_NBYTES);
        cuts[n++] = off + 1;
        cuts[n++] = off + nb - 1;
    }
    uint64_t rs = 1;
    for (size_t i = 0; i < 16; i++)
        cuts[n++] = mc_rand(&rs) % g_qlm_len;
    for (size_t i = 0; i < n; i++) {
        char label[64];
        snprintf(label, sizeof label, ".qlm truncated to %llu bytes", (unsigned long long)cuts[i]);
        check_qlm(label, g_qlm, (size_t)cuts[i], MC_REJECT);
    }
}

static const struct {
    const char *name;
    unsigned off, bytes;
} k_header[] = {
    {"version", QLM_H_VERSION, 4},       {"flags", QLM_H_FLAGS, 4},
    {"file_size", QLM_H_FILE_SIZE, 8},   {"n_meta", QLM_H_N_META, 8},
    {"n_tensors", QLM_H_N_TENSORS, 8},   {"meta_off", QLM_H_META_OFF, 8},
    {"meta_size", QLM_H_META_SIZE, 8},   {"dir_off", QLM_H_DIR_OFF, 8},
    {"dir_size", QLM_H_DIR_SIZE, 8},     {"data_off", QLM_H_DATA_OFF, 8},
    {"data_size", QLM_H_DATA_SIZE, 8},   {"data_align", QLM_H_DATA_ALIGN, 4},
    {"tensor_align", QLM_H_TENSOR_ALIGN, 4}, {"reserved", QLM_H_RESERVED, 8},
};

/* Set one field to each edge value, re-seal, check. A value equal to the
 * original is not a corruption and is skipped. */
static void edge_cases(const char *what, size_t off, unsigned bytes)
{
    uint64_t v[6], orig = mc_load(g_qlm + off, bytes);
    uint8_t *img = malloc(g_qlm_len);
    assert_non_null(img);
    for (size_t k = 0; k < mc_edge_values(orig, bytes, v); k++) {
        if (v[k] == orig)
            continue;
        memcpy(img, g_qlm, g_qlm_len);
        mc_store(img + off, v[k], bytes);
        qlm_layout_seal(img, g_qlm_len);
        char label[128];
        snprintf(label, sizeof label, ".qlm %s = %#llx", what, (unsigned long long)v[k]);
        check_qlm(label, img, g_qlm_len, MC_EITHER);
    }
    free(img);
}

static void test_qlm_header_fields(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof k_header / sizeof k_header[0]; i++)
        edge_cases(k_header[i].name, k_header[i].off, k_header[i].bytes);
    /* not re-sealed: the header checksum must catch a flipped byte */
    uint8_t *img = malloc(g_qlm_len);
    memcpy(img, g_qlm, g_qlm_len);
    img[QLM_H_N_TENSORS] ^= 1;
    check_qlm(".qlm header byte flipped, checksum stale", img, g_qlm_len, MC_REJECT);
    free(img);
}

static void test_qlm_directory_fields(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        unsigned off, bytes;
    } fields[] = {{"dtype", QLM_D_DTYPE, 4},     {"rank", QLM_D_RANK, 4},        {"dims[0]", QLM_D_DIMS, 8},
                  {"dims[1]", QLM_D_DIMS + 8, 8}, {"offset", QLM_D_OFFSET, 8},    {"nbytes", QLM_D_NBYTES, 8}};
    uint64_t n_tensors = qlm_rd64(g_qlm + QLM_H_N_TENSORS);
    size_t which[] = {0, 1, (size_t)n_tensors - 1};
    for (size_t t = 0; t < 3; t++)
        for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
            char what[64];
            snprintf(what, sizeof what, "tensor %zu %s", which[t], fields[f].name);
            edge_cases(what, dir_tail(g_qlm, which[t]) + fields[f].off, fields[f].bytes);
        }
}

/* One directory edit that must be rejected, re-sealed. */
static void dir_edit(const char *label, void (*edit)(uint8_t *img))
{
    uint8_t *img = malloc(g_qlm_len);
    memcpy(img, g_qlm, g_qlm_len);
    edit(img);
    qlm_layout_seal(img, g_qlm_len);
    check_qlm(label, img, g_qlm_len, MC_REJECT);
    free(img);
}

static void past_eof(uint8_t *img) { qlm_wr64(img + dir_tail(img, 1) + QLM_D_OFFSET, g_qlm_len + 4096); }
static void straddles_eof(uint8_t *img)
{
    uint64_t nb = qlm_rd64(img + dir_tail(img, 1) + QLM_D_NBYTES);
    qlm_wr64(img + dir_tail(img, 1) + QLM_D_OFFSET, (g_qlm_len - nb / 2) & ~(uint64_t)63);
}
static void overlap(uint8_t *img)
{
    qlm_wr64(img + dir_tail(img, 1) + QLM_D_OFFSET, qlm_rd64(img + dir_tail(img, 0) + QLM_D_OFFSET));
}
static void dims_overflow(uint8_t *img) /* 2^32 x 2^32 elements: the product wraps to 0 */
{
    qlm_wr64(img + dir_tail(img, 1) + QLM_D_DIMS, 1ull << 32);
    qlm_wr64(img + dir_tail(img, 1) + QLM_D_DIMS + 8, 1ull << 32);
}
static void dims_overflow_bytes(uint8_t *img) /* elements fit, bytes do not */
{
    qlm_wr64(img + dir_tail(img, 1) + QLM_D_DIMS, 1ull << 31);
    qlm_wr64(img + dir_tail(img, 1) + QLM_D_DIMS + 8, 1ull << 32);
}

static void test_qlm_offsets(void **state)
{
    (void)state;
    dir_edit(".qlm tensor offset past EOF", past_eof);
    dir_edit(".qlm tensor straddles EOF", straddles_eof);
    dir_edit(".qlm overlapping tensors", overlap);
    dir_edit(".qlm dims product overflows", dims_overflow);
    dir_edit(".qlm byte size overflows", dims_overflow_bytes);
}

/* Q8/Q4 blocks whose fp16 scale is NaN or +-Inf, with a correct checksum.
 * Documented behaviour (README "Security and robustness"): the values of
 * weights are not validated; such a file loads, `inspect --verify` passes
 * (its checksums are right), and inference runs to completion without a
 * crash: the non-finite values propagate into the logits and the sampler
 * still returns a token in range. With a stale checksum, --verify names
 * the tensor. */
static void test_nonfinite_scales(void **state)
{
    (void)state;
    const char *q4 = tu_tmp("base-q4.qlm");
    convert(tu_shared("models/stories260K/stories260K.bin"), q4, "q4");
    size_t len4;
    uint8_t *base4 = (uint8_t *)tu_read(q4, &len4);
    static const uint16_t scales[] = {0x7E00, 0x7C00, 0xFC00}; /* NaN, +Inf, -Inf */
    for (int q = 0; q < 2; q++) {
        const uint8_t *base = q ? base4 : g_qlm;
        size_t len = q ? len4 : g_qlm_len;
        uint64_t n = qlm_rd64(base + QLM_H_N_TENSORS);
        for (size_t s = 0; s < 3; s++)
            for (size_t t = 0; t < n; t++) {
                size_t tail = dir_tail(base, t);
                uint32_t dt = qlm_rd32(base + tail + QLM_D_DTYPE);
                if (dt != 3 && dt != 4) /* QLM_DT_Q8, QLM_DT_Q4 */
                    continue;
                uint8_t *img = malloc(len);
                memcpy(img, base, len);
                uint64_t off = qlm_rd64(img + tail + QLM_D_OFFSET), nb = qlm_rd64(img + tail + QLM_D_NBYTES);
                for (uint64_t b = 0; b < nb; b += dt == 3 ? 34 : 18) /* every block of the tensor */
                    mc_store(img + off + b, scales[s], 2);
                char label[96];
                snprintf(label, sizeof label, "%s tensor %zu: every scale %#x, stale checksum", q ? "Q4" : "Q8", t,
                         scales[s]);
                const char *path = tu_tmp("case.qlm");
                mc_write(path, img, len);
                const char *verify[] = {"inspect", "--verify", path, NULL};
                mc_check(&g_stats, label, MC_REJECT, verify);
                qlm_wr64(img + tail + QLM_D_CHECKSUM, qlm_xxh64(img + off, nb, 0));
                qlm_layout_seal(img, len);
                snprintf(label, sizeof label, "%s tensor %zu: every scale %#x", q ? "Q4" : "Q8", t, scales[s]);
                mc_write(path, img, len);
                mc_check(&g_stats, label, MC_ACCEPT, verify);
                const char *run[] = {"run", "-m", path, "-n", "2", "-p", "Once", "-t", "1", "--seed", "1", NULL};
                mc_check(&g_stats, label, MC_ACCEPT, run);
                free(img);
                break; /* the first quantized tensor of each file (the embedding) */
            }
    }
    free(base4);
}

/* ---- GGUF ------------------------------------------------------------------ */

static uint8_t *g_gguf;
static size_t g_gguf_len;

static void check_gguf(const char *label, const uint8_t *img, size_t len, mc_expect e)
{
    const char *path = tu_tmp("case.gguf"), *out = tu_tmp("case-gguf.qlm");
    mc_write(path, img, len);
    const char *args[] = {"convert", path, "-o", out, "--quiet", "--threads", "1", NULL};
    mc_check(&g_stats, label, e, args);
}

/* Where the tensor infos of `name` start: just after its name string. */
static size_t tensor_info(const char *name)
{
    size_t n = strlen(name);
    for (size_t p = 24; p + 8 + n <= g_gguf_len; p++)
        if (mc_load(g_gguf + p, 8) == n && !memcmp(g_gguf + p + 8, name, n))
            return p + 8 + n;
    fail_msg("tensor %s not in the GGUF", name);
    return 0;
}

static void test_gguf(void **state)
{
    (void)state;
    g_gguf = (uint8_t *)tu_read(tu_shared("models/stories260K/stories260K-q8_0.gguf"), &g_gguf_len);
    gguf_file *g;
    assert_ok(gguf_open_mem(g_gguf, g_gguf_len, &g));
    const gguf_tensor *t0 = gguf_tensor_at(g, 0);
    size_t data0 = (size_t)((const uint8_t *)t0->data - g_gguf);
    char name0[256];
    snprintf(name0, sizeof name0, "%s", t0->name);
    size_t data_end = 0; /* the file may end in padding after this */
    for (size_t i = 0; i < gguf_n_tensors(g); i++) {
        const gguf_tensor *t = gguf_tensor_at(g, i);
        size_t end = (size_t)((const uint8_t *)t->data - g_gguf) + t->nbytes;
        data_end = end > data_end ? end : data_end;
    }
    gguf_close(g);
    size_t info = tensor_info(name0);
    char label[128];
    /* truncation: header, first key, tensor info, data start, random */
    uint64_t cuts[32] = {0, 3, 4, 8, 16, 23, 24, 40, info - 1, info + 4, info + 12, data0 - 1, data0, data0 + 1,
                         data_end - 1};
    size_t n = 15;
    uint64_t rs = 2;
    for (size_t i = 0; i < 12; i++)
        cuts[n++] = mc_rand(&rs) % data_end;
    for (size_t i = 0; i < n; i++) {
        snprintf(label, sizeof label, "GGUF truncated to %llu bytes", (unsigned long long)cuts[i]);
        check_gguf(label, g_gguf, (size_t)cuts[i], MC_REJECT);
    }
    /* header counts and the first tensor's info: n_dims, ne[0], ne[1], type, offset */
    uint32_t rank = (uint32_t)mc_load(g_gguf + info, 4);
    static const char *const names[] = {"version", "n_tensors", "n_kv", "n_dims", "ne[0]", "ne[1]", "type", "offset"};
    size_t offs[] = {4, 8, 16, info, info + 4, info + 12, info + 4 + 8 * rank, info + 8 + 8 * rank};
    unsigned sizes[] = {4, 8, 8, 4, 8, 8, 4, 8};
    uint8_t *img = malloc(g_gguf_len);
    for (size_t f = 0; f < 8; f++) {
        uint64_t v[6], orig = mc_load(g_gguf + offs[f], sizes[f]);
        for (size_t k = 0; k < mc_edge_values(orig, sizes[f], v); k++) {
            memcpy(img, g_gguf, g_gguf_len);
            mc_store(img + offs[f], v[k], sizes[f]);
            snprintf(label, sizeof label, "GGUF %s = %#llx", names[f], (unsigned long long)v[k]);
            check_gguf(label, img, g_gguf_len, MC_EITHER);
        }
    }
    /* the first tensor's data past EOF; NaN scales in its Q8_0 blocks (converted as is) */
    memcpy(img, g_gguf, g_gguf_len);
    mc_store(img + offs[7], g_gguf_len, 8);
    check_gguf("GGUF tensor offset past EOF", img, g_gguf_len, MC_REJECT);
    memcpy(img, g_gguf, g_gguf_len);
    for (size_t b = data0; b + 34 <= data0 + 34 * 64; b += 34)
        mc_store(img + b, 0x7E00, 2);
    check_gguf("GGUF Q8_0 blocks with NaN scales", img, g_gguf_len, MC_ACCEPT);
    free(img);
    free(g_gguf);
}

/* ---- llama2.c checkpoint and tokenizer ------------------------------------- */

static void test_llama2c(void **state)
{
    (void)state;
    size_t len;
    uint8_t *ck = (uint8_t *)tu_read(tu_shared("models/stories260K/stories260K.bin"), &len);
    uint8_t *img = malloc(len);
    const char *path = tu_tmp("case.bin"), *out = tu_tmp("case-l2c.qlm");
    const char *args[] = {"convert", path, "-o", out, "--quiet", "--threads", "1", "--tokenizer",
                          tu_shared("models/stories260K/tok512.bin"), NULL};
    static const char *const fields[] = {"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size",
                                         "seq_len"};
    char label[128];
    for (size_t f = 0; f < 7; f++) {
        uint64_t v[6], orig = mc_load(ck + 4 * f, 4);
        for (size_t k = 0; k < mc_edge_values(orig, 4, v); k++) {
            memcpy(img, ck, len);
            mc_store(img + 4 * f, v[k], 4);
            mc_write(path, img, len);
            snprintf(label, sizeof label, "llama2.c %s = %#llx", fields[f], (unsigned long long)v[k]);
            mc_check(&g_stats, label, MC_EITHER, args);
        }
    }
    uint64_t rs = 3, cuts[12] = {0, 4, 27, 28, 29};
    for (size_t i = 5; i < 12; i++)
        cuts[i] = mc_rand(&rs) % len;
    for (size_t i = 0; i < 12; i++) {
        mc_write(path, ck, (size_t)cuts[i]);
        snprintf(label, sizeof label, "llama2.c truncated to %llu bytes", (unsigned long long)cuts[i]);
        mc_check(&g_stats, label, MC_REJECT, args);
    }
    free(ck);
    free(img);

    /* tokenizer: u32 max_token_length, then (f32 score, i32 len, bytes) per token */
    uint8_t *tok = (uint8_t *)tu_read(tu_shared("models/stories260K/tok512.bin"), &len);
    img = malloc(len);
    const char *tpath = tu_tmp("case-tok.bin");
    const char *targs[] = {"tokenize", "-m", tpath, "Once upon a time", NULL};
    size_t offs[] = {0, 8, 4 + 8 + (size_t)mc_load(tok + 8, 4) + 4};
    static const char *const tnames[] = {"max_token_length", "token 0 length", "token 1 length"};
    for (size_t f = 0; f < 3; f++) {
        uint64_t v[6], orig = mc_load(tok + offs[f], 4);
        for (size_t k = 0; k < mc_edge_values(orig, 4, v); k++) {
            memcpy(img, tok, len);
            mc_store(img + offs[f], v[k], 4);
            mc_write(tpath, img, len);
            snprintf(label, sizeof label, "tok512.bin %s = %#llx", tnames[f], (unsigned long long)v[k]);
            mc_check(&g_stats, label, MC_EITHER, targs);
        }
    }
    for (size_t i = 0; i < 8; i++) {
        size_t cut = i < 3 ? (size_t[]){1, 4, 9}[i] : (size_t)(mc_rand(&rs) % len);
        mc_write(tpath, tok, cut);
        snprintf(label, sizeof label, "tok512.bin truncated to %zu bytes", cut);
        mc_check(&g_stats, label, MC_REJECT, targs);
    }
    free(tok);
    free(img);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_qlm_truncated),     cmocka_unit_test(test_qlm_header_fields),
        cmocka_unit_test(test_qlm_directory_fields), cmocka_unit_test(test_qlm_offsets),
        cmocka_unit_test(test_nonfinite_scales),  cmocka_unit_test(test_gguf),
        cmocka_unit_test(test_llama2c),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
