// Tensor-core probe: one mma.sync per tile on random operands, dumping operands
// and results so that candidate accumulation models can be fitted on the CPU.
//
//   mma_probe DIR NTILES [adv|sparse]
//   mma_probe run KIND IN OUT      (KIND 0 f16, 1 bf16, 2 e4m3: any tiles, e.g.
//                                  from tests/gpu/mma_floor_tiles.c)
//   mma_probe wgmma KIND IN OUT    the same tiles through wgmma m64n8k16/k32 (A in
//                                  registers, the tile's 16 rows in every warp)
// Build: nvcc -std=c++17 -O2 -gencode arch=compute_90a,code=sm_90a -fmad=false mma_probe.cu
//
// With "adv" the operands are adversarial instead: full exponent ranges with
// subnormals and zeros, products that cancel exactly or nearly, C of 0, huge,
// tiny or subnormal, all-equal tiles, and sign mixes. With "sparse" each row
// of A has only 1-8 nonzero codes (every fourth tile: all 32), so an output
// sums a few products of widely different magnitude: this is what exposed the
// two-half structure of the E4M3 instruction.
//
// Writes DIR/mma_f16.bin, DIR/mma_bf16.bin (m16n8k16, f32 accumulate) and
// DIR/mma_e4m3.bin (m16n8k32). Per tile: A (16 x K codes, row-major), B^T
// (8 x K codes, row n holds column n of B), C (16 x 8 f32), D (16 x 8 f32);
// codes are 2 bytes (f16/bf16) or 1 byte (e4m3), all little-endian.
// Fragment layouts follow the PTX ISA "Matrix Fragments for mma.m16n8k16 /
// mma.m16n8k32" tables.
#include <algorithm>
#include <cmath>
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

static bool g_adv = false, g_sparse = false;

