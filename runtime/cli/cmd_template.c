/* qlm template: render a chat template with JSON variables (debugging aid,
 * and the way to check a template against transformers by hand). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/common/json.h"
#include "runtime/chat/template.h"
#include "runtime/cli/cli.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: qlm template (NAME | FILE.jinja) [VARS.json]\n"
               "Render a chat template. NAME is a built-in (%s); VARS.json is an object\n"
               "whose members become the template's variables (messages, add_generation_prompt,\n"
               "enable_thinking, bos_token, ...); without it, one user message \"Hello!\".\n",
            qlm_tpl_builtin_names());
}

static qlm_status read_file(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return qlm_fail(QLM_E_IO, "cannot open %s", path);
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    for (size_t got; buf && (got = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += got;
        if (n == cap) {
            char *nb = cap < (64u << 20) ? realloc(buf, cap * 2) : NULL;
            if (!nb) {
                free(buf);
                buf = NULL;
            }
            buf = nb;
            cap *= 2;
        }
    }
    int err = ferror(f);
    fclose(f);
    if (!buf)
        return qlm_fail(QLM_E_LIMIT, "%s: too large (over 64 MiB)", path);
    if (err) {
        free(buf);
        return qlm_fail(QLM_E_IO, "cannot read %s", path);
    }
    *out = buf;
    *len = n;
    return QLM_OK;
}

int cmd_template(int argc, char **argv)
{
    if (argc >= 2 && cli_is_help(argv[1])) {
        usage(stdout);
        return 0;
    }
    if (argc < 2 || argc > 3)
        return cli_usage_error("template", "expected a template and an optional VARS.json");
    char *file = NULL, *vars_text = NULL, *out = NULL;
    size_t file_n = 0, vars_n = 0, out_n = 0;
    json_doc *doc = NULL;
    qlm_template *t = NULL;
    const char *text = qlm_tpl_builtin(argv[1]);
    qlm_status st = QLM_OK;
    if (!text && (st = read_file(argv[1], &file, &file_n)) == QLM_OK)
        text = file;
    if (st == QLM_OK)
        st = qlm_tpl_parse(text, file ? file_n : strlen(text), &t);
    if (st == QLM_OK && argc == 3) {
        st = read_file(argv[2], &vars_text, &vars_n);
        if (st == QLM_OK)
            st = json_parse(vars_text, vars_n, &doc);
        if (st == QLM_OK)
            st = qlm_tpl_render_json(t, json_root(doc), &out, &out_n);
    } else if (st == QLM_OK) {
        qlm_chat_msg m = {"user", "Hello!", NULL};
        qlm_tpl_vars v = {.messages = &m, .n_messages = 1, .add_generation_prompt = true, .enable_thinking = -1};
        st = qlm_tpl_render(t, &v, &out, &out_n);
    }
    if (st == QLM_OK)
        fwrite(out, 1, out_n, stdout);
    free(out);
    json_free(doc);
    free(vars_text);
    free(file);
    qlm_tpl_free(t);
    return st == QLM_OK ? 0 : cli_error(st);
}
