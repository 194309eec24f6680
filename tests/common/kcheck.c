#include "tests/common/kcheck.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/common/half.h"
#include "formats/qlm/dtype.h"

/* ---- deterministic inputs ------------------------------------------------ */

static uint64_t g_rng;

static uint64_t rnd(void) /* splitmix64 */
{
    uint64_t z = (g_rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int rndi(int n) { return (int)(rnd() % (uint64_t)n); }
static float unit(void) { return (float)((double)(rnd() >> 11) / 9007199254740992.0 * 2.0 - 1.0); }

/* unit() * 2^(lo + rndi(span)); two draws in a fixed order (the order of
 * evaluating function arguments is unspecified, and differs across ABIs) */
static float scaled(int lo, int span)
{
    float u = unit();
    return ldexpf(u, lo + rndi(span));
}

/* Mostly ordinary values, with zeros, signed zeros, subnormals and large
 * magnitudes mixed in; |v| < 2^60, so products and sums stay finite. */
static float value(void)
{
    switch (rndi(16)) {
    case 0: return 0.0f;
    case 1: return -0.0f;
    case 2: return unit() * 1e-40f; /* subnormal */
    case 3: return scaled(40, 20);
    case 4: return scaled(-119, 60);
    default: return scaled(-6, 12);
    }
}

static void fill(float *x, int64_t n, float (*gen)(void))
{
    for (int64_t i = 0; i < n; i++)
        x[i] = gen();
}

/* ---- comparison ---------------------------------------------------------- */

static void note(kcheck *kc, int ok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void note(kcheck *kc, int ok, const char *fmt, ...)
{
    if (ok) {
        kc->passed++;
        return;
    }
    if (kc->failed++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(kc->first_failure, sizeof kc->first_failure, fmt, ap);
        va_end(ap);
    }
}

/* Bitwise equality of n floats; the reference copy goes into the digest. */
static int same(kcheck *kc, const float *ref, const float *got, int64_t n)
{
    qlm_sha256_update(&kc->digest, ref, (size_t)n * sizeof *ref);
    return memcmp(ref, got, (size_t)n * sizeof *ref) == 0;
}

void kcheck_init(kcheck *kc)
{
    memset(kc, 0, sizeof *kc);
    qlm_sha256_init(&kc->digest);
}

void kcheck_digest_hex(const kcheck *kc, char out[65])
{
    qlm_sha256 s = kc->digest;
    uint8_t d[32];
    qlm_sha256_final(&s, d);
    qlm_hex(d, 32, out);
}

/* ---- vector kernels ------------------------------------------------------ */

static float softmax_value(void) { return rndi(8) == 0 ? unit() * 200.0f : unit() * 30.0f; }
static float silu_value(void) { return rndi(8) == 0 ? unit() * 250.0f : unit() * 12.0f; }

void kcheck_elementwise(kcheck *kc, const qlm_kernels *k)
{
    const qlm_kernels *r = qlm_kernels_ref();
    enum { N = 300, PAD = 3 };
    /* offsets of 1..3 floats keep the arrays off vector alignment */
    float *x = malloc((N + PAD) * sizeof *x), *y = malloc((N + PAD) * sizeof *y);
    float *w = malloc((N + PAD) * sizeof *w), *a = malloc((N + PAD) * sizeof *a);
    float *b = malloc((N + PAD) * sizeof *b);
    g_rng = 1;
    for (int64_t n = 1; n <= N; n++) {
        int o = (int)(n % PAD) + 1 - (n % 7 == 0);
        float *xo = x + o, *yo = y + o, *wo = w + o;
        fill(xo, n, value);
        fill(yo, n, value);
        float f[2] = {r->dot(xo, yo, n), k->dot(xo, yo, n)};
        note(kc, same(kc, &f[0], &f[1], 1), "%s dot n=%lld", k->name, (long long)n);
        f[0] = r->sum(xo, n), f[1] = k->sum(xo, n);
        note(kc, same(kc, &f[0], &f[1], 1), "%s sum n=%lld", k->name, (long long)n);

        float s = value();
        memcpy(a, yo, n * sizeof *a);
        memcpy(b, yo, n * sizeof *b);
        r->axpy(a, s, xo, n);
        k->axpy(b, s, xo, n);
        note(kc, same(kc, a, b, n), "%s axpy n=%lld", k->name, (long long)n);

        fill(wo, n, value);
        float eps = n % 2 ? 1e-5f : 1e-6f;
        for (int i = 0; i < n; i++) /* keep sum of squares finite */
            xo[i] = scaled(-30, 40);
        r->rmsnorm(a, xo, wo, n, eps);
        k->rmsnorm(b, xo, wo, n, eps);
        note(kc, same(kc, a, b, n), "%s rmsnorm n=%lld", k->name, (long long)n);

        fill(xo, n, softmax_value);
        memcpy(a, xo, n * sizeof *a);
        memcpy(b, xo, n * sizeof *b);
        r->softmax(a, n);
        k->softmax(b, n);
        note(kc, same(kc, a, b, n), "%s softmax n=%lld", k->name, (long long)n);

        fill(xo, n, silu_value);
        fill(yo, n, unit);
        memcpy(a, xo, n * sizeof *a);
        memcpy(b, xo, n * sizeof *b);
        r->silu_mul(a, yo, n);
        k->silu_mul(b, yo, n);
        note(kc, same(kc, a, b, n), "%s silu_mul n=%lld", k->name, (long long)n);

        /* m keys of length n at stride ld, as attention reads the KV cache */
        int64_t m = 1 + rndi(40), ld = n + rndi(3); /* past 16: batched key paths */
        float *kv = malloc((size_t)(m * ld) * sizeof *kv), *sc = malloc(2 * (size_t)m * sizeof *sc);
        fill(kv, m * ld, value);
        r->dot_rows(sc, xo, kv, m, ld, n, 0.125f);
        k->dot_rows(sc + m, xo, kv, m, ld, n, 0.125f);
        note(kc, same(kc, sc, sc + m, m), "%s dot_rows n=%lld m=%lld", k->name, (long long)n, (long long)m);
        fill(sc, m, unit);
        memcpy(a, yo, n * sizeof *a);
        memcpy(b, yo, n * sizeof *b);
        r->axpy_rows(a, sc, kv, m, ld, n);
        k->axpy_rows(b, sc, kv, m, ld, n);
        note(kc, same(kc, a, b, n), "%s axpy_rows n=%lld m=%lld", k->name, (long long)n, (long long)m);
        free(kv), free(sc);

        int64_t d = 2 * ((n + 1) / 2); /* head_dim 2..300, half not a vector multiple */
        fill(xo, d, value);
        fill(yo, d / 2, unit);
        fill(wo, d / 2, unit);
        memcpy(a, xo, d * sizeof *a);
        memcpy(b, xo, d * sizeof *b);
        r->rope(a, yo, wo, d);
        k->rope(b, yo, wo, d);
        note(kc, same(kc, a, b, d), "%s rope head_dim=%lld", k->name, (long long)d);
    }
    free(x), free(y), free(w), free(a), free(b);
}

/* ---- activation quantization -------------------------------------------- */

/* One block of 32 of a given kind: random, zero, subnormal, huge, ties. */
static void act_block(float *x, int kind)
{
    for (int i = 0; i < 32; i++) {
        switch (kind) {
        case 0: x[i] = 0.0f; break;
        case 1: x[i] = unit() * 1e-39f; break;         /* 127/amax overflows */
        case 2: x[i] = unit() * 3e38f; break;
        case 3: x[i] = (float)(rndi(255) - 127) + 0.5f; break; /* amax 127: exact ties */
        case 4: x[i] = i == 5 ? 1e30f : unit() * 1e-30f; break;
        case 5: x[i] = i % 2 ? -1e-3f : 1e-3f; break;  /* every code +-127 */
        default: x[i] = value(); break;
        }
    }
    if (kind == 3)
        x[7] = -127.0f;
}

void kcheck_quant_act(kcheck *kc, const qlm_kernels *k)
{
    enum { NB = 40 };
    float *x = malloc((NB * 32 + 1) * sizeof *x);
    qlm_block_q8a *a = malloc(NB * sizeof *a), *b = malloc(NB * sizeof *b);
    g_rng = 2;
    for (int64_t nb = 1; nb <= NB; nb++) {
        float *xo = x + (nb % 2); /* unaligned every other round */
        for (int64_t j = 0; j < nb; j++)
            act_block(xo + 32 * j, rndi(10));
        memset(a, 0x5A, NB * sizeof *a);
        memset(b, 0x5A, NB * sizeof *b);
        qlm_kernels_ref()->quant_act(xo, a, nb * 32);
        k->quant_act(xo, b, nb * 32);
        qlm_sha256_update(&kc->digest, a, NB * sizeof *a);
        note(kc, memcmp(a, b, NB * sizeof *a) == 0, "%s quant_act blocks=%lld", k->name, (long long)nb);
    }
    free(x), free(a), free(b);
}

/* ---- quantized matmuls --------------------------------------------------- */

static uint16_t f16_scale(void)
{
    switch (rndi(10)) {
    case 0: return 0;
    case 1: return 0x7BFF;                          /* 65504 */
    case 2: return (uint16_t)(1 + rndi(0x3FF));     /* subnormal */
    case 3: return (uint16_t)(0x8000 | rndi(0x7C00)); /* negative */
    default: return qlm_f32_to_f16(scaled(-12, 10));
    }
}

static void q8_block(qlm_block_q8 *b)
{
    int kind = rndi(8);
    b->d = f16_scale();
    for (int i = 0; i < 32; i++)
        b->q[i] = (int8_t)(kind == 0 ? 0 : kind == 1 ? -128 : kind == 2 ? 127
                           : kind == 3 ? (i % 2 ? -128 : 127) : rndi(256) - 128);
}

static void q4_block(qlm_block_q4 *b)
{
    int kind = rndi(8);
    b->d = f16_scale();
    for (int i = 0; i < 16; i++) /* nibble 0 is code -8, 15 is +7 */
        b->qs[i] = (uint8_t)(kind == 0 ? 0x88 : kind == 1 ? 0x00 : kind == 2 ? 0xFF
                             : kind == 3 ? 0x0F : rndi(256));
}

static void act_q8_block(qlm_block_q8a *b)
{
    int kind = rndi(8);
    b->d = kind == 0 ? 3e30f : kind == 1 ? 1e-30f : kind == 2 ? 0.0f : scaled(-8, 10);
    for (int i = 0; i < 32; i++)
        b->q[i] = (int8_t)(kind == 3 ? 127 : kind == 4 ? -127 : kind == 5 ? (i % 3 ? 127 : -127)
                           : rndi(255) - 127);
}

/* One call of mm_q8 and mm_q4 each: rows [r0, r1) of a rows x nb matrix
 * against nt tokens, outputs at stride ldy; untouched outputs must stay so. */
/* The set's packed copy of w must give the reference's ya (not added to
 * the digest: sets without packing would digest less). */
static void mm_packed_case(kcheck *kc, const qlm_kernels *k, uint32_t dtype, const void *w, int64_t rows,
                           int64_t nb, const qlm_block_q8a *x, int64_t nt, int64_t r0, int64_t r1,
                           const float *ya, int64_t ldy)
{
    size_t n = k->pack_size(dtype, rows, nb);
    if (n == 0)
        return;
    void *wp = aligned_alloc(64, (n + 63) & ~(size_t)63);
    float *yb = malloc((size_t)(nt * ldy) * sizeof *yb);
    for (int64_t i = 0; i < nt * ldy; i++)
        yb[i] = -1.5f;
    k->pack(dtype, w, rows, nb, wp);
    k->mm_packed(dtype, wp, x, nb, nt, r0, r1, yb, ldy);
    note(kc, memcmp(ya, yb, (size_t)(nt * ldy) * sizeof *yb) == 0, "%s mm_packed %s rows=%lld..%lld nb=%lld nt=%lld",
         k->name, dtype == QLM_DT_Q4 ? "q4" : "q8", (long long)r0, (long long)r1, (long long)nb, (long long)nt);
    free(wp), free(yb);
}

static void mm_quant_case(kcheck *kc, const qlm_kernels *k, int64_t rows, int64_t nb, int64_t nt,
                          int64_t r0, int64_t r1)
{
    int64_t ldy = rows + 3;
    /* +2 / +4 bytes: legal alignment for the block structs, never a vector's */
    uint8_t *wraw = malloc((size_t)(rows * nb) * sizeof(qlm_block_q8) + 2);
    uint8_t *xraw = malloc((size_t)(nt * nb) * sizeof(qlm_block_q8a) + 4);
    qlm_block_q8a *x = (qlm_block_q8a *)(xraw + 4);
    float *ya = malloc((size_t)(nt * ldy) * sizeof *ya), *yb = malloc((size_t)(nt * ldy) * sizeof *yb);
    for (int64_t i = 0; i < nt * nb; i++)
        act_q8_block(&x[i]);
    for (int q4 = 0; q4 < 2; q4++) {
        for (int64_t i = 0; i < nt * ldy; i++)
            ya[i] = yb[i] = -1.5f;
        if (q4) {
            qlm_block_q4 *w = (qlm_block_q4 *)(wraw + 2);
            for (int64_t i = 0; i < rows * nb; i++)
                q4_block(&w[i]);
            qlm_kernels_ref()->mm_q4(w, x, nb, nt, r0, r1, ya, ldy);
            k->mm_q4(w, x, nb, nt, r0, r1, yb, ldy);
        } else {
            qlm_block_q8 *w = (qlm_block_q8 *)(wraw + 2);
            for (int64_t i = 0; i < rows * nb; i++)
                q8_block(&w[i]);
            qlm_kernels_ref()->mm_q8(w, x, nb, nt, r0, r1, ya, ldy);
            k->mm_q8(w, x, nb, nt, r0, r1, yb, ldy);
        }
        note(kc, same(kc, ya, yb, nt * ldy), "%s mm_%s rows=%lld..%lld nb=%lld nt=%lld", k->name,
             q4 ? "q4" : "q8", (long long)r0, (long long)r1, (long long)nb, (long long)nt);
        if (k->pack_size)
            mm_packed_case(kc, k, q4 ? QLM_DT_Q4 : QLM_DT_Q8, wraw + 2, rows, nb, x, nt, r0, r1, ya, ldy);
    }
    free(wraw), free(xraw), free(ya), free(yb);
}

void kcheck_mm_quant(kcheck *kc, const qlm_kernels *k)
{
    g_rng = 3;
    for (int64_t nt = 1; nt <= 17; nt++)
        for (int64_t rows = 1; rows <= 49; rows += 12)
            mm_quant_case(kc, k, rows, 1 + (nt * 7 + rows) % 9, nt, rows > 3 ? nt % 3 : 0,
                          rows - (rows > 3 ? nt % 2 : 0));
    mm_quant_case(kc, k, 70, 64, 1, 0, 70); /* decode-like */
    mm_quant_case(kc, k, 35, 28, 9, 2, 35);
    mm_quant_case(kc, k, 17, 300, 17, 0, 17); /* long rows: prefill in token chunks */
    mm_quant_case(kc, k, 9, 520, 3, 1, 9);
    mm_quant_case(kc, k, 3, 4100, 2, 0, 3);
}

/* ---- float-weight matmuls ------------------------------------------------ */

static uint16_t f16_weight(void)
{
    uint16_t h = (uint16_t)rnd();
    return (h & 0x7C00) == 0x7C00 ? (uint16_t)(h & 0x83FF) : h; /* no Inf/NaN */
}

static uint16_t bf16_weight(void)
{
    uint16_t h = (uint16_t)rnd();
    int e = (h >> 7) & 0xFF; /* keep |w| in 2^-100..2^40: finite products */
    return (uint16_t)((h & 0x807F) | (uint16_t)((e % 140 + 27) << 7));
}

void kcheck_mm_float(kcheck *kc, const qlm_kernels *k)
{
    enum { ROWS = 11, NT = 7, KMAX = 300 };
    const qlm_kernels *r = qlm_kernels_ref();
    float *wf = malloc((ROWS * KMAX + 1) * sizeof *wf), *x = malloc((NT * KMAX + 1) * sizeof *x);
    uint16_t *wh = malloc((ROWS * KMAX + 1) * sizeof *wh);
    int64_t ldy = ROWS + 1;
    float ya[NT * (ROWS + 1)], yb[NT * (ROWS + 1)];
    g_rng = 4;
    static const int64_t ks[] = {1, 2, 3, 5, 8, 15, 16, 17, 31, 32, 33, 47, 48, 63, 64, 65, 100, 257, 300};
    for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++) {
        int64_t kk = ks[ki], nt = 1 + (int64_t)ki % NT, r0 = (int64_t)ki % 3, r1 = ROWS - (int64_t)ki % 2;
        float *xo = x + ki % 2, *wo = wf + (ki + 1) % 2;
        uint16_t *who = wh + ki % 2;
        fill(xo, nt * kk, value);
        fill(wo, ROWS * kk, value);
        for (int kind = 0; kind < 3; kind++) {
            for (int64_t i = 0; i < nt * ldy; i++)
                ya[i] = yb[i] = -1.5f;
            if (kind == 0) {
                r->mm_f32(wo, xo, kk, nt, r0, r1, ya, ldy);
                k->mm_f32(wo, xo, kk, nt, r0, r1, yb, ldy);
            } else {
                for (int64_t i = 0; i < ROWS * kk; i++)
                    who[i] = kind == 1 ? f16_weight() : bf16_weight();
                for (int64_t i = 0; i < nt * kk; i++) /* f16 weights reach 2^16 */
                    xo[i] = scaled(-15, 30);
                (kind == 1 ? r->mm_f16 : r->mm_bf16)(who, xo, kk, nt, r0, r1, ya, ldy);
                (kind == 1 ? k->mm_f16 : k->mm_bf16)(who, xo, kk, nt, r0, r1, yb, ldy);
            }
            note(kc, same(kc, ya, yb, nt * ldy), "%s mm_%s k=%lld nt=%lld", k->name,
                 kind == 0 ? "f32" : kind == 1 ? "f16" : "bf16", (long long)kk, (long long)nt);
        }
    }
    free(wf), free(x), free(wh);
}
