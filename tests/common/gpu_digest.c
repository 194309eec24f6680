#include "tests/common/gpu_digest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/common/hash.h"
#include "tests/common/testutil.h"

static const char *const k_dec[GD_DECODES] = {"dec_e4m3", "dec_e5m2", "dec_e2m1",
                                              "dec_e8m0", "dec_bf16", "dec_f16"};

static int mode_index(const char *name)
{
    for (int m = 0; m < QLM_GPU_CVT_COUNT; m++)
        if (!strcmp(name, qlm_gpu_cvt_name((qlm_gpu_cvt_mode)m)))
            return m;
    for (int k = 0; k < GD_DECODES; k++)
        if (!strcmp(name, k_dec[k]))
            return QLM_GPU_CVT_COUNT + k;
    return -1;
}

void gd_load(gpu_digests *d)
{
    memset(d, 0, sizeof *d);
    FILE *f = fopen(tu_source("tests/data/gpu/cvt_digests.txt"), "r");
    if (!f)
        fail_msg("cannot open tests/data/gpu/cvt_digests.txt");
    char name[32], hex[80];
    unsigned chunk;
    int n;
    while ((n = fscanf(f, "%31s %u %79s", name, &chunk, hex)) == 3) {
        int m = mode_index(name);
        if (m < 0 || chunk >= GD_CHUNKS || strlen(hex) != 64)
            fail_msg("cvt_digests.txt: bad line '%s %u %s'", name, chunk, hex);
        memcpy(m < QLM_GPU_CVT_COUNT ? d->conv[m][chunk] : d->dec[m - QLM_GPU_CVT_COUNT], hex, 65);
    }
    fclose(f);
    if (n != EOF)
        fail_msg("cvt_digests.txt: malformed line");
    for (int m = 0; m < QLM_GPU_CVT_COUNT; m++)
        for (int c = 0; c < GD_CHUNKS; c++)
            if (!d->conv[m][c][0])
                fail_msg("cvt_digests.txt: no digest for %s chunk %d",
                         qlm_gpu_cvt_name((qlm_gpu_cvt_mode)m), c);
    for (int k = 0; k < GD_DECODES; k++)
        if (!d->dec[k][0])
            fail_msg("cvt_digests.txt: no digest for %s", k_dec[k]);
}

bool gd_check_chunk(const gpu_digests *d, qlm_gpu_cvt_mode m, unsigned c, uint8_t *scratch)
{
    size_t n = (size_t)1 << 24, w = qlm_gpu_cvt_width(m);
    char hex[65];
    qlm_gpu_cvt_run(m, (uint32_t)c << 24, n, scratch);
    qlm_sha256_hex(scratch, n * w, hex);
    return strcmp(hex, d->conv[m][c]) == 0;
}

static float decode(int k, uint32_t c)
{
    switch (k) {
    case 0: return qlm_gpu_e4m3_to_f32((uint8_t)c);
    case 1: return qlm_gpu_e5m2_to_f32((uint8_t)c);
    case 2: return qlm_gpu_e2m1_to_f32((uint8_t)c);
    case 3: return qlm_gpu_e8m0_to_f32((uint8_t)c);
    case 4: return qlm_gpu_bf16_to_f32((uint16_t)c);
    default: return qlm_gpu_f16_to_f32((uint16_t)c);
    }
}

bool gd_check_decode(const gpu_digests *d, int k)
{
    static const uint32_t count[GD_DECODES] = {256, 256, 16, 256, 65536, 65536};
    float *v = malloc(count[k] * sizeof *v);
    if (!v)
        fail_msg("out of memory");
    for (uint32_t c = 0; c < count[k]; c++)
        v[c] = decode(k, c); /* little-endian host: layout.h refuses others */
    char hex[65];
    qlm_sha256_hex(v, count[k] * sizeof *v, hex);
    free(v);
    return strcmp(hex, d->dec[k]) == 0;
}
