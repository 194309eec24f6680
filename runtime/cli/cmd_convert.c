/* qlm convert: Hugging Face folder / GGUF / llama2.c checkpoint -> .qlm. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "formats/convert/convert.h"
#include "runtime/cli/cli.h"
#include "runtime/quant/gptq_convert.h"

#define MAX_KEEP 64

static void usage(FILE *f)
{
    fprintf(f,
            "usage: qlm convert SRC -o OUT.qlm [--type TYPE] [--keep PATTERN=TYPE]...\n"
            "                   [--tokenizer TOK.bin] [--threads N] [--quiet]\n"
            "                   [--method rtn|rtn-mse|gptq] [--calib FILE] [--calib-tokens N]\n"
            "                   [--calib-ctx N] [--damp X] [--act-order]\n"
            "\n"
            "SRC is a Hugging Face folder (config.json + *.safetensors + tokenizer files),\n"
            "a .gguf file, or a llama2.c checkpoint (which needs --tokenizer).\n"
            "\n"
            "  --type TYPE           f32|f16|bf16|q8|q4 for 2-D weights (default q8), or a\n"
            "                        GPU block format: fp8 (E4M3, f32 scale per row),\n"
            "                        fp8-g128 (f32 scale per 128), nvfp4, mxfp4, w4a16\n"
            "                        (int4, f16 scale + zero per 128; docs/GPU-NUMERICS.md).\n"
            "                        1-D tensors stay f32; in q4 files token_embd/output\n"
            "                        default to q8. Rows whose length is not a multiple of\n"
            "                        the block (32, 16 nvfp4, 128 fp8-g128/w4a16) are\n"
            "                        stored f16 (f32 from f32).\n"
            "  --keep PATTERN=TYPE   store tensors whose qlm name matches the glob PATTERN\n"
            "                        as TYPE (first match wins), e.g. --keep 'output.weight=q8'\n"
            "  --method M            how q4 blocks are chosen: rtn (absmax scale, GGUF Q4_0's\n"
            "                        rule; default), rtn-mse (per-block scale search for the\n"
            "                        least squared error), gptq (calibrated: GPTQ error\n"
            "                        feedback on the inputs the model sees; needs --calib)\n"
            "  --calib FILE          gptq calibration text (any text; not your evaluation text)\n"
            "  --calib-tokens N      calibration token budget (default 8192)\n"
            "  --calib-ctx N         tokens per calibration sequence (default 512, at most the\n"
            "                        model's context)\n"
            "  --damp X              gptq damping, a fraction of mean(diag H) (default 0.01)\n"
            "  --act-order           gptq: quantize columns by decreasing activation energy\n"
            "  --tokenizer TOK.bin   llama2.c tokenizer for a llama2.c checkpoint\n"
            "  --threads N           worker threads (default: all)\n"
            "  --quiet               no notes or summary\n");
}

static int parse_keep(const char *v, qlm_keep_rule *r)
{
    const char *eq = strrchr(v, '=');
    if (!eq || eq == v || (size_t)(eq - v) >= sizeof r->pattern)
        return 0;
    memcpy(r->pattern, v, (size_t)(eq - v));
    r->pattern[eq - v] = 0;
    return qlm_dtype_parse(eq + 1, &r->type) && r->type != QLM_DT_I32;
}

/* One line redrawn in place on a terminal: percentage of the source bytes. */
static void progress_bar(void *user, uint64_t bytes_done, uint64_t bytes_total, size_t done, size_t total,
                         const char *tensor)
{
    (void)user;
    int pct = bytes_total ? (int)(100.0 * (double)bytes_done / (double)bytes_total) : 100;
    fprintf(stderr, "\r[%3d%%] %zu/%zu %-40.40s", pct, done, total, tensor);
    if (done == total)
        fputc('\n', stderr);
    fflush(stderr);
}

