/* Shared by the fast and slow HF conversion tests: convert a Hugging Face
 * folder to .qlm types and check names, dtypes, shapes, metadata, tokenizer
 * and values against the source (f32/bf16 exact; f16 = RNE of the source;
 * q8/q4 = the reference quantizer applied to the source rows). */
#ifndef QLM_TEST_CONVERT_CHECK_H
#define QLM_TEST_CONVERT_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/common/half.h"
#include "formats/convert/convert.h"
#include "formats/convert/hfconfig.h"
#include "formats/qlm/keys.h"
#include "formats/quant/quant.h"
#include "runtime/tokenizer/tokenizer.h"
#include "tests/unit/synth_check.h"

static const char *k_types[] = {"f32", "f16", "bf16", "q8", "q4"};

static qlm_status convert(const char *src, const char *out, qlm_dtype type)
{
    qlm_convert_opts o = {.src = src, .out = out, .type = type, .quiet = true, .threads = 1};
    return qlm_convert(&o);
}

/* Source row r of a bf16 safetensors tensor as f32. */
static void src_row(const qlm_st_tensor *s, size_t r, size_t n, float *out)
{
    const uint16_t *h = (const uint16_t *)s->data + r * n;
    for (size_t i = 0; i < n; i++) {
        uint16_t v;
        memcpy(&v, h + i, 2);
        out[i] = qlm_bf16_to_f32(v);
    }
}

/* Stored bytes of row r equal what the documented conversion of the source gives. */
static void check_values(const qlm_tensor *t, const qlm_st_tensor *s)
{
    size_t n = (size_t)t->dims[t->rank - 1], rows = (size_t)(t->n_elems / n);
    size_t row_bytes = (size_t)(t->nbytes / rows);
    float *x = malloc(n * sizeof *x);
    unsigned char *want = malloc(row_bytes);
    for (size_t r = 0; r < rows; r++) {
        src_row(s, r, n, x);
        const unsigned char *got = (const unsigned char *)t->data + r * row_bytes;
        switch (t->dtype) {
        case QLM_DT_F32: memcpy(want, x, row_bytes); break;
        case QLM_DT_BF16:
            for (size_t i = 0; i < n; i++) {
                uint16_t v = qlm_f32_to_bf16(x[i]);
                memcpy(want + 2 * i, &v, 2);
            }
            break;
        case QLM_DT_F16:
            for (size_t i = 0; i < n; i++) {
                uint16_t v = qlm_f32_to_f16(x[i]);
                memcpy(want + 2 * i, &v, 2);
            }
            break;
        case QLM_DT_Q8: assert_ok(qlm_quantize_q8(x, (qlm_block_q8 *)want, n)); break;
        case QLM_DT_Q4: assert_ok(qlm_quantize_q4(x, (qlm_block_q4 *)want, n)); break;
        default: fail_msg("%s: unexpected dtype %u", t->name, t->dtype);
        }
        if (memcmp(got, want, row_bytes) != 0)
            fail_msg("%s row %zu differs from the reference conversion", t->name, r);
    }
    free(x);
    free(want);
}

static qlm_dtype expected_dtype(const qlm_hf_param *p, qlm_dtype type)
{
    if (p->rank == 1)
        return QLM_DT_F32;
    if (type == QLM_DT_Q4 && (strcmp(p->qlm, "token_embd.weight") == 0 || strcmp(p->qlm, "output.weight") == 0))
        return QLM_DT_Q8;
    return type;
}

