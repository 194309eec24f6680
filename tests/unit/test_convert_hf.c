/* Hugging Face folder -> .qlm: the synthetic llama3-tiny (Llama with llama3
 * RoPE scaling, untied) converted to every type, tiny qwen2/qwen3 configs to
 * two types each (tests/slow/test_convert_hf_large.c: the big synth models),
 * read back: names, dtypes, shapes, metadata, and values (f32/bf16 exact;
 * f16 = RNE of the source; q8/q4 = the reference quantizer of the source). */
#include "tests/unit/convert_check.h"

static void test_llama3_tiny(void **state)
{
    (void)state;
    const char *dir = tu_tmp("llama3-tiny");
    synth_check("llama3-tiny", dir);
    convert_all(dir, "llama3-tiny", "f32 f16 bf16 q8 q4");
    qlm_file *f;
    char out[1200];
    snprintf(out, sizeof out, "%s.qlm", dir);
    assert_ok(convert(dir, out, QLM_DT_Q8));
    assert_ok(qlm_file_open(out, &f));
    const char *s;
    size_t len;
    assert_ok(qlm_meta_str(f, QLM_K_ROPE_SCALING, &s, &len));
    assert_memory_equal(s, "llama3", 6);
    /* values of synth.json's llama3-tiny config */
    assert_true(qlm_meta_f64_or(f, QLM_K_ROPE_FACTOR, 0) == 8.0);
    assert_true(qlm_meta_f64_or(f, QLM_K_ROPE_LOW_FREQ, 0) == 1.0);
    assert_true(qlm_meta_f64_or(f, QLM_K_ROPE_HIGH_FREQ, 0) == 4.0);
    assert_int_equal(qlm_meta_i64_or(f, QLM_K_ROPE_ORIG_CTX, 0), 8192);
    assert_true(qlm_meta_f64_or(f, QLM_K_ROPE_THETA, 0) == 500000.0);
    assert_non_null(qlm_file_find(f, "output.weight"));
    qlm_file_close(f);
    remove(out);
}

/* A tiny model of `model_type` (name: dir) through qlm synth with a plain config file. */
static const char *synth_tiny(const char *name, const char *model_type, int vocab, const char *extra, const char *tok)
{
    char cfg[1200], text[2048];
    const char *dir = tu_tmp(name);
    snprintf(cfg, sizeof cfg, "%s-config.json", dir);
    snprintf(text, sizeof text,
             "{\"model_type\": \"%s\", \"vocab_size\": %d, \"hidden_size\": 64, \"intermediate_size\": 96,"
             " \"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"num_key_value_heads\": 2,"
             " \"max_position_embeddings\": 256, \"rms_norm_eps\": 1e-06, \"tie_word_embeddings\": true%s}",
             model_type, vocab, extra);
    tu_write(cfg, text);
    qlm_synth_opts o = {.config = cfg, .tokenizer = tok, .seed = 7, .have_seed = true, .out_dir = dir, .threads = 1};
    assert_ok(qlm_synth(&o));
    return dir;
}

/* Qwen's embedding has 151936 rows for 151669 tokens; keep the padding small here. */
static void tiny(const char *model_type, const char *types, const char *extra)
{
    const char *dir = synth_tiny(model_type, model_type, 151680, extra, tu_shared("models/tokenizers/qwen3-0.6b"));
    convert_all(dir, model_type, types);
    /* generation defaults: the values of the folder's generation_config.json */
    size_t len;
    char *text = tu_read(tu_shared("models/tokenizers/qwen3-0.6b/generation_config.json"), &len), out[1200];
    json_doc *doc;
    assert_ok(json_parse(text, len, &doc));
    free(text);
    const json_value *g = json_root(doc);
    snprintf(out, sizeof out, "%s.qlm", dir);
    assert_ok(convert(dir, out, QLM_DT_Q8));
    qlm_file *f;
    assert_ok(qlm_file_open(out, &f));
    assert_true(qlm_meta_f64_or(f, QLM_K_GEN_TEMP, -1) == json_get_f64(g, "temperature", -2));
    assert_true(qlm_meta_f64_or(f, QLM_K_GEN_TOP_P, -1) == json_get_f64(g, "top_p", -2));
    assert_int_equal(qlm_meta_i64_or(f, QLM_K_GEN_TOP_K, -1), json_get_i64(g, "top_k", -2));
    assert_false(qlm_meta_has(f, QLM_K_GEN_REP_PEN));
    qlm_file_close(f);
    remove(out);
    json_free(doc);
}

