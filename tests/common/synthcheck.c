/* See synthcheck.h. Runs on one thread: the logits do not depend on the
 * thread count (test_model checks that), and one thread is fastest on a
 * loaded shared machine. */
#include "tests/common/synthcheck.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/common/json.h"
#include "runtime/model/model.h"
#include "tests/common/testutil.h"

#define TOL 1e-3
#define GREEDY_TIE 2e-3

static json_doc *g_doc;
static char *g_bin;
static size_t g_bin_len;

static const json_value *model_json(const char *name)
{
    if (!g_doc) {
        size_t len;
        char *text = tu_read(tu_shared("golden/synth.json"), &len);
        assert_ok(json_parse(text, len, &g_doc));
        free(text);
        g_bin = tu_read(tu_shared("golden/synth_logits.bin"), &g_bin_len);
    }
    const json_value *models = json_get(json_root(g_doc), "models");
    for (size_t i = 0; models && i < models->n; i++) {
        const char *n = json_get_str(json_at(models, i), "name");
        if (n && strcmp(n, name) == 0)
            return json_at(models, i);
    }
    fail_msg("synth.json has no model %s", name);
    return NULL;
}

static void sh(const char *cmd)
{
    char *out;
    int rc = tu_run(cmd, &out);
    if (rc != 0)
        fail_msg("%s -> exit %d: %s", cmd, rc, out);
    free(out);
}

const char *synth_model(const char *name, const char *type)
{
    const json_value *m = model_json(name);
    const char *tok = json_get_str(m, "tokenizer");
    const char *tokdir = strcmp(tok, "qwen3") == 0 ? "models/tokenizers/qwen3-0.6b"
                                                   : "models/tokenizers/smollm2-135m-instruct";
    static char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s", tu_tmp(name));
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "test -f '%s/config.json' || '%s' synth --config '%s#%s' --tokenizer '%s' -o '%s' --threads 2",
             dir, tu_qlm_bin(), tu_shared("golden/synth.json"), name, tu_shared(tokdir), dir);
    sh(cmd);
    snprintf(path, sizeof path, "%s-%s.qlm", dir, type);
    snprintf(cmd, sizeof cmd, "'%s' convert '%s' -o '%s' --type %s --quiet --threads 2", tu_qlm_bin(), dir, path, type);
    sh(cmd);
    return path;
}

void synth_cleanup(const char *name)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'-*.qlm", tu_tmp(name), tu_tmp(name));
    sh(cmd);
}

static int32_t *ids_of(const json_value *arr, size_t *n)
{
    *n = arr->n;
    int32_t *v = malloc(sizeof *v * arr->n);
    for (size_t i = 0; i < arr->n; i++) {
        int64_t x;
        assert_true(json_as_i64(json_at(arr, i), &x));
        v[i] = (int32_t)x;
    }
    return v;
}

static double num(const json_value *v)
{
    double d;
    assert_true(json_as_f64(v, &d));
    return d;
}

static int32_t argmax(const float *x, int64_t n)
{
    int64_t b = 0;
    for (int64_t i = 1; i < n; i++)
        if (x[i] > x[b])
            b = i;
    return (int32_t)b;
}

typedef struct {
    qlm_model *m;
    qlm_ctx *c;
    int64_t V;
} runner;

static void open_runner(runner *r, const char *qlm, int64_t n_ctx)
{
    assert_ok(qlm_model_open(qlm, &r->m));
    qlm_ctx_params p = {.n_ctx = n_ctx, .n_threads = 1};
    assert_ok(qlm_ctx_new(r->m, &p, &r->c));
    r->V = qlm_model_hparams(r->m)->n_vocab;
}

static void close_runner(runner *r)
{
    qlm_ctx_free(r->c);
    qlm_model_close(r->m);
}

/* Logits of every position of ids (+ the greedy tokens fed after it when
 * greedy != NULL, teacher-forced): rows [n + n_greedy - 1][V]. */
static float *eval_all(runner *r, const int32_t *ids, size_t n, const int32_t *greedy, size_t ng)
{
    size_t rows = n + (ng ? ng - 1 : 0);
    float *lg = malloc(sizeof(float) * rows * (size_t)r->V);
    assert_non_null(lg);
    assert_ok(qlm_ctx_truncate(r->c, 0));
    assert_ok(qlm_ctx_eval(r->c, ids, (int64_t)n, lg, true));
    if (ng > 1)
        assert_ok(qlm_ctx_eval(r->c, greedy, (int64_t)ng - 1, lg + n * (size_t)r->V, true));
    return lg;
}

