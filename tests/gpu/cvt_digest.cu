// Exhaustive f32 -> narrow conversions on the GPU, digested per 2^24 chunk.
//
// For each mode, every f32 bit pattern u = 0 .. 2^32-1 is converted with the
// CUDA intrinsic; the codes (1 byte, or 2 bytes little-endian) of the inputs
// c*2^24 .. (c+1)*2^24-1 are hashed with SHA-256 (qlm's formats/common/hash.c)
// and printed as "<mode> <chunk> <hex>". Mode names and the byte layout are
// those of formats/gpu/gpucvt.h (qlm_gpu_cvt_name, qlm_gpu_cvt_width).
// The decode tables (all 2^8 / 2^16 codes widened to f32) are written raw to
// the file named by -d and digested as "dec_<kind> 0 <hex>".
//
//   cvt_digest [-d decode.bin] [--host CHUNK...]
//
// --host runs the same CUDA header functions on the CPU for the named chunks
// only (their host code paths), to dry-run this program without a GPU.
// Build: tests/gpu/build.sh.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp4.h>
#include <cuda_fp8.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

extern "C" {
#include "formats/common/hash.h"
}

enum Mode {
    E4M3_SAT, E4M3_NOSAT, E5M2_SAT, E5M2_NOSAT, E2M1_RN, E2M1_RZ, UE4M3,
    E8M0_RZ_SAT, E8M0_RZ_NOSAT, E8M0_RP_SAT, E8M0_RP_NOSAT, BF16_RN, F16_RN, NMODES
};
static const char *const k_names[NMODES] = {
    "e4m3_sat", "e4m3_nosat", "e5m2_sat", "e5m2_nosat", "e2m1_rn", "e2m1_rz", "ue4m3",
    "e8m0_rz_sat", "e8m0_rz_nosat", "e8m0_rp_sat", "e8m0_rp_nosat", "bf16_rn", "f16_rn"};

static int width(int m) { return m == BF16_RN || m == F16_RN ? 2 : 1; }

__host__ __device__ static unsigned cvt(int m, float x)
{
    switch (m) {
    case E4M3_SAT: return __nv_cvt_float_to_fp8(x, __NV_SATFINITE, __NV_E4M3);
    case E4M3_NOSAT: return __nv_cvt_float_to_fp8(x, __NV_NOSAT, __NV_E4M3);
    case E5M2_SAT: return __nv_cvt_float_to_fp8(x, __NV_SATFINITE, __NV_E5M2);
    case E5M2_NOSAT: return __nv_cvt_float_to_fp8(x, __NV_NOSAT, __NV_E5M2);
    case E2M1_RN: return __nv_cvt_float_to_fp4(x, __NV_E2M1, cudaRoundNearest);
    case E2M1_RZ: return __nv_cvt_float_to_fp4(x, __NV_E2M1, cudaRoundZero);
    case UE4M3: return __nv_cvt_float_to_fp8(fabsf(x), __NV_SATFINITE, __NV_E4M3);
    case E8M0_RZ_SAT: return __nv_cvt_float_to_e8m0(x, __NV_SATFINITE, cudaRoundZero);
    case E8M0_RZ_NOSAT: return __nv_cvt_float_to_e8m0(x, __NV_NOSAT, cudaRoundZero);
    case E8M0_RP_SAT: return __nv_cvt_float_to_e8m0(x, __NV_SATFINITE, cudaRoundPosInf);
    case E8M0_RP_NOSAT: return __nv_cvt_float_to_e8m0(x, __NV_NOSAT, cudaRoundPosInf);
    case BF16_RN: return __bfloat16_as_ushort(__float2bfloat16_rn(x));
    case F16_RN: return __half_as_ushort(__float2half_rn(x));
    }
    return 0;
}

__host__ __device__ static void put(uint8_t *out, int w, uint64_t i, unsigned c)
{
    out[i * w] = (uint8_t)c;
    if (w == 2)
        out[i * w + 1] = (uint8_t)(c >> 8);
}

__global__ void cvt_kernel(int m, int w, uint32_t first, uint64_t n, uint8_t *out)
{
    uint64_t i = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        put(out, w, i, cvt(m, __uint_as_float(first + (uint32_t)i)));
}

#define CK(call)                                                                   \
    do {                                                                           \
        cudaError_t e_ = (call);                                                   \
        if (e_ != cudaSuccess) {                                                   \
            fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #call,           \
                    cudaGetErrorString(e_));                                       \
            exit(1);                                                               \
        }                                                                          \
    } while (0)

static const uint64_t CHUNK = 1ull << 24;

static void print_digest(const char *name, unsigned chunk, const uint8_t *p, size_t n)
{
    char hex[65];
    qlm_sha256_hex(p, n, hex);
    printf("%s %u %s\n", name, chunk, hex);
}

