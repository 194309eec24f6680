/* The kernel sets this build knows, best first, for tests and `qlm sysinfo`.
 * (Choosing one is qlm_kernels_get()/qlm_kernels_select() in kernels.h.) */
#ifndef QLM_SIMD_DISPATCH_H
#define QLM_SIMD_DISPATCH_H

#include <stddef.h>

#include "simd/kernels.h"

size_t qlm_isa_count(void);
/* Name of set i ("avx512", ..., "scalar"); NULL past the end. */
const char *qlm_isa_name(size_t i);
/* Set i, or NULL if this CPU cannot run it. */
const qlm_kernels *qlm_isa_kernels(size_t i);

#endif
