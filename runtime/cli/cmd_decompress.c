/* qlm decompress IN.qlm.zst OUT.qlm */
#include <stdio.h>
#include <string.h>

#include "formats/qlm/zst.h"
#include "runtime/cli/cli.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: qlm decompress IN.qlm.zst OUT.qlm\n\n"
               "Decompress a .qlm.zst and validate the result (removed again if invalid).\n");
}

int cmd_decompress(int argc, char **argv)
{
    const char *paths[2] = {NULL, NULL};
    int n = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return 0;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage_error("decompress", "unknown option '%s'", argv[i]);
        } else if (n == 2) {
            return cli_usage_error("decompress", "too many arguments");
        } else {
            paths[n++] = argv[i];
        }
    }
    if (n != 2)
        return cli_usage_error("decompress", "need IN and OUT");
    qlm_status st = qlm_zst_decompress(paths[0], paths[1]);
    return st ? cli_error(st) : 0;
}