static const float *last_ref(const json_value *p, int64_t V)
{
    const json_value *ll = json_get(p, "last_logits");
    int64_t off = json_get_i64(ll, "offset", -1), cnt = json_get_i64(ll, "count", -1);
    assert_int_equal(cnt, V);
    assert_true(off >= 0 && (size_t)off + (size_t)cnt * 4 <= g_bin_len);
    return (const float *)(g_bin + off);
}

void synth_check_f32(const char *name, const char *qlm)
{
    const json_value *m = model_json(name), *prompts = json_get(m, "prompts");
    runner r;
    open_runner(&r, qlm, 512);
    for (size_t pi = 0; pi < prompts->n; pi++) {
        const json_value *p = json_at(prompts, pi);
        size_t n, ng;
        int32_t *ids = ids_of(json_get(p, "ids"), &n), *greedy = ids_of(json_get(p, "greedy"), &ng);
        float *lg = eval_all(&r, ids, n, greedy, ng);
        const json_value *tk_ids = json_get(p, "topk_ids"), *tk_lg = json_get(p, "topk_logits");
        assert_int_equal(tk_ids->n, n);
        double e_top = 0, e_last = 0;
        for (size_t t = 0; t < n; t++)
            for (size_t k = 0; k < 8; k++) {
                int64_t id = json_at(json_at(tk_ids, t), k)->i;
                double e = fabs(lg[t * (size_t)r.V + (size_t)id] - num(json_at(json_at(tk_lg, t), k)));
                e_top = e > e_top ? e : e_top;
            }
        const float *ref = last_ref(p, r.V), *last = lg + (n - 1) * (size_t)r.V;
        for (int64_t i = 0; i < r.V; i++) {
            double e = fabs((double)last[i] - ref[i]);
            e_last = e > e_last ? e : e_last;
        }
        int ties = 0;
        for (size_t j = 0; j < ng; j++) {
            const float *row = lg + (n - 1 + j) * (size_t)r.V;
            int32_t a = argmax(row, r.V);
            if (a == greedy[j])
                continue;
            double gap = row[a] - row[greedy[j]];
            if (gap > GREEDY_TIE)
                fail_msg("%s/%s greedy step %zu: we pick %d, reference %d (logit gap %g)", name,
                         json_get_str(p, "name"), j, a, greedy[j], gap);
            ties++;
        }
        print_message("%s/%-6s %3zu tokens: max |err| top-8 %.2e, last row %.2e; greedy 24/24%s\n", name,
                      json_get_str(p, "name"), n, e_top, e_last, ties ? " (with near-ties)" : "");
        if (!(e_top <= TOL && e_last <= TOL))
            fail_msg("%s/%s: logits differ from the reference by %g / %g (> %g)", name, json_get_str(p, "name"),
                     e_top, e_last, TOL);
        free(lg);
        free(ids);
        free(greedy);
    }
    close_runner(&r);
}

/* KL(P || Q) of two logit vectors, in double. */
static double kl(const float *p_lg, const float *q_lg, int64_t V)
{
    double mp = p_lg[argmax(p_lg, V)], mq = q_lg[argmax(q_lg, V)], zp = 0, zq = 0;
    for (int64_t i = 0; i < V; i++) {
        zp += exp(p_lg[i] - mp);
        zq += exp(q_lg[i] - mq);
    }
    double lzp = log(zp), lzq = log(zq), d = 0;
    for (int64_t i = 0; i < V; i++) {
        double lp = p_lg[i] - mp - lzp, lq = q_lg[i] - mq - lzq;
        d += exp(lp) * (lp - lq);
    }
    return d;
}

void synth_report(const char *name, const char *type, const char *qlm)
{
    const json_value *m = model_json(name), *prompts = json_get(m, "prompts");
    runner r;
    open_runner(&r, qlm, 512);
    double kl_sum = 0;
    size_t agree = 0, total = 0;
    for (size_t pi = 0; pi < prompts->n; pi++) {
        const json_value *p = json_at(prompts, pi);
        size_t n;
        int32_t *ids = ids_of(json_get(p, "ids"), &n);
        float *lg = eval_all(&r, ids, n, NULL, 0);
        const json_value *tk_ids = json_get(p, "topk_ids");
        for (size_t t = 0; t < n; t++, total++)
            agree += argmax(lg + t * (size_t)r.V, r.V) == json_at(json_at(tk_ids, t), 0)->i;
        kl_sum += kl(last_ref(p, r.V), lg + (n - 1) * (size_t)r.V, r.V);
        free(lg);
        free(ids);
    }
    print_message("| %s | %s | %.5f | %.1f%% (%zu/%zu) |\n", name, type, kl_sum / (double)prompts->n,
                  100.0 * (double)agree / (double)total, agree, total);
    close_runner(&r);
}
