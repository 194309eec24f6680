/* qlm sysinfo: what the CPU offers, which kernel sets this build can run
 * here, and which one qlm uses (QLM_ISA honoured), plus the OpenMP set-up. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/cli/cli.h"
#include "simd/cpu.h"
#include "simd/dispatch.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: qlm sysinfo\n\n"
               "Print the CPU features detected, the kernel sets available, the one in use\n"
               "(QLM_ISA=scalar|avx2|avx512|neon forces one), the default thread count and\n"
               "the OpenMP version.\n");
}

int cmd_sysinfo(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return 0;
        }
        return cli_usage_error(argv[0], "unexpected argument '%s'", argv[i]);
    }
    const qlm_cpu *c = qlm_cpu_get();
    char feat[512];
    qlm_cpu_features(c, feat, sizeof feat);
    const qlm_kernels *k = qlm_kernels_get();
    if (!k)
        return cli_error(QLM_E_UNSUPPORTED);
    const char *b = c->brand;
    while (*b == ' ')
        b++;
    printf("cpu:          %s\n", *b ? b : "(unknown)");
    printf("features:     %s\n", *feat ? feat : "(none)");
    printf("kernel sets: ");
    for (size_t i = 0; i < qlm_isa_count(); i++)
        printf(" %s%s", qlm_isa_name(i), qlm_isa_kernels(i) ? "" : "(unsupported)");
    printf("\n");
    const char *env = getenv("QLM_ISA");
    printf("in use:       %s%s%s\n", k->name,
           strcmp(k->name, "avx2") == 0 ? (c->avxvnni ? " (AVX-VNNI int8 dots)" : " (maddubs int8 dots)") : "",
           env && *env ? " (forced by QLM_ISA)" : "");
    printf("threads:      %d (OMP_NUM_THREADS or all cores)\n", omp_get_max_threads());
    printf("openmp:       %d\n", _OPENMP);
    return 0;
}
