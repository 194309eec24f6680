/* qlm ref: run a prompt under one numeric path and dump every linear layer's
 * input, operand and output, each block's output and the logits into a
 * .qref.zst (formats/qref/qref.h, docs/GPU-NUMERICS.md section 6). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/common/json.h"
#include "formats/common/mem.h"
#include "formats/qref/qref.h"
#include "runtime/cli/cli.h"
#include "runtime/model/model.h"
#include "runtime/tokenizer/tokenizer.h"

#define MAX_REF_TOKENS 4096

static void usage(FILE *f)
{
    fprintf(f, "usage: qlm ref -m MODEL.qlm -p PROMPT -o OUT.qref.zst [--path P] [-t N] [--no-bos]\n"
               "\n"
               "Runs the prompt once (one batch) and writes, per linear layer, its input\n"
               "(NAME.x, f32), the operand the GPU kernel reads (NAME.a: f16, bf16 or E4M3\n"
               "codes, and NAME.a_scale per token for fp8-w8a8), its output (NAME.y, f32),\n"
               "each block's residual output (blk.N.out) and the logits (output.y), as a\n"
               "zstd-compressed container (docs/GPU-NUMERICS.md section 6).\n"
               "\n"
               "  -m, --model FILE    model (.qlm)\n"
               "  -p, --prompt TEXT   prompt (special tokens are parsed; at most %d tokens)\n"
               "  -o, --output FILE   the .qref.zst to write\n"
               "  --path P            native (default), f32, bf16, w4a16, fp8-w8a8, nvfp4, mxfp4\n"
               "  -t, --threads N     worker threads (the dump does not depend on them)\n"
               "  --no-bos            do not add BOS\n",
            MAX_REF_TOKENS);
}

typedef struct {
    const char *model, *prompt, *out;
    qlm_path path;
    int threads;
    bool no_bos;
} ref_opts;

static int parse(int argc, char **argv, ref_opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (cli_is_help(a)) {
            usage(stdout);
            return -1;
        }
        if (strcmp(a, "--no-bos") == 0) {
            o->no_bos = true;
            continue;
        }
        int rc = cli_option_value("ref", " -m --model -p --prompt -o --output --path -t --threads ", argc, argv, &i, &v);
        if (rc)
            return rc;
        int64_t n;
        if (strcmp(a, "-m") == 0 || strcmp(a, "--model") == 0)
            o->model = v;
        else if (strcmp(a, "-p") == 0 || strcmp(a, "--prompt") == 0)
            o->prompt = v;
        else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0)
            o->out = v;
        else if (strcmp(a, "--path") == 0) {
            if (!qlm_path_parse(v, &o->path))
                return cli_usage_error("ref", "--path: '%s' is not native|f32|bf16|w4a16|fp8-w8a8|nvfp4|mxfp4", v);
        } else {
            if (!cli_parse_i64(v, 1, 256, &n))
                return cli_usage_error("ref", "%s: '%s' is not in 1..256", a, v);
            o->threads = (int)n;
        }
    }
    if (!o->model || !o->prompt || !o->out)
        return cli_usage_error("ref", "-m MODEL, -p PROMPT and -o OUT are required");
    return 0;
}

/* The container's JSON metadata: what produced the dump. */
static char *meta_json(const ref_opts *o, const qlm_hparams *hp, const int32_t *ids, size_t n)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m)
        return NULL;
    fprintf(m, "{\"format\": 1, \"model\": ");
    json_write_string(m, o->model, strlen(o->model));
    fprintf(m, ", \"path\": \"%s\", \"n_vocab\": %lld, \"dim\": %lld, \"n_layers\": %lld, \"tokens\": [",
            qlm_path_name(o->path), (long long)hp->n_vocab, (long long)hp->dim, (long long)hp->n_layers);
    for (size_t i = 0; i < n; i++)
        fprintf(m, "%s%d", i ? ", " : "", (int)ids[i]);
    fprintf(m, "]}");
    fclose(m);
    return buf;
}

static void on_dump(void *user, const char *name, uint32_t dtype, int64_t rows, int64_t cols, const void *data)
{
    /* the dump's dtype ids are the container's: f32 0, f16 1, bf16 2, E4M3 16 */
    qlm_qref_add(user, name, dtype, (uint64_t)rows, (uint64_t)cols, data);
}

static qlm_status run_ref(const ref_opts *o, qlm_model *m, const int32_t *ids, size_t n)
{
    const qlm_hparams *hp = qlm_model_hparams(m);
    qlm_ctx_params cp = {.n_ctx = (int64_t)n, .n_threads = o->threads, .n_batch = (int64_t)n};
    qlm_ctx *c = NULL;
    qlm_qref_writer *w = NULL;
    char what[64];
    snprintf(what, sizeof what, "the logits of %zu prompt tokens", n);
    /* n is a prompt's length, V a validated model size: the product fits */
    qlm_status st = qlm_mem_check(sizeof(float) * n * (uint64_t)hp->n_vocab, what);
    if (st)
        return st;
    float *logits = malloc(sizeof(float) * n * (size_t)hp->n_vocab);
    char *meta = meta_json(o, hp, ids, n);
    st = !logits || !meta ? qlm_fail(QLM_E_NOMEM, "out of memory") : QLM_OK;
    if (!st && !(st = qlm_ctx_new(m, &cp, &c)) && !(st = qlm_ctx_set_path(c, o->path)) &&
        !(st = qlm_qref_writer_new(meta, &w))) {
        qlm_ctx_set_dump(c, on_dump, w);
        st = qlm_ctx_eval(c, ids, (int64_t)n, logits, true);
        st = st ? st : qlm_qref_finish(w, o->out);
        w = st ? w : NULL;
    }
    qlm_qref_writer_free(w);
    qlm_ctx_free(c);
    free(meta);
    free(logits);
    return st;
}

int cmd_ref(int argc, char **argv)
{
    ref_opts o = {0};
    int rc = parse(argc, argv, &o);
    if (rc)
        return rc < 0 ? 0 : rc;
    qlm_model *m;
    qlm_tokenizer *tok = NULL;
    int32_t *ids = NULL;
    size_t n = 0;
    qlm_status st = qlm_model_open(o.model, &m);
    if (st)
        return cli_error(st);
    if (!(st = qlm_tok_load_qlm(qlm_model_file(m), &tok))) {
        qlm_tok_encode_opts eo = {qlm_tok_add_bos(tok) && !o.no_bos, true};
        st = qlm_tok_encode(tok, o.prompt, strlen(o.prompt), &eo, &ids, &n);
    }
    if (!st && (n == 0 || n > MAX_REF_TOKENS))
        st = qlm_fail(QLM_E_LIMIT, "the prompt has %zu tokens; qlm ref takes 1..%d", n, MAX_REF_TOKENS);
    if (!st)
        st = run_ref(&o, m, ids, n);
    free(ids);
    qlm_tok_free(tok);
    qlm_model_close(m);
    return st ? cli_error(st) : 0;
}
