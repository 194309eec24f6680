/* Fits candidate accumulation models to the mma.sync tiles dumped by
 * mma_probe.cu and prints each model's mismatch count (a research tool, not a
 * test). Build and run here, from the repo root:
 *   gcc -O2 -std=c11 -I. tests/gpu/mma_fit.c formats/gpu/gpucvt.c -lm -o /tmp/mma_fit
 *   /tmp/mma_fit DIR/mma_f16.bin 0 NTILES   (1: bf16, 2: e4m3)
 * Model (g, extra, rn|rz): the K products are taken in groups of g (ascending k);
 * each step sums the running f32 accumulator and the group's exact products after
 * truncating every term toward zero to a multiple of 2^(emax-23-extra), emax the
 * largest term exponent, and rounds the exact sum to f32 (RN or RZ). The line
 * "exact-sum-RN" is D = RN(C + exact sum). Models with more than half of the
 * outputs wrong are not printed. */
#include "formats/common/half.h"
#include "formats/gpu/gpucvt.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static float round_rz(double v) {
    float f = (float)v;
    if (fabs((double)f) > fabs(v))
        f = nextafterf(f, 0.0f);
    return f;
}
static float model(int K, const double *p, float c, int g, int extra, int rz) {
    float acc = c;
    for (int k0 = 0; k0 < K; k0 += g) {
        double t[40];
        int n = 0;
        t[n++] = acc;
        for (int k = k0; k < k0 + g && k < K; k++)
            t[n++] = p[k];
        int emax = -100000;
        for (int i = 0; i < n; i++)
            if (t[i] != 0) {
                int e;
                frexp(t[i], &e);
                if (e - 1 > emax)
                    emax = e - 1;
            }
        if (emax == -100000) { /* all zero: keep sign rules simple */
            double s = 0;
            for (int i = 0; i < n; i++)
                s += t[i];
            acc = (float)s;
            continue;
        }
        int qe = emax - 23 - extra;
        long long s = 0;
        for (int i = 0; i < n; i++) {
            double v = ldexp(t[i], -qe);
            s += (long long)trunc(v);
        } /* trunc toward zero */
        double v = ldexp((double)s, qe);
        acc = rz ? round_rz(v) : (float)v;
        if (s == 0)
            acc = 0.0f;
    }
    return acc;
}
int main(int argc, char **argv) {
    if (argc < 4)
        return 2;
    int kind = atoi(argv[2]);
    FILE *f = fopen(argv[1], "rb");
    int K = kind < 2 ? 16 : 32, w = kind < 2 ? 2 : 1;
    int ntiles = atoi(argv[3]);
    size_t tsz = 16 * K * w + 8 * K * w + 512 + 512;
    uint8_t *buf = malloc(tsz);
    int gs[] = {1, 2, 4, 8, 16, 32};
    static long bad[6][8][2];
    long tot = 0, exactbad = 0;
    for (int t = 0; t < ntiles; t++) {
        if (fread(buf, 1, tsz, f) != tsz)
            break;
        uint8_t *A = buf, *B = buf + 16 * K * w;
        float *C = (float *)(buf + 24 * K * w), *D = C + 128;
        for (int m = 0; m < 16; m++)
            for (int n = 0; n < 8; n++) {
                double p[32];
                for (int k = 0; k < K; k++) {
                    double a, b;
                    if (kind == 0) {
                        a = qlm_f16_to_f32(A[(m * K + k) * 2] | A[(m * K + k) * 2 + 1] << 8);
                        b = qlm_f16_to_f32(B[(n * K + k) * 2] | B[(n * K + k) * 2 + 1] << 8);
                    } else if (kind == 1) {
                        a = qlm_bf16_to_f32(A[(m * K + k) * 2] | A[(m * K + k) * 2 + 1] << 8);
                        b = qlm_bf16_to_f32(B[(n * K + k) * 2] | B[(n * K + k) * 2 + 1] << 8);
                    } else {
                        a = qlm_gpu_e4m3_to_f32(A[m * K + k]);
                        b = qlm_gpu_e4m3_to_f32(B[n * K + k]);
                    }
                    p[k] = a * b;
                }
                float d = D[m * 8 + n];
                tot++;
                /* exact-sum reference to validate layout */
                long double ex = C[m * 8 + n];
                for (int k = 0; k < K; k++)
                    ex += p[k];
                if ((float)ex != d)
                    exactbad++;
                for (int gi = 0; gi < 6; gi++)
                    for (int e = 0; e < 8; e++)
                        for (int r = 0; r < 2; r++) {
                            if (gs[gi] > K)
                                continue;
                            float mm = model(K, p, C[m * 8 + n], gs[gi], e, r);
                            if (qlm_f32_bits(mm) != qlm_f32_bits(d))
                                bad[gi][e][r]++;
                        }
            }
    }
    printf("outputs %ld, exact-sum-RN mismatches %ld\n", tot, exactbad);
    for (int gi = 0; gi < 6; gi++)
        for (int e = 0; e < 8; e++)
            for (int r = 0; r < 2; r++)
                if (gs[gi] <= K && bad[gi][e][r] < tot / 2)
                    printf("g=%d extra=%d %s: %ld\n", gs[gi], e, r ? "rz" : "rn", bad[gi][e][r]);
}