int cmd_convert(int argc, char **argv)
{
    static qlm_keep_rule keep[MAX_KEEP];
    qlm_convert_opts o = {.type = QLM_DT_Q8, .keep = keep, .progress = isatty(2) ? progress_bar : NULL};
    qlm_gptq_convert_opts g = {.gptq = {.damp = 0.01, .scale = QLM_Q4_RTN_MSE}};
    bool gptq = false, method_set = false, damp_set = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int64_t n;
        if (cli_is_help(a)) {
            usage(stdout);
            return 0;
        }
        if (strcmp(a, "--quiet") == 0) {
            o.quiet = true;
            o.progress = NULL;
            continue;
        }
        if (strcmp(a, "--act-order") == 0) {
            g.gptq.act_order = true;
            continue;
        }
        if (a[0] != '-') {
            if (o.src)
                return cli_usage_error("convert", "more than one source: %s", a);
            o.src = a;
            continue;
        }
        if (i + 1 >= argc)
            return cli_usage_error("convert", "%s: unknown flag or missing value", a);
        const char *v = argv[++i];
        if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
            o.out = v;
        } else if (strcmp(a, "--type") == 0) {
            if (!qlm_dtype_parse(v, &o.type) || o.type == QLM_DT_I32)
                return cli_usage_error("convert", "--type: '%s' is not f32|f16|bf16|q8|q4|fp8|fp8-g128|nvfp4|mxfp4|w4a16", v);
        } else if (strcmp(a, "--keep") == 0) {
            if (o.n_keep == MAX_KEEP)
                return cli_usage_error("convert", "at most %d --keep rules", MAX_KEEP);
            if (!parse_keep(v, &keep[o.n_keep++]))
                return cli_usage_error("convert", "--keep: '%s' is not PATTERN=TYPE (a --type name)", v);
        } else if (strcmp(a, "--method") == 0) {
            method_set = true;
            if (strcmp(v, "rtn") == 0)
                o.q4_method = QLM_Q4_RTN;
            else if (strcmp(v, "rtn-mse") == 0)
                o.q4_method = QLM_Q4_RTN_MSE;
            else if (strcmp(v, "gptq") == 0)
                gptq = true;
            else
                return cli_usage_error("convert", "--method: '%s' is not rtn, rtn-mse or gptq", v);
        } else if (strcmp(a, "--calib") == 0) {
            g.calib = v;
        } else if (strcmp(a, "--calib-tokens") == 0) {
            if (!cli_parse_i64(v, 2, INT64_C(1) << 30, &g.calib_tokens))
                return cli_usage_error("convert", "--calib-tokens: '%s' is not in 2..2^30", v);
        } else if (strcmp(a, "--calib-ctx") == 0) {
            if (!cli_parse_i64(v, 2, 1 << 20, &g.calib_ctx))
                return cli_usage_error("convert", "--calib-ctx: '%s' is not in 2..2^20", v);
        } else if (strcmp(a, "--damp") == 0) {
            damp_set = true;
            if (!cli_parse_f64(v, 0.0, 1e6, &g.gptq.damp))
                return cli_usage_error("convert", "--damp: '%s' is not a number in [0, 1e6]", v);
        } else if (strcmp(a, "--tokenizer") == 0) {
            o.tokenizer = v;
        } else if (strcmp(a, "--threads") == 0) {
            if (!cli_parse_i64(v, 1, 1024, &n))
                return cli_usage_error("convert", "--threads: '%s' is not in 1..1024", v);
            o.threads = (int)n;
        } else {
            return cli_usage_error("convert", "unknown flag %s", a);
        }
    }
    if (!o.src || !o.out)
        return cli_usage_error("convert", "a source and -o OUT.qlm are required");
    if (method_set && o.type != QLM_DT_Q4)
        return cli_usage_error("convert", "--method applies to --type q4 only");
    if (gptq && !g.calib)
        return cli_usage_error("convert", "--method gptq needs --calib FILE");
    if (!gptq && (g.calib || g.calib_tokens || g.calib_ctx || g.gptq.act_order || damp_set))
        return cli_usage_error("convert", "--calib, --calib-tokens, --calib-ctx, --damp and --act-order need --method gptq");
    qlm_status rc = gptq ? qlm_convert_gptq(&o, &g) : qlm_convert(&o);
    return rc ? cli_error(rc) : 0;
}
