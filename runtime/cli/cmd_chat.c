/* qlm chat: talk to a model in the terminal (runtime/chat/repl.c). The model
 * is opened and configured through include/qlm.h only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "runtime/chat/chat.h"
#include "runtime/chat/lineedit.h"
#include "runtime/chat/repl.h"
#include "runtime/cli/cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: qlm chat -m MODEL.qlm [options]\n"
            "Chat with a model. Replies stream as they are generated; Ctrl-C stops one.\n\n"
            "  -m, --model FILE       model (.qlm; convert others with qlm convert)\n"
            "  --tokenizer PATH       tokenizer from elsewhere (tokenizer.json, HF folder,\n"
            "                         GGUF, llama2.c .bin) instead of the model's\n"
            "  --system TEXT          system prompt\n"
            "  --template T           auto (the model's own, default), a built-in\n"
            "                         (%s) or a .jinja file\n"
            "  --think, --no-think    Qwen3 thinking on/off (enable_thinking)\n"
            "  --hide-think           do not print <think>...</think>\n"
            "  --temp X               temperature (0 = greedy)\n"
            "  --top-k N, --top-p X, --min-p X, --repeat-penalty X, --seed N\n"
            "                         (defaults: the model's generation_config, else\n"
            "                         temp 0.8, top-k 40, top-p 0.95, min-p 0.05; a new seed\n"
            "                         each session)\n"
            "  -n, --n-predict N      most tokens per reply (default: until end of turn)\n"
            "  --ctx N                context size in tokens (default: the model's)\n"
            "  --kv f32|q8            KV cache storage (q8: int8 blocks with f32 scales; default f32)\n"
            "  -t, --threads N        threads (default: physical cores)\n"
            "  --dump-ids FILE        log every token fed to the model (debugging)\n\n"
            "In the chat: /help lists the commands (/reset /system /undo /save /load /set\n"
            "/stats /context /quit). End a line with \\ to continue it, or put a message\n"
            "between lines of \"\"\". History: $QLM_HISTORY or ~/.local/state/qlm/history.\n"
            "Output is plain (no prompts, no colours) when stdout is not a terminal;\n"
            "NO_COLOR turns colours off.\n",
            qlm_chat_builtin_names());
}

typedef struct {
    const char *model, *tokenizer, *system, *tpl, *dump;
    int think;
    bool hide_think;
    int64_t n_ctx, n_predict, threads;
    int kv;
    qlm_sampling_params sp;
    bool temp_set, top_p_set, top_k_set, rep_set, seed_set;
} chat_flags;

/* Value of a flag that takes one; NULL (with an error printed) if missing. */
static const char *value(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        cli_usage_error("chat", "%s needs a value", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

static int parse_flags(int argc, char **argv, chat_flags *f)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        double d;
        int64_t k;
#define NEXT() do { if (!(v = value(argc, argv, &i))) return 2; } while (0)
#define NUM(lo, hi, dst) do { NEXT(); if (!cli_parse_f64(v, lo, hi, &d)) return cli_usage_error("chat", "bad value for %s: '%s'", a, v); dst = d; } while (0)
#define INT(lo, hi, dst) do { NEXT(); if (!cli_parse_i64(v, lo, hi, &k)) return cli_usage_error("chat", "bad value for %s: '%s'", a, v); dst = k; } while (0)
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) { NEXT(); f->model = v; }
        else if (!strcmp(a, "--tokenizer")) { NEXT(); f->tokenizer = v; }
        else if (!strcmp(a, "--system")) { NEXT(); f->system = v; }
        else if (!strcmp(a, "--template")) { NEXT(); f->tpl = v; }
        else if (!strcmp(a, "--dump-ids")) { NEXT(); f->dump = v; }
        else if (!strcmp(a, "--think")) f->think = 1;
        else if (!strcmp(a, "--no-think")) f->think = 0;
        else if (!strcmp(a, "--hide-think")) f->hide_think = true;
        else if (!strcmp(a, "--temp")) { NUM(0, 100, f->sp.temp); f->temp_set = true; }
        else if (!strcmp(a, "--top-p")) { NUM(0, 1, f->sp.top_p); f->top_p_set = true; }
        else if (!strcmp(a, "--min-p")) NUM(0, 1, f->sp.min_p);
        else if (!strcmp(a, "--repeat-penalty")) { NUM(0.01, 100, f->sp.repeat_penalty); f->rep_set = true; }
        else if (!strcmp(a, "--top-k")) { INT(0, 1 << 30, f->sp.top_k); f->top_k_set = true; }
        else if (!strcmp(a, "--seed")) { INT(0, INT64_MAX, f->sp.seed); f->seed_set = true; }
        else if (!strcmp(a, "-n") || !strcmp(a, "--n-predict")) INT(0, 1 << 30, f->n_predict);
        else if (!strcmp(a, "--ctx")) INT(1, 1 << 20, f->n_ctx); /* QLM_MAX_CTX, as run and perplexity */
        else if (!strcmp(a, "--kv")) { NEXT(); if ((k = cli_parse_kv("chat", v, &f->kv)) != 0) return (int)k; }
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) INT(1, 1024, f->threads);
        else return cli_usage_error("chat", "unknown option '%s'", a);
