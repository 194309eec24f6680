/* qlm compress IN.qlm OUT.qlm.zst [-l LEVEL] */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "formats/qlm/zst.h"
#include "runtime/cli/cli.h"

#define DEFAULT_LEVEL 3

static void usage(FILE *f)
{
    fprintf(f, "usage: qlm compress IN.qlm OUT.qlm.zst [-l LEVEL]\n\n"
               "Validate IN (every checksum) and write it as one zstd frame. The result is\n"
               "accepted everywhere a .qlm is (decompressed once into ~/.cache/qlm/).\n\n"
               "  -l LEVEL  zstd level, -7..22 (default %d)\n",
               DEFAULT_LEVEL);
}

static long long file_bytes(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

int cmd_compress(int argc, char **argv)
{
    const char *paths[2] = {NULL, NULL};
    int n = 0;
    int64_t level = DEFAULT_LEVEL;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "-l") == 0 || strcmp(argv[i], "--level") == 0) {
            if (i + 1 >= argc || !cli_parse_i64(argv[i + 1], -7, 22, &level))
                return cli_usage_error("compress", "%s needs a level in -7..22", argv[i]);
            i++;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage_error("compress", "unknown option '%s'", argv[i]);
        } else if (n == 2) {
            return cli_usage_error("compress", "too many arguments");
        } else {
            paths[n++] = argv[i];
        }
    }
    if (n != 2)
        return cli_usage_error("compress", "need IN and OUT");
    qlm_status st = qlm_zst_compress(paths[0], paths[1], (int)level);
    if (st)
        return cli_error(st);
    printf("%s: %lld bytes -> %s: %lld bytes\n", paths[0], file_bytes(paths[0]), paths[1], file_bytes(paths[1]));
    return 0;
}
