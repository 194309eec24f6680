#include "tests/common/malcase.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "tests/common/proc.h"
#include "tests/common/testutil.h"

void mc_write(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f))
        fail_msg("cannot write %s", path);
}

void mc_check(mc_stats *s, const char *label, mc_expect e, const char *const *args)
{
    const char *argv[32];
    size_t n = 0;
    argv[n++] = tu_qlm_bin();
    while (*args && n < 31)
        argv[n++] = *args++;
    argv[n] = NULL;
    tp_result r;
    tp_run((char *const *)argv, &r);
    int rejected = tp_is_one_line_error(&r);
    int accepted = WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0 && r.err_len == 0;
    int ok = e == MC_REJECT ? rejected : e == MC_ACCEPT ? accepted : rejected || accepted;
    if (!ok)
        fail_msg("case %u '%s' (qlm %s ...): %s; status %#x; stderr (%zu bytes): %.2000s", s->n_cases, label,
                 argv[1], e == MC_REJECT ? "must be rejected" : e == MC_ACCEPT ? "must succeed" : "crashed",
                 r.status, r.err_len, r.err);
    s->n_cases++;
    s->n_rejected += (unsigned)rejected;
    s->n_accepted += (unsigned)accepted;
    tp_free(&r);
}

uint64_t mc_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

size_t mc_edge_values(uint64_t orig, unsigned bytes, uint64_t out[6])
{
    uint64_t mask = bytes == 8 ? ~0ull : (1ull << (8 * bytes)) - 1, sign = 1ull << (8 * bytes - 1);
    out[0] = 0;
    out[1] = mask;
    out[2] = sign;
    out[3] = sign - 1;
    out[4] = (orig + 1) & mask;
    out[5] = (orig - 1) & mask;
    return 6;
}

void mc_store(uint8_t *p, uint64_t v, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

uint64_t mc_load(const uint8_t *p, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}
