/* Shared by the fast and slow synth tests: generate a synth.json model with
 * `qlm synth` semantics and compare the tensor list, shapes and the sha256 of
 * every tensor's bf16 bytes with shared/golden/synth.json. */
#ifndef QLM_TEST_SYNTH_CHECK_H
#define QLM_TEST_SYNTH_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/common/hash.h"
#include "formats/common/json.h"
#include "formats/convert/synth.h"
#include "formats/safetensors/safetensors.h"
#include "tests/common/testutil.h"

static const char *synth_tokenizer_dir(const char *which)
{
    return strcmp(which, "qwen3") == 0 ? tu_shared("models/tokenizers/qwen3-0.6b")
                                       : tu_shared("models/tokenizers/smollm2-135m-instruct");
}

static const json_value *synth_find_model(const json_doc *doc, const char *name)
{
    const json_value *models = json_get(json_root(doc), "models");
    for (size_t i = 0; models && i < models->n; i++)
        if (strcmp(json_get_str(json_at(models, i), "name"), name) == 0)
            return json_at(models, i);
    fail_msg("synth.json has no model %s", name);
    return NULL;
}

/* Generates model `name` into out_dir (via "synth.json#name") and checks it. */
static void synth_check(const char *name, const char *out_dir)
{
    char ref[1200];
    const char *synth_json = tu_shared("golden/synth.json");
    size_t len;
    char *text = tu_read(synth_json, &len);
    json_doc *doc;
    assert_ok(json_parse(text, len, &doc));
    free(text);
    const json_value *m = synth_find_model(doc, name);
    snprintf(ref, sizeof ref, "%s#%s", synth_json, name);
    qlm_synth_opts o = {.config = ref, .tokenizer = synth_tokenizer_dir(json_get_str(m, "tokenizer")),
                        .out_dir = out_dir, .threads = 1};
    assert_ok(qlm_synth(&o));

    char path[1200];
    snprintf(path, sizeof path, "%s/model.safetensors", out_dir);
    qlm_st *st;
    assert_ok(qlm_st_open(path, &st));
    const json_value *tensors = json_get(m, "tensors");
    assert_int_equal(qlm_st_count(st), tensors->n);
    for (size_t i = 0; i < tensors->n; i++) {
        const json_value *t = json_at(tensors, i);
        const qlm_st_tensor *s = qlm_st_at(st, i); /* same order: named_parameters() */
        assert_string_equal(s->name, json_get_str(t, "name"));
        assert_int_equal(s->dtype, QLM_ST_BF16);
        const json_value *shape = json_get(t, "shape");
        assert_int_equal(s->rank, shape->n);
        for (size_t k = 0; k < shape->n; k++)
            assert_int_equal(s->dims[k], json_at(shape, k)->i);
        char hex[65];
        qlm_sha256_hex(s->data, (size_t)s->nbytes, hex);
        if (strcmp(hex, json_get_str(t, "sha256_bf16")) != 0)
            fail_msg("%s %s: sha256 %s, synth.json says %s", name, s->name, hex, json_get_str(t, "sha256_bf16"));
    }
    qlm_st_close(st);
    /* config.json round-trips the model's config; the tokenizer came along */
    snprintf(path, sizeof path, "%s/config.json", out_dir);
    text = tu_read(path, &len);
    json_doc *cfg;
    assert_ok(json_parse(text, len, &cfg));
    free(text);
    const json_value *want = json_get(m, "config"), *got = json_root(cfg);
    assert_int_equal(got->n, want->n);
    assert_int_equal(json_get_i64(got, "hidden_size", 0), json_get_i64(want, "hidden_size", -1));
    assert_string_equal(json_get_str(got, "model_type"), json_get_str(want, "model_type"));
    json_free(cfg);
    snprintf(path, sizeof path, "%s/tokenizer.json", out_dir);
    free(tu_read(path, NULL));
    json_free(doc);
}

#endif