// All 2^32 codes of one mode, converted on the GPU in slices of 2^28.
static void gpu_mode(int m, std::vector<uint8_t> &host, uint8_t *dev)
{
    const uint64_t slice = 1ull << 28;
    int w = width(m);
    for (uint64_t s = 0; s < (1ull << 32); s += slice) {
        cvt_kernel<<<(unsigned)(slice / 256), 256>>>(m, w, (uint32_t)s, slice, dev);
        CK(cudaGetLastError());
        CK(cudaMemcpy(host.data() + s * w, dev, slice * w, cudaMemcpyDeviceToHost));
    }
    #pragma omp parallel for schedule(dynamic)
    for (int c = 0; c < 256; c++) {
        char hex[65];
        qlm_sha256_hex(host.data() + c * CHUNK * w, CHUNK * w, hex);
        #pragma omp critical
        printf("%s %d %s\n", k_names[m], c, hex);
    }
}

static void host_chunk(int m, unsigned c, std::vector<uint8_t> &buf)
{
    int w = width(m);
    for (uint64_t i = 0; i < CHUNK; i++)
        put(buf.data(), w, i, cvt(m, [](uint32_t u) { float f; memcpy(&f, &u, 4); return f; }(
                                         (uint32_t)(c * CHUNK + i))));
    print_digest(k_names[m], c, buf.data(), CHUNK * w);
}

// Decoders: every code widened to f32 the way CUDA does it.
__host__ __device__ static float dec(int kind, unsigned c)
{
    switch (kind) {
    case 0: return __half2float(__half(__nv_cvt_fp8_to_halfraw((__nv_fp8_storage_t)c, __NV_E4M3)));
    case 1: return __half2float(__half(__nv_cvt_fp8_to_halfraw((__nv_fp8_storage_t)c, __NV_E5M2)));
    case 2: return __half2float(__half(__nv_cvt_fp4_to_halfraw((__nv_fp4_storage_t)c, __NV_E2M1)));
    case 3: return __bfloat162float(__nv_bfloat16(__nv_cvt_e8m0_to_bf16raw((__nv_fp8_storage_t)c)));
    case 4: return __bfloat162float(__ushort_as_bfloat16((unsigned short)c));
    case 5: return __half2float(__ushort_as_half((unsigned short)c));
    }
    return 0;
}
static const char *const k_dec_names[6] = {"dec_e4m3", "dec_e5m2", "dec_e2m1",
                                           "dec_e8m0", "dec_bf16", "dec_f16"};
static const unsigned k_dec_count[6] = {256, 256, 16, 256, 65536, 65536};

__global__ void dec_kernel(int kind, unsigned n, float *out)
{
    unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        out[i] = dec(kind, i);
}

static void decodes(bool on_gpu, const char *path)
{
    FILE *f = path ? fopen(path, "wb") : NULL;
    float *dev = NULL;
    if (on_gpu)
        CK(cudaMalloc(&dev, 65536 * sizeof(float)));
    for (int k = 0; k < 6; k++) {
        unsigned n = k_dec_count[k];
        std::vector<float> v(n);
        if (on_gpu) {
            dec_kernel<<<(n + 255) / 256, 256>>>(k, n, dev);
            CK(cudaGetLastError());
            CK(cudaMemcpy(v.data(), dev, n * sizeof(float), cudaMemcpyDeviceToHost));
        } else {
            for (unsigned i = 0; i < n; i++)
                v[i] = dec(k, i);
        }
        print_digest(k_dec_names[k], 0, (const uint8_t *)v.data(), n * sizeof(float));
        if (f)
            fwrite(v.data(), sizeof(float), n, f);
    }
    if (f)
        fclose(f);
    if (dev)
        cudaFree(dev);
}

int main(int argc, char **argv)
{
    const char *decpath = NULL;
    bool host = false;
    std::vector<unsigned> chunks;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-d") && i + 1 < argc)
            decpath = argv[++i];
        else if (!strcmp(argv[i], "--host"))
            host = true;
        else
            chunks.push_back((unsigned)strtoul(argv[i], NULL, 0));
    }
    if (host) {
        std::vector<uint8_t> buf(CHUNK * 2);
        for (int m = 0; m < NMODES; m++)
            for (unsigned c : chunks)
                host_chunk(m, c, buf);
        decodes(false, decpath);
        return 0;
    }
    cudaDeviceProp p;
    CK(cudaGetDeviceProperties(&p, 0));
    fprintf(stderr, "device: %s sm_%d%d\n", p.name, p.major, p.minor);
    std::vector<uint8_t> hostbuf((1ull << 32) * 2);
    uint8_t *dev;
    CK(cudaMalloc(&dev, (1ull << 28) * 2));
    for (int m = 0; m < NMODES; m++)
        gpu_mode(m, hostbuf, dev);
    decodes(true, decpath);
    CK(cudaFree(dev));
    return 0;
}
