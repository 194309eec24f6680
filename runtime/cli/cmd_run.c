/* qlm run: generate text from a prompt (or many, --batch). Uses include/qlm.h only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "formats/common/mapfile.h"
#include "runtime/cli/cli.h"
#include "runtime/cli/run_gen.h"

#define MAX_PROMPT_BYTES ((size_t)256 << 20)

static void usage(FILE *f)
{
    fprintf(f,
            "usage: qlm run -m MODEL.qlm [-p PROMPT | -f FILE | --prompt-ids IDS] [options]\n"
            "       qlm run -m MODEL.qlm --batch FILE.jsonl [options]\n"
            "\n"
            "Streams the continuation of the prompt to stdout (the prompt is echoed first).\n"
            "With no prompt the model starts from BOS alone.\n"
            "\n"
            "  -m, --model FILE       model (.qlm)\n"
            "  -p, --prompt TEXT      prompt text (special tokens such as <|im_start|> are parsed)\n"
            "  -f, --file FILE        read the prompt from FILE\n"
            "  --prompt-ids IDS       comma-separated token ids, fed as is (no BOS added)\n"
            "  -n, --n-predict N      tokens to generate (default: until end of generation or a full context)\n"
            "  --temp T               temperature, 0 = greedy (default 0.8 or the model's)\n"
            "  --top-k K              keep the K most likely tokens, 0 = off (default 40)\n"
            "  --top-p P              nucleus sampling, 1 = off (default 0.95)\n"
            "  --min-p P              drop tokens below P x the top probability, 0 = off (default 0.05)\n"
            "  --repeat-penalty R     penalty for recent tokens, 1 = off (default 1)\n"
            "  --repeat-last-n N      window of the penalty, -1 = everything (default 64)\n"
            "  --seed S               random seed (default: from the clock, shown by --verbose)\n"
            "  --sampler NAME         default | llama2c (llama2.c run.c's sampler: temperature + top-p)\n"
            "  --stop STRING          stop when STRING is generated (repeatable, up to %d)\n"
            "  -t, --threads N        worker threads (default: physical cores, or QLM_THREADS)\n"
            "  -c, --ctx N            context size in tokens (default: the model's, capped by memory)\n"
            "  --kv f32|q8            KV cache storage: q8 is int8 blocks with f32 scales, about 3.6x\n"
            "                         less memory at head_dim 64/128 (default f32; size shown by -v)\n"
            "  --no-bos               do not add BOS to a text prompt\n"
            "  --dump-logits FILE     write float32 LE logits of every prompt position [n_prompt, n_vocab];\n"
            "                         with -n 0, stop after the prompt\n"
            "  --batch FILE           one JSON object per line in, one per line out (see README)\n"
            "  --path P               numeric path of the linear layers: native (default; GPU\n"
            "                         block formats run their GPU contract), f32, bf16, w4a16,\n"
            "                         fp8-w8a8, nvfp4, mxfp4 (docs/GPU-NUMERICS.md)\n"
            "  -v, --verbose          load time and speeds on stderr\n",
            RUN_MAX_STOPS);
}

typedef struct {
    const char *model, *prompt, *file, *prompt_ids, *dump, *batch;
    int64_t n_predict, ctx, threads;
    int kv; /* --kv: QLM_KV_* */
    bool no_bos, verbose, seed_set, temp_set, top_p_set, top_k_set, rep_set;
    qlm_sampling_params sp;
    const char *stops[RUN_MAX_STOPS];
    int n_stops;
    const char *path; /* --path: a numeric path name (qlm_session_set_path), NULL: native */
} run_opts;

static const char *const k_value_flags[] = {
    "-m", "--model", "-p", "--prompt", "-f", "--file", "--prompt-ids", "--dump-logits", "--batch", "-n",
    "--n-predict", "-c", "--ctx", "-t", "--threads", "--temp", "--top-k", "--top-p", "--min-p",
    "--repeat-penalty", "--repeat-last-n", "--seed", "--sampler", "--stop", "--path", "--kv"};

static bool takes_value(const char *a)
{
    for (size_t i = 0; i < sizeof k_value_flags / sizeof k_value_flags[0]; i++)
        if (strcmp(a, k_value_flags[i]) == 0)
            return true;
    return false;
}

static int parse_args(int argc, char **argv, run_opts *o)
{
    o->sp = qlm_sampling_params_default();
    o->n_predict = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) {
            usage(stdout);
            return -1;
        }
        bool flag = strcmp(a, "--no-bos") == 0 || strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0;
        if (flag) {
            if (a[2] == 'n')
                o->no_bos = true;
            else
                o->verbose = true;
            continue;
        }
        if (!takes_value(a))
            return cli_usage_error("run", "unknown option '%s'", a);
        if (i + 1 >= argc)
            return cli_usage_error("run", "%s needs a value", a);
        const char *v = argv[++i];
        double d;
        int64_t n;