/* A tokenizer with more ids than embedding rows cannot be used. */
static void test_small_vocab(void **state)
{
    (void)state;
    const char *dir = synth_tiny("small-vocab", "llama", 320, "", tu_shared("models/tokenizers/smollm2-135m-instruct"));
    char out[1200];
    snprintf(out, sizeof out, "%s.qlm", dir);
    assert_status(convert(dir, out, QLM_DT_Q8), QLM_E_SHAPE);
    assert_non_null(strstr(qlm_errmsg(), "tokenizer has 49152 tokens"));
}

static void test_qwen2_tiny(void **state)
{
    (void)state;
    tiny("qwen2", "bf16 q4", ", \"rope_theta\": 1000000.0, \"use_sliding_window\": false");
}

static void test_qwen3_tiny(void **state)
{
    (void)state;
    tiny("qwen3", "f16 q8", ", \"head_dim\": 32, \"rope_parameters\": {\"rope_theta\": 1000000, \"rope_type\": \"default\"}");
}

/* Checkpoint that disagrees with its config: named errors, no output file. */
static void test_mismatch(void **state)
{
    (void)state;
    const char *dir = tu_tmp("llama3-tiny");
    char cfg[1200], out[1200];
    snprintf(cfg, sizeof cfg, "%s/config.json", dir);
    snprintf(out, sizeof out, "%s-bad.qlm", dir);
    size_t len;
    char *orig = tu_read(cfg, &len);
    char *bad = malloc(len + 64);
    char *at = strstr(orig, "\"intermediate_size\": 768");
    assert_non_null(at);
    snprintf(bad, len + 64, "%.*s\"intermediate_size\": 512%s", (int)(at - orig), orig,
             at + strlen("\"intermediate_size\": 768"));
    tu_write(cfg, bad);
    assert_status(convert(dir, out, QLM_DT_Q8), QLM_E_SHAPE);
    assert_non_null(strstr(qlm_errmsg(), "mlp.gate_proj"));
    FILE *fp = fopen(out, "r"); /* the failed conversion left nothing behind */
    assert_null(fp);
    at = strstr(orig, "\"tie_word_embeddings\": false");
    assert_non_null(at);
    snprintf(bad, len + 64, "%.*s\"tie_word_embeddings\": true%s", (int)(at - orig), orig,
             at + strlen("\"tie_word_embeddings\": false"));
    tu_write(cfg, bad); /* tied: lm_head.weight is tolerated, output.weight not written */
    assert_ok(convert(dir, out, QLM_DT_Q8));
    qlm_file *f;
    assert_ok(qlm_file_open(out, &f));
    assert_null(qlm_file_find(f, "output.weight"));
    qlm_file_close(f);
    remove(out);
    tu_write(cfg, orig);
    free(bad);
    free(orig);
}

/* Rewrite dir/model.safetensors (bf16) as two shards, the first F32 and the
 * second F16, with model.safetensors.index.json. Returns the tensor count. */
