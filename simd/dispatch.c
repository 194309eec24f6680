/* Run-time choice of the kernel set: QLM_ISA forces one, otherwise the best
 * set this CPU supports (CPUID + XGETBV on x86, hwcaps on aarch64). */
#include <stdlib.h>
#include <string.h>

#include "simd/cpu.h"
#include "simd/dispatch.h"
#include "simd/kernels.h"
#if QLM_HAVE_X86
#include "simd/x86/isa.h"
#endif
#if QLM_HAVE_NEON
#include "simd/arm/isa.h"
#endif

static const qlm_kernels *ref_get(const qlm_cpu *c)
{
    (void)c;
    return qlm_kernels_ref();
}

#if QLM_HAVE_X86
static const qlm_kernels *avx512_get(const qlm_cpu *c)
{
    bool ok = c->avx512f && c->avx512bw && c->avx512vl && c->avx512dq && c->avx512vnni && c->avx2 &&
              c->fma && c->f16c;
    return ok ? qlm_kernels_avx512() : NULL;
}

/* "avx2" is one name for two variants: AVX-VNNI int8 dots where present. */
static const qlm_kernels *avx2_get(const qlm_cpu *c)
{
    if (!(c->avx2 && c->fma && c->f16c))
        return NULL;
    return c->avxvnni ? qlm_kernels_avxvnni() : qlm_kernels_avx2();
}
#endif

#if QLM_HAVE_NEON
static const qlm_kernels *neon_get(const qlm_cpu *c)
{
    return c->neon && c->asimddp ? qlm_kernels_neon() : NULL;
}
#endif

typedef struct {
    const char *name;
    const qlm_kernels *(*get)(const qlm_cpu *c); /* NULL: not usable on this CPU */
} isa_entry;

/* Best first. */
static const isa_entry k_isas[] = {
#if QLM_HAVE_X86
    {"avx512", avx512_get},
    {"avx2", avx2_get},
#endif
#if QLM_HAVE_NEON
    {"neon", neon_get},
#endif
    {"scalar", ref_get},
};

static const qlm_kernels *g_active;

size_t qlm_isa_count(void) { return sizeof k_isas / sizeof k_isas[0]; }

const char *qlm_isa_name(size_t i) { return i < qlm_isa_count() ? k_isas[i].name : NULL; }

const qlm_kernels *qlm_isa_kernels(size_t i)
{
    return i < qlm_isa_count() ? k_isas[i].get(qlm_cpu_get()) : NULL;
}

static const qlm_kernels *find(const char *name)
{
    for (size_t i = 0; i < qlm_isa_count(); i++)
        if (strcmp(k_isas[i].name, name) == 0)
            return qlm_isa_kernels(i);
    return NULL;
}

qlm_status qlm_kernels_select(const char *name)
{
    const qlm_kernels *k = find(name);
    if (!k)
        return qlm_fail(QLM_E_UNSUPPORTED, "QLM_ISA=%s: not supported by this CPU or build", name);
    __atomic_store_n(&g_active, k, __ATOMIC_RELEASE);
    return QLM_OK;
}

const qlm_kernels *qlm_kernels_get(void)
{
    const qlm_kernels *k = __atomic_load_n(&g_active, __ATOMIC_ACQUIRE);
    if (k)
        return k;
    const char *env = getenv("QLM_ISA");
    if (env && *env)
        return qlm_kernels_select(env) == QLM_OK ? g_active : NULL;
    for (size_t i = 0; i < qlm_isa_count() && !k; i++)
        k = qlm_isa_kernels(i);
    __atomic_store_n(&g_active, k, __ATOMIC_RELEASE);
    return k;
}
