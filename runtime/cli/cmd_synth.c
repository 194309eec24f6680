/* qlm synth: write a synthetic-weight Hugging Face folder (shared/golden/SYNTH.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/convert/synth.h"
#include "runtime/cli/cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: qlm synth --config CONFIG --tokenizer DIR [--seed N] -o DIR [--threads N]\n"
            "\n"
            "Writes a Hugging Face folder (config.json, model.safetensors in bf16, the\n"
            "tokenizer files of DIR) whose weights follow the synthetic-weight generator\n"
            "of shared/golden/SYNTH.md bit for bit.\n"
            "\n"
            "  --config CONFIG   a config.json, or SYNTH_JSON#MODEL to take the config (and,\n"
            "                    without --seed, the seed) of a model listed in synth.json,\n"
            "                    e.g. ../shared/golden/synth.json#smollm2-135m\n"
            "  --tokenizer DIR   folder with tokenizer.json (+ tokenizer_config.json, ...)\n"
            "  --seed N          64-bit generator seed (unsigned)\n"
            "  -o DIR            output folder (created if missing)\n"
            "  --threads N       worker threads (default: all)\n");
}

int cmd_synth(int argc, char **argv)
{
    qlm_synth_opts o = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) {
            usage(stdout);
            return 0;
        }
        if (i + 1 >= argc)
            return cli_usage_error("synth", "%s: unknown flag or missing value", a);
        const char *v = argv[++i];
        int64_t n;
        if (strcmp(a, "--config") == 0) {
            o.config = v;
        } else if (strcmp(a, "--tokenizer") == 0) {
            o.tokenizer = v;
        } else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
            o.out_dir = v;
        } else if (strcmp(a, "--seed") == 0) {
            char *end;
            if (!*v || *v == '-' || (o.seed = strtoull(v, &end, 10), *end))
                return cli_usage_error("synth", "--seed: '%s' is not an unsigned 64-bit integer", v);
            o.have_seed = true;
        } else if (strcmp(a, "--threads") == 0) {
            if (!cli_parse_i64(v, 1, 1024, &n))
                return cli_usage_error("synth", "--threads: '%s' is not in 1..1024", v);
            o.threads = (int)n;
        } else {
            return cli_usage_error("synth", "unknown flag %s", a);
        }
    }
    if (!o.config || !o.tokenizer || !o.out_dir)
        return cli_usage_error("synth", "--config, --tokenizer and -o are required");
    qlm_status rc = qlm_synth(&o);
    return rc ? cli_error(rc) : 0;
}
