/* Run-time choice of the kernel set: QLM_ISA forces one, otherwise the best
 * set this CPU supports. ISA sets register themselves in the table below as
 * they are added (simd/x86, simd/arm). */
#include <stdlib.h>
#include <string.h>

#include "simd/kernels.h"

typedef struct {
    const char *name;
    const qlm_kernels *(*get)(void); /* NULL result: not supported on this CPU */
} isa_entry;

static const qlm_kernels *ref_get(void) { return qlm_kernels_ref(); }

/* Best first. */
static const isa_entry k_isas[] = {
    {"scalar", ref_get},
};

static const qlm_kernels *g_active;

static const qlm_kernels *find(const char *name)
{
    for (size_t i = 0; i < sizeof k_isas / sizeof k_isas[0]; i++)
        if (strcmp(k_isas[i].name, name) == 0)
            return k_isas[i].get();
    return NULL;
}

qlm_status qlm_kernels_select(const char *name)
{
    const qlm_kernels *k = find(name);
    if (!k)
        return qlm_fail(QLM_E_UNSUPPORTED, "QLM_ISA=%s: not supported by this CPU or build", name);
    g_active = k;
    return QLM_OK;
}

const qlm_kernels *qlm_kernels_get(void)
{
    if (g_active)
        return g_active;
    const char *env = getenv("QLM_ISA");
    if (env && *env) {
        if (qlm_kernels_select(env) != QLM_OK)
            return NULL;
        return g_active;
    }
    for (size_t i = 0; i < sizeof k_isas / sizeof k_isas[0]; i++) {
        const qlm_kernels *k = k_isas[i].get();
        if (k) {
            g_active = k;
            break;
        }
    }
    return g_active;
}