#define IS(s) (strcmp(a, s) == 0)
#define NUM_I(lo, hi, dst)                                                                         \
    do {                                                                                           \
        if (!cli_parse_i64(v, lo, hi, &n))                                                         \
            return cli_usage_error("run", "%s: '%s' is not an integer in [%lld, %lld]", a, v,      \
                                   (long long)(lo), (long long)(hi));                              \
        dst = n;                                                                                   \
    } while (0)
#define NUM_F(lo, hi, dst)                                                                         \
    do {                                                                                           \
        if (!cli_parse_f64(v, lo, hi, &d))                                                         \
            return cli_usage_error("run", "%s: '%s' is not a number in [%g, %g]", a, v, (double)(lo), (double)(hi)); \
        dst = d;                                                                                   \
    } while (0)
        if (IS("-m") || IS("--model"))
            o->model = v;
        else if (IS("-p") || IS("--prompt"))
            o->prompt = v;
        else if (IS("-f") || IS("--file"))
            o->file = v;
        else if (IS("--prompt-ids"))
            o->prompt_ids = v;
        else if (IS("--dump-logits"))
            o->dump = v;
        else if (IS("--batch"))
            o->batch = v;
        else if (IS("--path"))
            o->path = v;
        else if (IS("-n") || IS("--n-predict"))
            NUM_I(-1, INT32_MAX, o->n_predict);
        else if (IS("-c") || IS("--ctx"))
            NUM_I(1, 1 << 20, o->ctx);
        else if (IS("--kv")) {
            int rc = cli_parse_kv("run", v, &o->kv);
            if (rc)
                return rc;
        }
        else if (IS("-t") || IS("--threads"))
            NUM_I(1, 256, o->threads);
        else if (IS("--temp")) {
            NUM_F(0, 1e6, o->sp.temp);
            o->temp_set = true;
        } else if (IS("--top-k")) {
            NUM_I(0, INT32_MAX, o->sp.top_k);
            o->top_k_set = true;
        } else if (IS("--top-p")) {
            NUM_F(1e-9, 1, o->sp.top_p);
            o->top_p_set = true;
        } else if (IS("--min-p"))
            NUM_F(0, 1, o->sp.min_p);
        else if (IS("--repeat-penalty")) {
            NUM_F(1e-9, 1e6, o->sp.repeat_penalty);
            o->rep_set = true;
        } else if (IS("--repeat-last-n"))
            NUM_I(-1, INT32_MAX, o->sp.repeat_last_n);
        else if (IS("--seed")) {
            if (!cli_parse_i64(v, 0, INT64_MAX, &n))
                return cli_usage_error("run", "--seed: '%s' is not a non-negative integer", v);
            o->sp.seed = (uint64_t)n;
            o->seed_set = true;
        } else if (IS("--sampler")) {
            if (strcmp(v, "default") == 0)
                o->sp.method = QLM_SAMPLING_HF;
            else if (strcmp(v, "llama2c") == 0)
                o->sp.method = QLM_SAMPLING_LLAMA2C;
            else
                return cli_usage_error("run", "--sampler: unknown sampler '%s' (default, llama2c)", v);
        } else if (IS("--stop")) {
            if (o->n_stops == RUN_MAX_STOPS)
                return cli_usage_error("run", "too many --stop strings (at most %d)", RUN_MAX_STOPS);
            if (!*v)
                return cli_usage_error("run", "--stop: empty string");
            o->stops[o->n_stops++] = v;
        }
#undef IS
#undef NUM_I
#undef NUM_F
    }
    if (!o->model)
        return cli_usage_error("run", "-m MODEL is required");
    if (!!o->prompt + !!o->file + !!o->prompt_ids + !!o->batch > 1)
        return cli_usage_error("run", "give only one of -p, -f, --prompt-ids and --batch");
    if (o->batch && o->dump)
        return cli_usage_error("run", "--dump-logits does not combine with --batch");
    return 0;
}

/* Model defaults (generation_config.json) under explicit flags; run.c's
 * defaults for its sampler. */
static void sampling_defaults(run_opts *o, const qlm_lm *lm)
{
    if (o->sp.method == QLM_SAMPLING_LLAMA2C) {
        if (!o->temp_set)
            o->sp.temp = 1.0;
        if (!o->top_p_set)
            o->sp.top_p = 0.9;
    } else {
        qlm_sampling_params m;
        qlm_sampling_params_model(lm, &m);
        if (!o->temp_set)
            o->sp.temp = m.temp;
        if (!o->top_p_set)
            o->sp.top_p = m.top_p;
        if (!o->top_k_set)
            o->sp.top_k = m.top_k;
        if (!o->rep_set)
            o->sp.repeat_penalty = m.repeat_penalty;
    }
    if (!o->seed_set)
        o->sp.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
}