// f32 from sign, unbiased exponent and 23-bit mantissa (subnormal below -126).
static float f32_of(unsigned sign, int e, uint32_t man)
{
    uint32_t u;
    if (e < -126)
        u = (man | 0x800000u) >> (-126 - e > 24 ? 24 : -126 - e);
    else
        u = (uint32_t)(127 + e) << 23 | (man & 0x7FFFFF);
    u |= sign << 31;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

// Adversarial operand: any finite code, zeros and subnormals included; bf16
// exponents kept within +-60 so products and sums stay finite in f32.
static unsigned adv_code(int kind)
{
    uint64_t r = next();
    unsigned sign = (unsigned)(r & 1), man = (unsigned)(r >> 8);
    unsigned pick = (unsigned)(r >> 56);
    if (kind == 0) {
        unsigned e = (unsigned)((r >> 40) % 31); // 0..30: subnormals, never Inf/NaN
        if (pick < 16) return sign << 15;                      // +-0
        if (pick < 48) return sign << 15 | (man & 0x3FF);      // subnormal
        return sign << 15 | e << 10 | (man & 0x3FF);
    }
    if (kind == 1) {
        int e = (int)((r >> 40) % 121) - 60;
        if (pick < 16) return sign << 15;
        if (pick < 32) return sign << 15 | (man & 0x7F);       // bf16 subnormal
        return sign << 15 | (unsigned)(127 + e) << 7 | (man & 0x7F);
    }
    unsigned c = (unsigned)(r >> 8) & 0x7F;
    if (c == 0x7F) c = 0x7E;                                    // no NaN
    return sign << 7 | c;
}

static float adv_accum(void)
{
    uint64_t r = next();
    unsigned sign = (unsigned)(r & 1);
    uint32_t man = (uint32_t)(r >> 32);
    switch ((r >> 56) & 7) {
    case 0: return sign ? -0.0f : 0.0f;
    case 1: return f32_of(sign, -126 - 1 - (int)((r >> 8) % 22), man); // subnormal
    case 2: return f32_of(sign, (int)((r >> 8) % 201) - 100, man);     // wide
    default: return f32_of(sign, (int)((r >> 8) % 61) - 30, man);
    }
}

static float accum(void)
{
    if (g_adv)
        return adv_accum();
    uint64_t r = next();
    uint32_t u = (uint32_t)(r & 1) << 31 | (uint32_t)(127 + (int)((r >> 8) % 41) - 20) << 23 |
                 (uint32_t)(r >> 32) & 0x7FFFFF;
    if ((r >> 60) == 0)
        u = 0; /* some C = 0 */
    float f;
    memcpy(&f, &u, 4);
    return f;
}

// Every few tiles: exact cancellation (row m's second half negates its first
// half against the same B), or all operands equal (the all-ones experiment).
static void shape_tile(int kind, int tile, std::vector<uint8_t> &a, std::vector<uint8_t> &bt)
{
    int K = kind < 2 ? 16 : 32, w = kind < 2 ? 2 : 1;
    unsigned signbit = kind < 2 ? 0x8000u : 0x80u;
    if (tile % 4 == 1) {
        for (int n = 0; n < 8; n++)
            for (int k = K / 2; k < K; k++)
                memcpy(&bt[(n * K + k) * w], &bt[(n * K + k - K / 2) * w], w);
        for (int m = 0; m < 16; m++)
            for (int k = K / 2; k < K; k++) {
                unsigned v = 0;
                memcpy(&v, &a[(m * K + k - K / 2) * w], w);
                if (m & 1)
                    v ^= 1; // near cancellation: one ulp off (E4M3 448 becomes NaN: NaN rows)
                v ^= signbit;
                memcpy(&a[(m * K + k) * w], &v, w);
            }
    } else if (tile % 8 == 2) {
        unsigned one = kind == 0 ? 0x3C00u : kind == 1 ? 0x3F80u : 0x38u;
        for (size_t i = 0; i < a.size() / w; i++)
            memcpy(&a[i * w], &one, w);
        for (size_t i = 0; i < bt.size() / w; i++)
            memcpy(&bt[i * w], &one, w);
    }
}

// Sparse rows of A (see the header); B random or (every fourth tile from the
// third) all ones; C zero half of the time, else uniform times 2^-20..2^20.
static void sparse_tile(int kind, int tile, std::vector<uint8_t> &a, std::vector<uint8_t> &bt, std::vector<float> &c)
{
    int K = kind < 2 ? 16 : 32, w = kind < 2 ? 2 : 1;
    static const int nnz_choice[6] = {1, 2, 2, 3, 4, 8};
    unsigned one = kind == 0 ? 0x3C00u : kind == 1 ? 0x3F80u : 0x38u;
    std::fill(a.begin(), a.end(), 0);
    for (int m = 0; m < 16; m++) {
        int nnz = tile % 4 == 3 ? K : nnz_choice[next() % 6];
        for (int i = 0; i < nnz; i++) {
            unsigned v = adv_code(kind);
            memcpy(&a[(m * K + (int)(next() % K)) * w], &v, w);
        }
    }
    if (tile % 4 == 2)
        for (size_t i = 0; i < bt.size() / w; i++)
            memcpy(&bt[i * w], &one, w);
    for (int i = 0; i < 128; i++) {
        uint64_t r = next();
        c[i] = (r & 1) ? 0.0f : ldexpf((float)((double)(r >> 11) / 9007199254740992.0 * 2 - 1), (int)((r >> 2) % 41) - 20);
    }
}

// wgmma with A from registers (the same 16 x K tile in each of the 4 warps: the
// m64 rows 16w..16w+15 of warp w) and B^T (8 x 32 bytes) in shared memory in
// the no-swizzle K-major canonical layout: two 8 x 16-byte core matrices.
// kind 0 f16 (m64n8k16), 2 e4m3 (m64n8k32). D of warp w goes to d + 128 w.
__global__ void wg_kernel(int kind, const uint8_t *a, const uint8_t *bt, const float *c, float *d, int lbo, int sbo)
{
    __shared__ __align__(256) uint8_t sB[512];
    int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t = lane & 3;
    for (int i = tid; i < 256; i += 128) {
        int n = i / 32, kb = i % 32;
        sB[(kb / 16) * 128 + n * 16 + kb % 16] = bt[n * 32 + kb];
    }
    __syncthreads();
    asm volatile("fence.proxy.async.shared::cta;");
    __syncthreads();
    uint32_t ra[4];
    if (kind < 2) {
        const uint16_t *A = (const uint16_t *)a;
        for (int r = 0; r < 4; r++) {
            int row = g + (r & 1) * 8, col = t * 2 + (r >> 1) * 8;
            ra[r] = A[row * 16 + col] | (uint32_t)A[row * 16 + col + 1] << 16;
        }
    } else {
        for (int r = 0; r < 4; r++) {
            int row = g + (r & 1) * 8, col = t * 4 + (r >> 1) * 16;
            ra[r] = a[row * 32 + col] | a[row * 32 + col + 1] << 8 |
                    a[row * 32 + col + 2] << 16 | (uint32_t)a[row * 32 + col + 3] << 24;
        }
    }
    uint64_t addr = (uint64_t)__cvta_generic_to_shared(sB);
    uint64_t desc = ((addr & 0x3FFFF) >> 4) | ((uint64_t)((lbo >> 4) & 0x3FFF) << 16) |
                    ((uint64_t)((sbo >> 4) & 0x3FFF) << 32);
    float acc[4];
    for (int i = 0; i < 4; i++)
        acc[i] = c[(g + (i >> 1) * 8) * 8 + t * 2 + (i & 1)];
    asm volatile("wgmma.fence.sync.aligned;" ::: "memory");
    if (kind == 1)
        asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %9, 0;\n"
                     "wgmma.mma_async.sync.aligned.m64n8k16.f32.bf16.bf16 {%0,%1,%2,%3}, {%4,%5,%6,%7}, %8, p, 1, 1, 0;\n}"
                     : "+f"(acc[0]), "+f"(acc[1]), "+f"(acc[2]), "+f"(acc[3])
                     : "r"(ra[0]), "r"(ra[1]), "r"(ra[2]), "r"(ra[3]), "l"(desc), "r"(1));
    else if (kind == 0)
        asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %9, 0;\n"
                     "wgmma.mma_async.sync.aligned.m64n8k16.f32.f16.f16 {%0,%1,%2,%3}, {%4,%5,%6,%7}, %8, p, 1, 1, 0;\n}"
                     : "+f"(acc[0]), "+f"(acc[1]), "+f"(acc[2]), "+f"(acc[3])
                     : "r"(ra[0]), "r"(ra[1]), "r"(ra[2]), "r"(ra[3]), "l"(desc), "r"(1));
    else
        asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %9, 0;\n"
                     "wgmma.mma_async.sync.aligned.m64n8k32.f32.e4m3.e4m3 {%0,%1,%2,%3}, {%4,%5,%6,%7}, %8, p, 1, 1;\n}"
                     : "+f"(acc[0]), "+f"(acc[1]), "+f"(acc[2]), "+f"(acc[3])
                     : "r"(ra[0]), "r"(ra[1]), "r"(ra[2]), "r"(ra[3]), "l"(desc), "r"(1));
    asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory");
    asm volatile("wgmma.wait_group.sync.aligned 0;" ::: "memory");
    for (int i = 0; i < 4; i++)
        d[warp * 128 + (g + (i >> 1) * 8) * 8 + t * 2 + (i & 1)] = acc[i];
}

