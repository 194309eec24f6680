/* NEON activation quantization: one block of 32 = eight float32x4. */
#include "simd/arm/neon/neon.h"

void qn_quant_act(const float *x, qlm_block_q8a *out, int64_t k)
{
    for (int64_t b = 0; b < k / 32; b++) {
        const float *xb = x + b * 32;
        float32x4_t v[8], m = vdupq_n_f32(0.0f);
        for (int i = 0; i < 8; i++) {
            v[i] = vld1q_f32(xb + 4 * i);
            m = vmaxq_f32(m, vabsq_f32(v[i])); /* exact in any order */
        }
        float amax = vmaxvq_f32(m);
        float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        out[b].d = amax / 127.0f;
        int16x8_t h[4];
        for (int i = 0; i < 8; i += 2) {
            int32x4_t q[2];
            for (int e = 0; e < 2; e++) {
                float32x4_t f = vrndnq_f32(vmulq_n_f32(v[i + e], id));
                f = vbslq_f32(vceqq_f32(f, f), f, vdupq_n_f32(0.0f)); /* 0 * inf: code 0 */
                f = vminq_f32(vmaxq_f32(f, vdupq_n_f32(-127.0f)), vdupq_n_f32(127.0f));
                q[e] = vcvtq_s32_f32(f);
            }
            h[i / 2] = vcombine_s16(vqmovn_s32(q[0]), vqmovn_s32(q[1]));
        }
        vst1q_s8(out[b].q, vcombine_s8(vqmovn_s16(h[0]), vqmovn_s16(h[1])));
        vst1q_s8(out[b].q + 16, vcombine_s8(vqmovn_s16(h[2]), vqmovn_s16(h[3])));
    }
}
