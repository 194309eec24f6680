/* SYNTH.md weight generator, version 1. Every step is written out as the
 * spec states it; the double expressions rely on -ffp-contract=off. */
#include <math.h>
#include <string.h>

#include "formats/common/half.h"
#include "formats/convert/synth.h"

uint64_t qlm_fnv1a64(const void *data, size_t n)
{
    const unsigned char *p = data;
    uint64_t h = 0xCBF29CE484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001B3ull;
    }
    return h;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

qlm_status qlm_synth_gen_init(qlm_synth_gen *g, const char *name, uint32_t rank, const uint64_t *dims, uint64_t seed)
{
    g->s0 = seed ^ qlm_fnv1a64(name, strlen(name));
    g->scale = 0.1;
    if (ends_with(name, "norm.weight")) {
        g->kind = 0;
    } else if (ends_with(name, ".bias") || strstr(name, "embed_tokens") || strncmp(name, "lm_head", 7) == 0) {
        g->kind = 1;
    } else {
        if (rank != 2)
            return qlm_fail(QLM_E_SHAPE, "synth: %s is not a 2-D linear weight", name);
        g->kind = 2;
        g->scale = 1.0 / sqrt((double)dims[1]);
    }
    return QLM_OK;
}

void qlm_synth_gen_bf16(const qlm_synth_gen *g, uint64_t first, size_t count, uint16_t *out)
{
    for (size_t k = 0; k < count; k++) {
        uint64_t i = first + k + 1; /* the spec counts elements from 1 */
        uint64_t z = g->s0 + i * 0x9E3779B97F4A7C15ull;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z = z ^ (z >> 31);
        uint64_t u = z >> 40;
        double v = ((double)u + 0.5) * (2.0 / 16777216.0) - 1.0;
        double value;
        if (g->kind == 0) {
            double t = v * 0.1; /* two roundings: multiply, then add */
            value = t + 1.0;
        } else {
            value = v * g->scale;
        }
        uint32_t b = qlm_f32_bits((float)value);
        out[k] = (uint16_t)((b + 0x7FFFu + ((b >> 16) & 1u)) >> 16);
    }
}
