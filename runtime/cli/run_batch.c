/* qlm run --batch FILE: many prompts, one JSON object per line in and out.
 *
 * Input line:  {"prompt": "text"} or {"prompt_ids": [1, 2, 3]}, and optionally
 *              "n", "temp", "top_k", "top_p", "min_p", "repeat_penalty",
 *              "repeat_last_n", "seed", "stop" (string or array of strings);
 *              absent fields take the command-line values. Blank lines are skipped.
 * Output line: {"prompt": <as given, text or ids>, "output": "continuation",
 *               "tokens": generated, "prompt_tokens": n, "stop_reason":
 *               "eog"|"stop"|"length"|"context", "seconds": wall time}
 *              or, for a line that cannot be run, {"line": L, "error": "message"}
 *              (the command then exits 1 after the remaining lines).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/common/json.h"
#include "runtime/cli/cli.h"
#include "runtime/cli/run_gen.h"

static qlm_status ids_from_json(const json_value *a, int32_t **ids, size_t *n)
{
    if (a->type != JSON_ARRAY || a->n == 0)
        return qlm_fail(QLM_E_ARG, "\"prompt_ids\" must be a non-empty array of token ids");
    int32_t *v = malloc(a->n * sizeof *v);
    if (!v)
        return qlm_fail(QLM_E_NOMEM, "out of memory");
    for (size_t i = 0; i < a->n; i++) {
        int64_t x;
        if (!json_as_i64(json_at(a, i), &x) || x < 0 || x > INT32_MAX) {
            free(v);
            return qlm_fail(QLM_E_ARG, "\"prompt_ids\"[%zu] is not a token id", i);
        }
        v[i] = (int32_t)x;
    }
    *ids = v;
    *n = a->n;
    return QLM_OK;
}

static qlm_status read_stops(const json_value *s, run_job *job)
{
    if (!s)
        return QLM_OK;
    size_t n = s->type == JSON_ARRAY ? s->n : 1;
    if (n > RUN_MAX_STOPS)
        return qlm_fail(QLM_E_LIMIT, "\"stop\": at most %d strings", RUN_MAX_STOPS);
    job->n_stops = 0;
    for (size_t i = 0; i < n; i++) {
        const char *str = json_as_str(s->type == JSON_ARRAY ? json_at(s, i) : s, NULL);
        if (!str || !*str)
            return qlm_fail(QLM_E_ARG, "\"stop\" must be a non-empty string or an array of them");
        job->stops[job->n_stops++] = str;
    }
    return QLM_OK;
}

/* model_bos: BOS as the model's tokenizer wants it (false: --no-bos). */
static qlm_status job_from_json(const json_value *o, const run_env *env, bool model_bos, run_job *job,
                                int32_t **ids, size_t *n)
{
    if (o->type != JSON_OBJECT)
        return qlm_fail(QLM_E_ARG, "each line must be a JSON object");
    job->n_predict = json_get_i64(o, "n", job->n_predict);
    job->sp.temp = json_get_f64(o, "temp", job->sp.temp);
    job->sp.top_k = json_get_i64(o, "top_k", job->sp.top_k);
    job->sp.top_p = json_get_f64(o, "top_p", job->sp.top_p);
    job->sp.min_p = json_get_f64(o, "min_p", job->sp.min_p);
    job->sp.repeat_penalty = json_get_f64(o, "repeat_penalty", job->sp.repeat_penalty);
    job->sp.repeat_last_n = json_get_i64(o, "repeat_last_n", job->sp.repeat_last_n);
    job->sp.seed = (uint64_t)json_get_i64(o, "seed", (int64_t)job->sp.seed);
    if (job->n_predict < -1)
        return qlm_fail(QLM_E_ARG, "\"n\" must be >= -1");
    qlm_status st = read_stops(json_get(o, "stop"), job);
    if (st != QLM_OK)
        return st;
    const json_value *pids = json_get(o, "prompt_ids");
    if (pids)
        return ids_from_json(pids, ids, n);
    size_t len;
    const char *text = json_as_str(json_get(o, "prompt"), &len);
    if (!text)
        return qlm_fail(QLM_E_ARG, "missing \"prompt\" (string) or \"prompt_ids\" (array)");
    if (!env->has_tok)
        return qlm_fail(QLM_E_MISSING, "the model has no tokenizer: use \"prompt_ids\"");
    return qlm_tokenize(env->lm, text, len, model_bos ? -1 : 0, 1, ids, n);
}

static void write_result(const json_value *o, const run_job *job, double secs)
{
    const json_value *p = json_get(o, "prompt");
    size_t plen = 0;
    const char *ptext = p ? json_as_str(p, &plen) : NULL;
    fputs("{\"prompt\":", stdout);
    if (ptext) {
        json_write_string(stdout, ptext, plen);
    } else {
        fputc('[', stdout);
        for (int64_t i = 0; i < job->n_ids; i++)
            printf("%s%d", i ? "," : "", (int)job->ids[i]);
        fputc(']', stdout);
    }
    fputs(",\"output\":", stdout);
    json_write_string(stdout, job->text, job->len);
    printf(",\"tokens\":%lld,\"prompt_tokens\":%lld,\"stop_reason\":\"%s\",\"seconds\":%.3f}\n",
           (long long)job->n_gen, (long long)job->n_ids, job->reason, secs);
}

static void write_error(long line)
{
    printf("{\"line\":%ld,\"error\":", line);
    const char *m = qlm_errmsg();
    json_write_string(stdout, m, strlen(m));
    fputs("}\n", stdout);
}

int run_batch(run_env *env, const run_job *defaults, const char *path, bool model_bos)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return cli_error(qlm_fail(QLM_E_IO, "cannot open %s", path));
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long lineno = 0;
    int rc = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        size_t k = 0;
        while (k < (size_t)len && (line[k] == ' ' || line[k] == '\t' || line[k] == '\n' || line[k] == '\r'))
            k++;
        if (k == (size_t)len)
            continue;
        json_doc *doc = NULL;
        run_job job = *defaults;
        int32_t *ids = NULL;
        size_t n = 0;
        double t0 = run_now();
        qlm_status st = json_parse(line, (size_t)len, &doc);
        if (st == QLM_OK && (st = job_from_json(json_root(doc), env, model_bos, &job, &ids, &n)) == QLM_OK) {
            job.ids = ids;
            job.n_ids = (int64_t)n;
            st = run_generate(env, &job);
        }
        if (st == QLM_OK) {
            write_result(json_root(doc), &job, run_now() - t0);
            free(job.text);
        } else {
            write_error(lineno);
            rc = 1;
        }
        fflush(stdout);
        free(ids);
        json_free(doc);
    }
    free(line);
    fclose(f);
    if (rc)
        fprintf(stderr, "qlm: some lines of %s failed (see their \"error\")\n", path);
    return rc;
}