#undef NEXT
#undef NUM
#undef INT
    }
    if (!f->model)
        return cli_usage_error("chat", "missing -m MODEL.qlm");
    return 0;
}

static qlm_status read_text(const char *path, char **out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return qlm_fail(QLM_E_IO, "--template: no built-in named '%s' and no such file", path);
    char *buf = malloc(1 << 20);
    size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    bool big = buf && n == (1 << 20) - 1 && fgetc(f) != EOF;
    fclose(f);
    if (!buf || big) {
        free(buf);
        return qlm_fail(QLM_E_LIMIT, "%s: template larger than 1 MiB", path);
    }
    buf[n] = 0;
    *out = buf;
    return QLM_OK;
}

/* The model's generation_config.json defaults under explicit flags; a fresh
 * seed per session unless --seed. */
static void sampling_defaults(chat_flags *f, const qlm_lm *lm)
{
    qlm_sampling_params m;
    qlm_sampling_params_model(lm, &m);
    if (!f->temp_set)
        f->sp.temp = m.temp;
    if (!f->top_p_set)
        f->sp.top_p = m.top_p;
    if (!f->top_k_set)
        f->sp.top_k = m.top_k;
    if (!f->rep_set)
        f->sp.repeat_penalty = m.repeat_penalty;
    if (!f->seed_set)
        f->sp.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
}

/* The template text to use; *owned is set when it was read from a file. */
static qlm_status pick_template(const char *want, const qlm_lm *lm, const char **text, char **owned)
{
    *owned = NULL;
    if (!want || !strcmp(want, "auto")) {
        qlm_lm_info info = {.size = sizeof info};
        qlm_status st = qlm_lm_get_info(lm, &info);
        if (st != QLM_OK || (*text = info.chat_template))
            return st;
        fprintf(stderr, "qlm chat: the model has no chat template; using chatml (see --template)\n");
        *text = qlm_chat_builtin("chatml");
        return QLM_OK;
    }
    if ((*text = qlm_chat_builtin(want)))
        return QLM_OK;
    qlm_status st = read_text(want, owned);
    *text = *owned;
    return st;
}

int cmd_chat(int argc, char **argv)
{
    if (argc >= 2 && cli_is_help(argv[1])) {
        usage(stdout);
        return 0;
    }
    chat_flags f = {.think = -1, .sp = qlm_sampling_params_default()};
    int rc = parse_flags(argc, argv, &f);
    if (rc)
        return rc;
    qlm_lm *lm = NULL;
    qlm_chat *c = NULL;
    char *owned = NULL, *hist = NULL;
    const char *text = NULL;
    FILE *dump = NULL;
    qlm_lm_params lp = qlm_lm_params_default();
    lp.tokenizer = f.tokenizer;
    qlm_status st = qlm_lm_open_params(f.model, &lp, &lm);
    qlm_lm_info info = {.size = sizeof info};
    if (st == QLM_OK && (st = qlm_lm_get_info(lm, &info)) == QLM_OK && !info.n_tokens)
        st = qlm_fail(QLM_E_MISSING, "%s has no tokenizer: give one with --tokenizer", f.model);
    if (st == QLM_OK)
        sampling_defaults(&f, lm);
    if (st == QLM_OK)
        st = pick_template(f.tpl, lm, &text, &owned);
    if (st == QLM_OK && f.dump && !(dump = fopen(f.dump, "w")))
        st = qlm_fail(QLM_E_IO, "cannot write %s", f.dump);
    if (st == QLM_OK) {
        qlm_chat_params p = {.template_text = text, .system = f.system, .enable_thinking = f.think,
                             .n_ctx = f.n_ctx, .kv_type = f.kv, .n_predict = f.n_predict, .n_threads = (int)f.threads,
                             .sampling = f.sp, .dump_ids = dump};
        st = qlm_chat_new(lm, &p, &c);
    }
    if (st == QLM_OK) {
        hist = qlm_le_default_history();
        const char *slash = strrchr(f.model, '/');
        qlm_repl_opts o = {.model_name = slash ? slash + 1 : f.model, .hide_think = f.hide_think, .history = hist};
        rc = qlm_repl_run(c, &o);
    } else {
        rc = cli_error(st);
    }
    free(hist);
    qlm_chat_free(c);
    if (dump)
        fclose(dump);
    free(owned);
    qlm_lm_close(lm);
    return rc;
}
