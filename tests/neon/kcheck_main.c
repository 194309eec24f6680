/* Self-contained kernel check (no cmocka) for cross-compiled runs: checks
 * every usable non-scalar kernel set against the scalar reference bit for
 * bit, then prints "N passed, M failed" and the digest of the reference
 * outputs, which tests/neon/run.sh compares with the host's. With no set
 * but the scalar one (the host build), it checks the reference against
 * itself, which only produces the digest. Exit status 1 on any failure. */
#include <stdio.h>

#include "simd/dispatch.h"
#include "tests/common/kcheck.h"

static const struct {
    const char *name;
    void (*run)(kcheck *, const qlm_kernels *);
} k_families[] = {
    {"elementwise", kcheck_elementwise},
    {"quant_act", kcheck_quant_act},
    {"mm_quant", kcheck_mm_quant},
    {"mm_float", kcheck_mm_float},
};

static long check(const qlm_kernels *k)
{
    long failed = 0;
    for (size_t f = 0; f < sizeof k_families / sizeof k_families[0]; f++) {
        kcheck kc;
        char digest[65];
        kcheck_init(&kc);
        k_families[f].run(&kc, k);
        kcheck_digest_hex(&kc, digest);
        printf("%s %s: %ld passed, %ld failed%s%s\n", k->name, k_families[f].name, kc.passed,
               kc.failed, kc.failed ? "; first: " : "", kc.first_failure);
        printf("reference digest %s %s\n", k_families[f].name, digest);
        failed += kc.failed;
    }
    return failed;
}

int main(void)
{
    long failed = 0;
    int sets = 0;
    for (size_t i = 0; i < qlm_isa_count(); i++) {
        const qlm_kernels *k = qlm_isa_kernels(i);
        if (!k)
            printf("%s: not supported here\n", qlm_isa_name(i));
        else if (k != qlm_kernels_ref() && ++sets)
            failed += check(k);
    }
    if (!sets)
        failed += check(qlm_kernels_ref());
    return failed ? 1 : 0;
}
