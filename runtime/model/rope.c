/* RoPE tables on Hugging Face's precision path, so long positions match it:
 * inv_freq is computed and rounded to float32 (as transformers does before
 * casting the buffer), the angle is the float32 product pos * inv_freq, and
 * its cos/sin are taken in double with our own deterministic qlm_sincos_d and
 * rounded to float. No libm transcendental reaches the logits. */
#include <stdlib.h>

#include "runtime/model/model_int.h"
#include "simd/ref/qmath.h"

/* transformers' _compute_llama3_parameters, step for step in float32. */
static float llama3_scale(const qlm_hparams *hp, float f)
{
    const float two_pi = (float)(2.0 * 3.14159265358979323846);
    float factor = (float)hp->rope_factor;
    float lo = (float)hp->rope_low_freq, hi = (float)hp->rope_high_freq;
    float old_ctx = (float)hp->rope_orig_ctx;
    float lo_wavelen = old_ctx / lo, hi_wavelen = old_ctx / hi;
    float wavelen = two_pi / f;
    float scaled = wavelen > lo_wavelen ? f / factor : f;
    if (!(wavelen < hi_wavelen) && !(wavelen > lo_wavelen)) {
        float smooth = (old_ctx / wavelen - lo) / (hi - lo);
        scaled = (1.0f - smooth) * scaled / factor + smooth * scaled;
    }
    return scaled;
}

qlm_status qlm_rope_inv_freq(const qlm_hparams *hp, float **out)
{
    int64_t half = hp->head_dim / 2;
    float *f = malloc((size_t)half * sizeof *f);
    if (!f)
        return qlm_fail(QLM_E_NOMEM, "out of memory for RoPE table (%lld entries)", (long long)half);
    double log_theta = qlm_log_d(hp->rope_theta);
    for (int64_t i = 0; i < half; i++) {
        /* arange(0, d, 2).float() / d, then base ** that, then 1.0 / that: each in float32 */
        float e = (float)(2 * i) / (float)hp->head_dim;
        float p = (float)qlm_exp_d((double)e * log_theta);
        float v = 1.0f / p;
        if (hp->rope_scaling == 1)
            v = llama3_scale(hp, v);
        else if (hp->rope_scaling == 2)
            v = v / (float)hp->rope_factor;
        f[i] = v;
    }
    *out = f;
    return QLM_OK;
}

void qlm_rope_row(const float *inv_freq, int64_t half, int64_t pos, float *c, float *s)
{
    for (int64_t i = 0; i < half; i++) {
        float angle = (float)pos * inv_freq[i];
        double sd, cd;
        qlm_sincos_d((double)angle, &sd, &cd);
        c[i] = (float)cd;
        s[i] = (float)sd;
    }
}