static qlm_status parse_ids(const char *s, int32_t **ids, size_t *n)
{
    size_t cap = 1;
    for (const char *p = s; *p; p++)
        cap += *p == ',';
    int32_t *v = malloc(cap * sizeof *v);
    if (!v)
        return qlm_fail(QLM_E_NOMEM, "out of memory for --prompt-ids");
    size_t k = 0;
    const char *p = s;
    for (;;) {
        char *end;
        long long x = strtoll(p, &end, 10);
        if (end == p || x < 0 || x > INT32_MAX || (*end && *end != ',')) {
            free(v);
            return qlm_fail(QLM_E_ARG, "--prompt-ids: '%s' is not a comma-separated list of token ids", s);
        }
        v[k++] = (int32_t)x;
        if (!*end)
            break;
        p = end + 1;
    }
    *ids = v;
    *n = k;
    return QLM_OK;
}

/* Token ids of the prompt: --prompt-ids, text (-p/-f), or BOS alone. */
static qlm_status prompt_ids(const run_opts *o, const run_env *env, int32_t **ids, size_t *n)
{
    if (o->prompt_ids)
        return parse_ids(o->prompt_ids, ids, n);
    qlm_lm_info info = {.size = sizeof info};
    qlm_lm_get_info(env->lm, &info);
    if (!o->prompt && !o->file) {
        if (!env->has_tok || info.bos < 0)
            return qlm_fail(QLM_E_ARG, "no prompt given and the model has no BOS token to start from");
        if (!(*ids = malloc(sizeof **ids)))
            return qlm_fail(QLM_E_NOMEM, "out of memory");
        **ids = info.bos;
        *n = 1;
        return QLM_OK;
    }
    if (!env->has_tok)
        return qlm_fail(QLM_E_MISSING, "the model has no tokenizer: give the prompt with --prompt-ids");
    char *text = (char *)o->prompt;
    size_t len = o->prompt ? strlen(o->prompt) : 0;
    qlm_status st;
    if (o->file && (st = qlm_read_file(o->file, MAX_PROMPT_BYTES, &text, &len)) != QLM_OK)
        return st;
    /* qlm.h's buffers are malloc'd: free() releases them like the CLI's own */
    st = qlm_tokenize(env->lm, text, len, o->no_bos ? 0 : -1, 1, ids, n);
    if (o->file)
        free(text);
    return st;
}

static int run_main(run_opts *o)
{
    double t0 = run_now();
    run_env env;
    int32_t *ids = NULL;
    size_t n_ids = 0;
    int rc = 1;
    qlm_status st = run_env_open(&env, o->model, o->ctx, (int)o->threads, o->kv);
    if (st != QLM_OK)
        return cli_error(st);
    sampling_defaults(o, env.lm);
    if (o->path && (st = qlm_session_set_path(env.s, o->path)) != QLM_OK) {
        if (st == QLM_E_ARG) { /* an unknown path name is a usage error */
            rc = cli_usage_error("run", "--path: %s", qlm_last_error());
            st = QLM_OK;
        }
        goto out;
    }
    double t_load = run_now() - t0;
    if (o->verbose) {
        const char *isa = qlm_isa();
        fprintf(stderr, "qlm: loaded %s in %.3f s (context %lld, %d threads, kernels %s, seed %llu)\n", o->model,
                t_load, (long long)qlm_session_n_ctx(env.s), qlm_session_n_threads(env.s), isa ? isa : "?",
                (unsigned long long)o->sp.seed);
        fprintf(stderr, "qlm: KV cache %s: %lld bytes\n", o->kv == QLM_KV_Q8 ? "q8" : "f32",
                (long long)qlm_session_kv_bytes(env.s));
    }
    run_job job = {.n_predict = o->n_predict, .sp = o->sp, .n_stops = o->n_stops};
    memcpy(job.stops, o->stops, sizeof job.stops);
    if (o->batch) {
        rc = run_batch(&env, &job, o->batch, !o->no_bos);
        goto out;
    }
    if ((st = prompt_ids(o, &env, &ids, &n_ids)) != QLM_OK)
        goto out;
    job.ids = ids;
    job.n_ids = (int64_t)n_ids;
    job.dump_logits = o->dump;
    job.stream = stdout;
    if (o->dump && o->n_predict < 0)
        job.n_predict = 0; /* --dump-logits alone: just the prompt */
    if ((st = run_generate(&env, &job)) != QLM_OK)
        goto out;
    if (job.n_predict != 0)
        fputc('\n', stdout);
    if (o->verbose)
        fprintf(stderr, "qlm: prompt %lld tokens in %.3f s (%.1f tok/s); generated %lld tokens in %.3f s (%.1f tok/s); stop: %s\n",
                (long long)job.n_ids, job.s_prompt, job.s_prompt > 0 ? (double)job.n_ids / job.s_prompt : 0.0,
                (long long)job.n_gen, job.s_gen, job.s_gen > 0 ? (double)job.n_gen / job.s_gen : 0.0, job.reason);
    free(job.text);
    rc = 0;
out:
    if (st != QLM_OK)
        rc = cli_error(st);
    free(ids);
    run_env_close(&env);
    return rc;
}

int cmd_run(int argc, char **argv)
{
    run_opts o = {0};
    int r = parse_args(argc, argv, &o);
    if (r)
        return r < 0 ? 0 : r;
    return run_main(&o);
}
