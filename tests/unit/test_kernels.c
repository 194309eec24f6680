/* Every kernel set this CPU can run against the scalar reference, bit for
 * bit (tests/common/kcheck.c has the cases). Which sets must be present is
 * decided from /proc/cpuinfo, independently of simd/cpu.c's CPUID code. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simd/cpu.h"
#include "simd/dispatch.h"
#if QLM_HAVE_X86
#include "simd/x86/isa.h"
#endif
#include "tests/common/kcheck.h"
#include "tests/common/testutil.h"

/* True if /proc/cpuinfo's first "flags" line lists every flag of `want`. */
static int cpuinfo_has(const char *want)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        fail_msg("cannot read /proc/cpuinfo");
    static char line[8192];
    int found = 0;
    while (!found && fgets(line, sizeof line, f))
        found = strncmp(line, "flags", 5) == 0;
    fclose(f);
    if (!found)
        fail_msg("/proc/cpuinfo has no flags line");
    line[strcspn(line, "\n")] = ' ';
    char w[256];
    snprintf(w, sizeof w, "%s", want);
    for (char *tok = strtok(w, " "); tok; tok = strtok(NULL, " ")) {
        char pat[64];
        snprintf(pat, sizeof pat, " %s ", tok);
        if (!strstr(line, pat))
            return 0;
    }
    return 1;
}

static void test_sets_present(void **state)
{
    (void)state;
#if QLM_HAVE_X86
    static const struct {
        const char *isa, *flags;
    } need[] = {
        {"avx512", "avx512f avx512bw avx512vl avx512dq avx512_vnni avx2 fma f16c"},
        {"avx2", "avx2 fma f16c"},
    };
    for (size_t n = 0; n < sizeof need / sizeof need[0]; n++) {
        int expect = cpuinfo_has(need[n].flags);
        int found = 0;
        for (size_t i = 0; i < qlm_isa_count(); i++)
            if (strcmp(qlm_isa_name(i), need[n].isa) == 0)
                found = qlm_isa_kernels(i) != NULL;
        if (found != expect)
            fail_msg("set %s: cpuinfo says %d, dispatch says %d", need[n].isa, expect, found);
    }
#endif
    assert_non_null(qlm_kernels_get());
    assert_ok(qlm_kernels_select("scalar"));
    assert_string_equal(qlm_kernels_get()->name, "scalar");
    assert_status(qlm_kernels_select("vax"), QLM_E_UNSUPPORTED);
}

static void run_family(void (*family)(kcheck *, const qlm_kernels *))
{
    /* the dispatched sets, plus the AVX2 maddubs variant that dispatch
     * passes over on CPUs with AVX-VNNI */
    const qlm_kernels *sets[8];
    size_t n = 0;
    for (size_t i = 0; i < qlm_isa_count() && n < 7; i++)
        sets[n++] = qlm_isa_kernels(i);
#if QLM_HAVE_X86
    const qlm_cpu *c = qlm_cpu_get();
    if (c->avx2 && c->fma && c->f16c && c->avxvnni)
        sets[n++] = qlm_kernels_avx2();
#endif
    int tested = 0;
    for (size_t i = 0; i < n; i++) {
        const qlm_kernels *k = sets[i];
        if (!k || k == qlm_kernels_ref())
            continue;
        kcheck kc;
        kcheck_init(&kc);
        family(&kc, k);
        if (kc.failed)
            fail_msg("%ld of %ld cases differ from the reference; first: %s", kc.failed,
                     kc.failed + kc.passed, kc.first_failure);
        assert_true(kc.passed > 0);
        tested++;
    }
    printf("  %d kernel set(s) checked\n", tested);
}

static void test_elementwise(void **state) { (void)state; run_family(kcheck_elementwise); }
static void test_quant_act(void **state) { (void)state; run_family(kcheck_quant_act); }
static void test_mm_quant(void **state) { (void)state; run_family(kcheck_mm_quant); }
static void test_mm_float(void **state) { (void)state; run_family(kcheck_mm_float); }

/* qlm sysinfo names the set dispatch picks, honours QLM_ISA, rejects junk. */
static void test_sysinfo_cli(void **state)
{
    (void)state;
    char cmd[1200], want[64], *out;
    snprintf(cmd, sizeof cmd, "env -u QLM_ISA '%s' sysinfo", tu_qlm_bin());
    assert_int_equal(tu_run(cmd, &out), 0);
    const qlm_kernels *best = NULL; /* the first usable set: dispatch's choice */
    for (size_t i = 0; i < qlm_isa_count() && !best; i++)
        best = qlm_isa_kernels(i);
    snprintf(want, sizeof want, "in use:       %s", best->name);
    if (!strstr(out, want))
        fail_msg("sysinfo output lacks '%s':\n%s", want, out);
    free(out);
    snprintf(cmd, sizeof cmd, "QLM_ISA=scalar '%s' sysinfo", tu_qlm_bin());
    assert_int_equal(tu_run(cmd, &out), 0);
    assert_non_null(strstr(out, "in use:       scalar (forced by QLM_ISA)"));
    free(out);
    snprintf(cmd, sizeof cmd, "QLM_ISA=vax '%s' sysinfo", tu_qlm_bin());
    assert_int_equal(tu_run(cmd, &out), 1);
    assert_non_null(strstr(out, "qlm: QLM_ISA=vax: not supported"));
    free(out);
    snprintf(cmd, sizeof cmd, "'%s' sysinfo --frobnicate", tu_qlm_bin());
    assert_int_equal(tu_run(cmd, &out), 2);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sets_present), cmocka_unit_test(test_elementwise),
        cmocka_unit_test(test_quant_act),    cmocka_unit_test(test_mm_quant),
        cmocka_unit_test(test_mm_float),    cmocka_unit_test(test_sysinfo_cli),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
