/* Writes the two bf16 tiles that located the 2^-158 floor of the mma.sync
 * truncation unit (docs/GPU-NUMERICS.md section 3), in mma_probe's tile layout:
 *   gcc -O2 tests/gpu/mma_floor_tiles.c -o /tmp/floor && /tmp/floor tiles.bin
 *   mma_probe run 1 tiles.bin out.bin     (on the GPU machine)
 * Output (m, n) of tile t adds a big negative product, -(1 + 5/128) 2^-(136+n),
 * and one small positive product 2^-(148 + m + 16 t); C = 0. */
#include <stdint.h>
#include <stdio.h>

static uint16_t pow2_bf16(int e) /* normal range only */
{
    return (uint16_t)((e + 127) << 7);
}

int main(int argc, char **argv)
{
    FILE *f = argc == 2 ? fopen(argv[1], "wb") : NULL;
    if (!f)
        return 2;
    for (int t = 0; t < 2; t++) {
        uint16_t A[16 * 16] = {0}, B[8 * 16] = {0};
        float C[128] = {0}, D[128] = {0};
        for (int m = 0; m < 16; m++) {
            A[m * 16] = 0x8000 | pow2_bf16(-70) | 0x5;
            A[m * 16 + 1] = pow2_bf16(-75 - m);
        }
        for (int n = 0; n < 8; n++) {
            B[n * 16] = pow2_bf16(-66 - n);
            B[n * 16 + 1] = pow2_bf16(-73 - 16 * t);
        }
        fwrite(A, 2, 256, f), fwrite(B, 2, 128, f), fwrite(C, 4, 128, f), fwrite(D, 4, 128, f);
    }
    return fclose(f) != 0;
}