static void check_meta(const qlm_file *f, const qlm_hfconfig *c)
{
    const char *s;
    size_t len;
    assert_ok(qlm_meta_str(f, QLM_K_ARCH, &s, &len));
    assert_int_equal(len, strlen(qlm_hf_arch_name(c->arch)));
    assert_memory_equal(s, qlm_hf_arch_name(c->arch), len);
    assert_int_equal(qlm_meta_i64_or(f, QLM_K_DIM, 0), c->dim);
    assert_int_equal(qlm_meta_i64_or(f, QLM_K_LAYERS, 0), c->layers);
    assert_int_equal(qlm_meta_i64_or(f, QLM_K_FFN, 0), c->ffn);
    assert_int_equal(qlm_meta_i64_or(f, QLM_K_HEADS, 0), c->heads);
    assert_int_equal(qlm_meta_i64_or(f, QLM_K_HEADS_KV, 0), c->heads_kv);
    assert_int_equal(qlm_meta_i64_or(f, QLM_K_HEAD_DIM, 0), c->head_dim);
    assert_int_equal(qlm_meta_i64_or(f, QLM_K_VOCAB, 0), c->vocab);
    assert_int_equal(qlm_meta_i64_or(f, QLM_K_CTX, 0), c->ctx);
    assert_true(qlm_meta_f64_or(f, QLM_K_ROPE_THETA, 0) == c->rope_theta);
    assert_true(qlm_meta_f64_or(f, QLM_K_NORM_EPS, 0) == c->norm_eps);
    assert_int_equal(qlm_meta_bool_or(f, QLM_K_TIED, !c->tied), c->tied);
    assert_int_equal(qlm_meta_bool_or(f, QLM_K_ATTN_BIAS, !c->attn_bias), c->attn_bias);
    assert_int_equal(qlm_meta_bool_or(f, QLM_K_QK_NORM, !c->qk_norm), c->qk_norm);
    assert_ok(qlm_meta_str(f, QLM_K_SOURCE, &s, &len));
    assert_memory_equal(s, "hf", 2);
    /* the folder's tokenizer came along and loads back */
    qlm_tokenizer *tok;
    assert_ok(qlm_tok_load_qlm(f, &tok));
    assert_true(qlm_tok_n_vocab(tok) <= (size_t)c->vocab);
    assert_true(qlm_tok_n_vocab(tok) > 1000);
    assert_non_null(qlm_tok_chat_template(tok));
    qlm_tok_free(tok);
}

/* Convert `dir` to the types named in `types` (e.g. "f32 q4") and check each
 * file against the source. */
static void convert_all(const char *dir, const char *tag, const char *types)
{
    char cfg_path[1200], st_path[1200], out[1200];
    snprintf(cfg_path, sizeof cfg_path, "%s/config.json", dir);
    snprintf(st_path, sizeof st_path, "%s/model.safetensors", dir);
    qlm_hfconfig c;
    qlm_hf_param *p;
    size_t n;
    qlm_st *st;
    assert_ok(qlm_hfconfig_load(cfg_path, &c));
    assert_ok(qlm_hf_params(&c, &p, &n));
    assert_ok(qlm_st_open(st_path, &st));
    for (size_t k = 0; k < 5; k++) {
        qlm_dtype type;
        assert_true(qlm_dtype_parse(k_types[k], &type));
        if (!strstr(types, k_types[k]))
            continue;
        snprintf(out, sizeof out, "%s-%s.qlm", dir, k_types[k]);
        assert_ok(convert(dir, out, type));
        qlm_file *f;
        assert_ok(qlm_file_open(out, &f));
        if (k == 0)
            assert_ok(qlm_file_verify(f, NULL)); /* checksums: once is enough */
        assert_int_equal(qlm_file_n_tensors(f), n);
        check_meta(f, &c);
        for (size_t i = 0; i < n; i++) {
            const qlm_tensor *t = qlm_file_find(f, p[i].qlm);
            if (!t)
                fail_msg("%s %s: tensor %s missing", tag, k_types[k], p[i].qlm);
            assert_int_equal(t->rank, p[i].rank);
            assert_int_equal(t->dims[0], p[i].dims[0]);
            if (p[i].rank == 2)
                assert_int_equal(t->dims[1], p[i].dims[1]);
            assert_int_equal(t->dtype, expected_dtype(&p[i], type));
            check_values(t, qlm_st_find(st, p[i].hf));
        }
        qlm_file_close(f);
        remove(out);
    }
    qlm_st_close(st);
    free(p);
}

#endif