static size_t reshard(const char *dir)
{
    char path[1200], shard[2][1200];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    qlm_st *st;
    assert_ok(qlm_st_open(path, &st));
    size_t n = qlm_st_count(st), half = n / 2;
    FILE *idx;
    snprintf(shard[0], sizeof shard[0], "%s/model-00001-of-00002.safetensors", dir);
    snprintf(shard[1], sizeof shard[1], "%s/model-00002-of-00002.safetensors", dir);
    for (int k = 0; k < 2; k++) {
        qlm_st_writer *w;
        size_t lo = k ? half : 0, hi = k ? n : half;
        assert_ok(qlm_st_writer_open(shard[k], &w));
        for (size_t i = lo; i < hi; i++) {
            const qlm_st_tensor *t = qlm_st_at(st, i);
            assert_ok(qlm_st_writer_add(w, t->name, k ? QLM_ST_F16 : QLM_ST_F32, t->rank, t->dims));
        }
        for (size_t i = lo; i < hi; i++) {
            const qlm_st_tensor *t = qlm_st_at(st, i);
            float *x = malloc((size_t)t->n_elems * 4);
            src_row(t, 0, (size_t)t->n_elems, x);
            if (k) {
                uint16_t *h = (uint16_t *)x; /* in place: h[i] is written after x[i] is read */
                for (size_t e = 0; e < t->n_elems; e++)
                    h[e] = qlm_f32_to_f16(x[e]);
            }
            assert_ok(qlm_st_writer_data(w, x, (size_t)t->n_elems * (k ? 2 : 4)));
            free(x);
        }
        assert_ok(qlm_st_writer_finish(w));
    }
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    idx = fopen(path, "w");
    assert_non_null(idx);
    fputs("{\"metadata\": {}, \"weight_map\": {", idx);
    for (size_t i = 0; i < n; i++)
        fprintf(idx, "%s\"%s\": \"model-0000%d-of-00002.safetensors\"", i ? ", " : "", qlm_st_at(st, i)->name,
                i < half ? 1 : 2);
    fputs("}}\n", idx);
    fclose(idx);
    qlm_st_close(st);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    remove(path);
    return half;
}

/* F32 and F16 sources through a sharded index: f32 output is their exact
 * widening, f16 output copies F16 sources bit for bit. */
static void test_f32_f16_sharded(void **state)
{
    (void)state;
    const char *dir = synth_tiny("sharded", "llama", 49152, "", tu_shared("models/tokenizers/smollm2-135m-instruct"));
    reshard(dir);
    qlm_st *st;
    assert_ok(qlm_st_open_dir(dir, &st));
    const char *types[2] = {"f32", "f16"};
    for (int k = 0; k < 2; k++) {
        char out[1200];
        qlm_dtype type;
        assert_true(qlm_dtype_parse(types[k], &type));
        snprintf(out, sizeof out, "%s-%s.qlm", dir, types[k]);
        assert_ok(convert(dir, out, type));
        qlm_file *f;
        assert_ok(qlm_file_open(out, &f));
        qlm_hfconfig c;
        char cfg[1200];
        snprintf(cfg, sizeof cfg, "%s/config.json", dir);
        assert_ok(qlm_hfconfig_load(cfg, &c));
        qlm_hf_param *p;
        size_t n;
        assert_ok(qlm_hf_params(&c, &p, &n));
        for (size_t i = 0; i < n; i++) {
            const qlm_st_tensor *s = qlm_st_find(st, p[i].hf);
            const qlm_tensor *t = qlm_file_find(f, p[i].qlm);
            assert_non_null(t);
            if (t->dtype == QLM_DT_F32) {
                for (size_t e = 0; e < t->n_elems; e++) {
                    float want;
                    if (s->dtype == QLM_ST_F32) {
                        memcpy(&want, (const char *)s->data + 4 * e, 4);
                    } else {
                        uint16_t h;
                        memcpy(&h, (const char *)s->data + 2 * e, 2);
                        want = qlm_f16_to_f32(h);
                    }
                    assert_true(((const float *)t->data)[e] == want);
                }
            } else if (s->dtype == QLM_ST_F16) {
                assert_int_equal(t->dtype, QLM_DT_F16);
                assert_memory_equal(t->data, s->data, t->nbytes);
            }
        }
        free(p);
        qlm_file_close(f);
        remove(out);
    }
    qlm_st_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llama3_tiny),
        cmocka_unit_test(test_qwen2_tiny),
        cmocka_unit_test(test_qwen3_tiny),
        cmocka_unit_test(test_mismatch),
        cmocka_unit_test(test_small_vocab),
        cmocka_unit_test(test_f32_f16_sharded),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tu_tmpdir()); /* tens of MB of models; kept on failure */
    if (!failed && system(cmd) != 0)
        return 1;
    return failed;
}
