/* What the CPU (and the OS, for register state) supports, detected once.
 * x86: CPUID leaves 1 and 7 plus XGETBV, so a feature only counts when the
 * kernel saves its registers. aarch64: getauxval(AT_HWCAP). */
#ifndef QLM_SIMD_CPU_H
#define QLM_SIMD_CPU_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    bool avx2, fma, f16c;                           /* with OS ymm state */
    bool avx512f, avx512bw, avx512vl, avx512dq;     /* with OS zmm/opmask state */
    bool avx512vnni, avx512vbmi, avx512bf16, avx512fp16, avxvnni;
    bool neon, asimddp, fphp;                       /* aarch64 */
    char brand[64];                                 /* "" where unknown */
} qlm_cpu;

/* Detected once; thread-safe after the first call. */
const qlm_cpu *qlm_cpu_get(void);

/* Space-separated names of the features present, e.g. "avx2 fma f16c ...". */
void qlm_cpu_features(const qlm_cpu *c, char *buf, size_t cap);

#endif