// mma_probe run KIND IN OUT: runs every tile of IN (A, B^T, C, D as mma_probe writes
// them; D ignored) through mma.sync and writes the tiles with D filled to OUT.
static int run_file(int argc, char **argv)
{
    if (argc < 5) return 2;
    int kind = atoi(argv[2]);
    bool wg = !strcmp(argv[1], "wgmma");
    int K = kind < 2 ? 16 : 32, w = kind < 2 ? 2 : 1;
    size_t ab = 24 * K * w, tsz = ab + 1024;
    FILE *in = fopen(argv[3], "rb"), *out = fopen(argv[4], "wb");
    if (!in || !out) return 1;
    std::vector<uint8_t> t(tsz);
    uint8_t *da, *db; float *dc, *dd;
    cudaMalloc(&da, 16 * K * w), cudaMalloc(&db, 8 * K * w), cudaMalloc(&dc, 512), cudaMalloc(&dd, 2048);
    long n = 0;
    while (fread(t.data(), 1, tsz, in) == tsz) {
        cudaMemcpy(da, t.data(), 16 * K * w, cudaMemcpyHostToDevice);
        cudaMemcpy(db, t.data() + 16 * K * w, 8 * K * w, cudaMemcpyHostToDevice);
        cudaMemcpy(dc, t.data() + ab, 512, cudaMemcpyHostToDevice);
        if (wg)
            wg_kernel<<<1, 128>>>(kind, da, db, dc, dd, 128, 128);
        else
            mma_kernel<<<1, 32>>>(kind, da, db, dc, dd);
        if (cudaMemcpy(t.data() + ab + 512, dd, 512, cudaMemcpyDeviceToHost) != cudaSuccess) return 1;
        fwrite(t.data(), 1, tsz, out);
        n++;
    }
    fclose(out);
    fprintf(stderr, "%ld tiles\n", n);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && (!strcmp(argv[1], "run") || !strcmp(argv[1], "wgmma")))
        return run_file(argc, argv);
    if (argc < 3)
        return 2;
    int ntiles = atoi(argv[2]);
    g_adv = argc > 3 && !strcmp(argv[3], "adv");
    g_sparse = argc > 3 && !strcmp(argv[3], "sparse");
    g_adv |= g_sparse;
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
                unsigned v = g_adv ? adv_code(kind) : code(kind);
                memcpy(&a[i * w], &v, w);
            }
            for (size_t i = 0; i < bt.size() / w; i++) {
                unsigned v = g_adv ? adv_code(kind) : code(kind);
                memcpy(&bt[i * w], &v, w);
            }
            for (int i = 0; i < 128; i++)
                c[i] = accum();
            if (g_sparse)
                sparse_tile(kind, tile, a, bt, c);
            else if (g_adv)
                shape_tile(kind, tile, a, bt);
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
