#include "simd/cpu.h"

#include <stdio.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static unsigned long long xgetbv0(void)
{
    unsigned eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}

static void brand(char out[64])
{
    unsigned r[12];
    out[0] = 0;
    if ((unsigned)__get_cpuid_max(0x80000000u, NULL) < 0x80000004u)
        return;
    for (unsigned i = 0; i < 3; i++)
        __cpuid(0x80000002u + i, r[4 * i], r[4 * i + 1], r[4 * i + 2], r[4 * i + 3]);
    memcpy(out, r, 48);
    out[48] = 0;
}

static void detect(qlm_cpu *c)
{
    unsigned a, b, cx, d;
    brand(c->brand);
    if (!__get_cpuid(1, &a, &b, &cx, &d))
        return;
    bool osxsave = cx & (1u << 27);
    bool fma = cx & (1u << 12), f16c = cx & (1u << 29), avx = cx & (1u << 28);
    /* XCR0 bits: 1 SSE, 2 AVX (ymm high), 5-7 opmask/zmm */
    unsigned long long xcr0 = osxsave ? xgetbv0() : 0;
    bool ymm_ok = avx && (xcr0 & 0x6) == 0x6;
    bool zmm_ok = ymm_ok && (xcr0 & 0xE0) == 0xE0;
    if ((unsigned)__get_cpuid_max(0, NULL) < 7u)
        return;
    __cpuid_count(7, 0, a, b, cx, d);
    c->avx2 = ymm_ok && (b & (1u << 5));
    c->fma = ymm_ok && fma;
    c->f16c = ymm_ok && f16c;
    c->avx512f = zmm_ok && (b & (1u << 16));
    c->avx512dq = c->avx512f && (b & (1u << 17));
    c->avx512bw = c->avx512f && (b & (1u << 30));
    c->avx512vl = c->avx512f && (b & (1u << 31));
    c->avx512vbmi = c->avx512f && (cx & (1u << 1));
    c->avx512vnni = c->avx512f && (cx & (1u << 11));
    c->avx512fp16 = c->avx512f && (d & (1u << 23));
    __cpuid_count(7, 1, a, b, cx, d);
    c->avxvnni = ymm_ok && (a & (1u << 4));
    c->avx512bf16 = c->avx512f && (a & (1u << 5));
}
#elif defined(__aarch64__)
#include <sys/auxv.h>

static void detect(qlm_cpu *c)
{
    unsigned long hw = getauxval(AT_HWCAP);
    c->neon = hw & (1ul << 1);     /* HWCAP_ASIMD */
    c->fphp = hw & (1ul << 9);     /* HWCAP_FPHP */
    c->asimddp = hw & (1ul << 20); /* HWCAP_ASIMDDP */
}
#else
static void detect(qlm_cpu *c) { (void)c; }
#endif

const qlm_cpu *qlm_cpu_get(void)
{
    static qlm_cpu cpu;
    static int done;
    /* Benign race: every thread computes the same value. */
    if (!__atomic_load_n(&done, __ATOMIC_ACQUIRE)) {
        qlm_cpu c;
        memset(&c, 0, sizeof c);
        detect(&c);
        cpu = c;
        __atomic_store_n(&done, 1, __ATOMIC_RELEASE);
    }
    return &cpu;
}

void qlm_cpu_features(const qlm_cpu *c, char *buf, size_t cap)
{
    const struct {
        bool on;
        const char *name;
    } f[] = {
        {c->avx2, "avx2"},         {c->fma, "fma"},               {c->f16c, "f16c"},
        {c->avx512f, "avx512f"},   {c->avx512bw, "avx512bw"},     {c->avx512vl, "avx512vl"},
        {c->avx512dq, "avx512dq"}, {c->avx512vnni, "avx512vnni"}, {c->avx512vbmi, "avx512vbmi"},
        {c->avx512bf16, "avx512bf16"}, {c->avx512fp16, "avx512fp16"}, {c->avxvnni, "avxvnni"},
        {c->neon, "neon"},         {c->asimddp, "asimddp"},       {c->fphp, "fphp"},
    };
    size_t n = 0;
    if (cap)
        buf[0] = 0;
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].on && n < cap)
            n += (size_t)snprintf(buf + n, cap - n, "%s%s", n ? " " : "", f[i].name);
}
