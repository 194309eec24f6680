// Tensor-core probe: one mma.sync per tile on random operands, dumping operands
// and results so that candidate accumulation models can be fitted on the CPU.
//
//   mma_probe DIR NTILES
//
// Writes DIR/mma_f16.bin, DIR/mma_bf16.bin (m16n8k16, f32 accumulate) and
// DIR/mma_e4m3.bin (m16n8k32). Per tile: A (16 x K codes, row-major), B^T
// (8 x K codes, row n holds column n of B), C (16 x 8 f32), D (16 x 8 f32);
// codes are 2 bytes (f16/bf16) or 1 byte (e4m3), all little-endian.
// Fragment layouts follow the PTX ISA "Matrix Fragments for mma.m16n8k16 /
// mma.m16n8k32" tables.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

static uint64_t g_s = 0x1234567ull;
static uint64_t next()
{
    uint64_t z = (g_s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// kind 0 f16, 1 bf16 (K = 16), 2 e4m3 (K = 32).
__global__ void mma_kernel(int kind, const uint8_t *a, const uint8_t *bt, const float *c, float *d)
{
    int lane = threadIdx.x, g = lane >> 2, t = lane & 3;
    uint32_t ra[4], rb[2];
    if (kind < 2) {
        const uint16_t *A = (const uint16_t *)a, *B = (const uint16_t *)bt;
        for (int r = 0; r < 4; r++) {
            int row = g + (r & 1) * 8, col = t * 2 + (r >> 1) * 8;
            ra[r] = A[row * 16 + col] | (uint32_t)A[row * 16 + col + 1] << 16;
        }
        for (int r = 0; r < 2; r++) {
            int k = t * 2 + r * 8;
            rb[r] = B[g * 16 + k] | (uint32_t)B[g * 16 + k + 1] << 16;
        }
    } else {
        for (int r = 0; r < 4; r++) {
            int row = g + (r & 1) * 8, col = t * 4 + (r >> 1) * 16;
            ra[r] = a[row * 32 + col] | a[row * 32 + col + 1] << 8 |
                    a[row * 32 + col + 2] << 16 | (uint32_t)a[row * 32 + col + 3] << 24;
        }
        for (int r = 0; r < 2; r++) {
            int k = t * 4 + r * 16;
            rb[r] = bt[g * 32 + k] | bt[g * 32 + k + 1] << 8 | bt[g * 32 + k + 2] << 16 |
                    (uint32_t)bt[g * 32 + k + 3] << 24;
        }
    }
    float rc[4], rd[4];
    for (int i = 0; i < 4; i++)
        rc[i] = c[(g + (i >> 1) * 8) * 8 + t * 2 + (i & 1)];
    if (kind == 0)
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, "
                     "{%4,%5,%6,%7}, {%8,%9}, {%10,%11,%12,%13};"
                     : "=f"(rd[0]), "=f"(rd[1]), "=f"(rd[2]), "=f"(rd[3])
                     : "r"(ra[0]), "r"(ra[1]), "r"(ra[2]), "r"(ra[3]), "r"(rb[0]), "r"(rb[1]),
                       "f"(rc[0]), "f"(rc[1]), "f"(rc[2]), "f"(rc[3]));
    else if (kind == 1)
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, "
                     "{%4,%5,%6,%7}, {%8,%9}, {%10,%11,%12,%13};"
                     : "=f"(rd[0]), "=f"(rd[1]), "=f"(rd[2]), "=f"(rd[3])
                     : "r"(ra[0]), "r"(ra[1]), "r"(ra[2]), "r"(ra[3]), "r"(rb[0]), "r"(rb[1]),
                       "f"(rc[0]), "f"(rc[1]), "f"(rc[2]), "f"(rc[3]));
    else
        asm volatile("mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32 {%0,%1,%2,%3}, "
                     "{%4,%5,%6,%7}, {%8,%9}, {%10,%11,%12,%13};"
                     : "=f"(rd[0]), "=f"(rd[1]), "=f"(rd[2]), "=f"(rd[3])
                     : "r"(ra[0]), "r"(ra[1]), "r"(ra[2]), "r"(ra[3]), "r"(rb[0]), "r"(rb[1]),
                       "f"(rc[0]), "f"(rc[1]), "f"(rc[2]), "f"(rc[3]));
    for (int i = 0; i < 4; i++)
        d[(g + (i >> 1) * 8) * 8 + t * 2 + (i & 1)] = rd[i];
}

// Operand code with a moderate exponent spread, never Inf/NaN.
static unsigned code(int kind)
{
    uint64_t r = next();
    unsigned sign = (unsigned)(r & 1), man = (unsigned)(r >> 8);
    int e = (int)((r >> 40) % 13) - 6;
    if (kind == 0)
        return sign << 15 | (unsigned)(15 + e) << 10 | (man & 0x3FF);
    if (kind == 1)
        return sign << 15 | (unsigned)(127 + e) << 7 | (man & 0x7F);
    return sign << 7 | (unsigned)(7 + e / 2) << 3 | (man & 7);
}

static float accum(void)
{
    uint64_t r = next();
    uint32_t u = (uint32_t)(r & 1) << 31 | (uint32_t)(127 + (int)((r >> 8) % 41) - 20) << 23 |
                 (uint32_t)(r >> 32) & 0x7FFFFF;
    if ((r >> 60) == 0)
        u = 0; /* some C = 0 */
    float f;
    memcpy(&f, &u, 4);
    return f;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    int ntiles = atoi(argv[2]);
    const char *names[3] = {"f16", "bf16", "e4m3"};
    for (int kind = 0; kind < 3; kind++) {
        int K = kind < 2 ? 16 : 32, w = kind < 2 ? 2 : 1;
        std::vector<uint8_t> a(16 * K * w), bt(8 * K * w);
        std::vector<float> c(128), d(128);
        uint8_t *da, *db;
        float *dc, *dd;
        cudaMalloc(&da, a.size()), cudaMalloc(&db, bt.size());
        cudaMalloc(&dc, 512), cudaMalloc(&dd, 512);
        char path[4096];
        snprintf(path, sizeof path, "%s/mma_%s.bin", argv[1], names[kind]);
        FILE *f = fopen(path, "wb");
        for (int tile = 0; tile < ntiles; tile++) {
            for (size_t i = 0; i < a.size() / w; i++) {
                unsigned v = code(kind);
                memcpy(&a[i * w], &v, w);
            }
            for (size_t i = 0; i < bt.size() / w; i++) {
                unsigned v = code(kind);
                memcpy(&bt[i * w], &v, w);
            }
            for (int i = 0; i < 128; i++)
                c[i] = accum();
            cudaMemcpy(da, a.data(), a.size(), cudaMemcpyHostToDevice);
            cudaMemcpy(db, bt.data(), bt.size(), cudaMemcpyHostToDevice);
            cudaMemcpy(dc, c.data(), 512, cudaMemcpyHostToDevice);
            mma_kernel<<<1, 32>>>(kind, da, db, dc, dd);
            if (cudaMemcpy(d.data(), dd, 512, cudaMemcpyDeviceToHost) != cudaSuccess) {
                fprintf(stderr, "cuda error\n");
                return 1;
            }
            fwrite(a.data(), 1, a.size(), f), fwrite(bt.data(), 1, bt.size(), f);
            fwrite(c.data(), 4, 128, f), fwrite(d.data(), 4, 128, f);
        }
        fclose(f);
        fprintf(stderr, "%s: %d tiles\n", names[kind], ntiles);
    }
    return 0;
}
