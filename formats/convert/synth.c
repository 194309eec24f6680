/* `qlm synth`: config (file or synth.json#MODEL) + tokenizer folder + seed ->
 * a Hugging Face folder with generated bf16 weights. */
#include <errno.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "formats/common/json.h"
#include "formats/common/mapfile.h"
#include "formats/convert/hfconfig.h"
#include "formats/convert/synth.h"
#include "formats/safetensors/safetensors.h"

#define CHUNK (1u << 22) /* elements generated and written at a time */

/* "synth.json#NAME" -> that model's "config" object (and its seed). */
static qlm_status find_model(const json_value *root, const char *name, const json_value **config, int64_t *seed)
{
    const json_value *models = json_get(root, "models");
    for (size_t i = 0; models && i < models->n; i++) {
        const json_value *m = json_at(models, i);
        const char *n = json_get_str(m, "name");
        if (n && strcmp(n, name) == 0) {
            *config = json_get(m, "config");
            *seed = json_get_i64(m, "seed", -1);
            if (!*config)
                return qlm_fail(QLM_E_MISSING, "synth.json model %s has no \"config\"", name);
            return QLM_OK;
        }
    }
    return qlm_fail(QLM_E_MISSING, "synth.json has no model named \"%.64s\"", name);
}

/* Parse --config; *config points into *doc. */
static qlm_status load_config(const qlm_synth_opts *o, json_doc **doc, const json_value **config, uint64_t *seed)
{
    char path[4096];
    const char *hash = strrchr(o->config, '#');
    size_t plen = hash ? (size_t)(hash - o->config) : strlen(o->config);
    if (plen >= sizeof path)
        return qlm_fail(QLM_E_ARG, "path too long: %s", o->config);
    memcpy(path, o->config, plen);
    path[plen] = 0;
    qlm_status rc = json_parse_file(path, 64u << 20, doc);
    if (rc)
        return rc;
    int64_t model_seed = -1;
    *config = json_root(*doc);
    if (hash && (rc = find_model(*config, hash + 1, config, &model_seed)))
        return rc;
    if (o->have_seed)
        *seed = o->seed;
    else if (model_seed >= 0)
        *seed = (uint64_t)model_seed;
    else
        return qlm_fail(QLM_E_ARG, "synth: --seed is required unless --config names a synth.json model");
    return QLM_OK;
}

static qlm_status write_config(const char *dir, const json_value *config)
{
    char path[4096];
    qlm_status rc = qlm_path_join(path, sizeof path, dir, "config.json");
    if (rc)
        return rc;
    FILE *f = fopen(path, "w");
    if (!f)
        return qlm_fail(QLM_E_IO, "cannot create %s: %s", path, strerror(errno));
    json_write_value(f, config, 2, 0);
    fputc('\n', f);
    if (fclose(f) != 0)
        return qlm_fail(QLM_E_IO, "cannot write %s: %s", path, strerror(errno));
    return QLM_OK;
}

static qlm_status copy_file(const char *from, const char *to)
{
    qlm_map m;
    qlm_status rc = qlm_map_open(from, &m);
    if (rc)
        return rc;
    FILE *f = fopen(to, "wb");
    if (!f) {
        qlm_map_close(&m);
        return qlm_fail(QLM_E_IO, "cannot create %s: %s", to, strerror(errno));
    }
    int ok = fwrite(m.data, 1, m.size, f) == m.size;
    ok &= fclose(f) == 0;
    qlm_map_close(&m);
    return ok ? QLM_OK : qlm_fail(QLM_E_IO, "cannot write %s: %s", to, strerror(errno));
}

/* The tokenizer files a Hugging Face folder may carry; tokenizer.json is required. */
static qlm_status copy_tokenizer(const char *from_dir, const char *to_dir)
{
    static const char *const files[] = {"tokenizer.json", "tokenizer_config.json", "chat_template.jinja",
                                        "generation_config.json", "special_tokens_map.json", "vocab.json",
                                        "merges.txt"};
    char from[4096], to[4096];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        qlm_status rc = qlm_path_join(from, sizeof from, from_dir, files[i]);
        if (!rc)
            rc = qlm_path_join(to, sizeof to, to_dir, files[i]);
        if (rc)
            return rc;
        if (!qlm_is_file(from)) {
            if (i == 0)
                return qlm_fail(QLM_E_MISSING, "synth: %s has no tokenizer.json", from_dir);
            continue;
        }
        if ((rc = copy_file(from, to)))
            return rc;
    }
    return QLM_OK;
}

/* Generate one parameter chunk by chunk (OpenMP over elements) and append it. */
static qlm_status write_param(qlm_st_writer *w, const qlm_hf_param *p, uint64_t seed, int threads, uint16_t *buf)
{
    qlm_synth_gen g;
    qlm_status rc = qlm_synth_gen_init(&g, p->hf, p->rank, p->dims, seed);
    uint64_t n = p->dims[0] * (p->rank == 2 ? p->dims[1] : 1);
    for (uint64_t first = 0; !rc && first < n; first += CHUNK) {
        size_t count = (size_t)(n - first < CHUNK ? n - first : CHUNK);
#pragma omp parallel for num_threads(threads) schedule(static)
        for (size_t k = 0; k < count; k += 4096)
            qlm_synth_gen_bf16(&g, first + k, count - k < 4096 ? count - k : 4096, buf + k);
        rc = qlm_st_writer_data(w, buf, count * 2);
    }
    return rc;
}

static qlm_status write_weights(const char *dir, const qlm_hfconfig *c, uint64_t seed, int threads)
{
    char path[4096];
    qlm_hf_param *p;
    size_t n;
    qlm_st_writer *w = NULL;
    uint16_t *buf = malloc(CHUNK * sizeof *buf);
    qlm_status rc = buf ? qlm_path_join(path, sizeof path, dir, "model.safetensors") : qlm_fail(QLM_E_NOMEM, "out of memory");
    if (rc || (rc = qlm_hf_params(c, &p, &n))) {
        free(buf);
        return rc;
    }
    rc = qlm_st_writer_open(path, &w);
    for (size_t i = 0; !rc && i < n; i++)
        rc = qlm_st_writer_add(w, p[i].hf, QLM_ST_BF16, p[i].rank, p[i].dims);
    for (size_t i = 0; !rc && i < n; i++)
        rc = write_param(w, &p[i], seed, threads, buf);
    if (w)
        rc = rc ? (qlm_st_writer_abort(w), rc) : qlm_st_writer_finish(w);
    free(p);
    free(buf);
    return rc;
}

qlm_status qlm_synth(const qlm_synth_opts *o)
{
    json_doc *doc = NULL;
    const json_value *config;
    qlm_hfconfig c;
    uint64_t seed = 0;
    int threads = o->threads > 0 ? o->threads : omp_get_max_threads();
    qlm_status rc = load_config(o, &doc, &config, &seed);
    if (!rc)
        rc = qlm_hfconfig_parse(config, &c);
    if (!rc && mkdir(o->out_dir, 0777) != 0 && errno != EEXIST)
        rc = qlm_fail(QLM_E_IO, "cannot create %s: %s", o->out_dir, strerror(errno));
    if (!rc)
        rc = write_config(o->out_dir, config);
    if (!rc)
        rc = copy_tokenizer(o->tokenizer, o->out_dir);
    if (!rc)
        rc = write_weights(o->out_dir, &c, seed, threads);
    json_free(doc);
    return rc;
}
