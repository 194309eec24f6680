/* AVX2 activation quantization: one block of 32 = four ymm. */
#include "simd/x86/avx2/avx2.h"

static __m256i quant8(__m256 v, __m256 id)
{
    __m256 q = _mm256_round_ps(_mm256_mul_ps(v, id), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    q = _mm256_and_ps(q, _mm256_cmp_ps(q, q, _CMP_ORD_Q)); /* 0 * inf: code 0 */
    q = _mm256_min_ps(_mm256_max_ps(q, _mm256_set1_ps(-127.0f)), _mm256_set1_ps(127.0f));
    return _mm256_cvtps_epi32(q);
}

void qa2_quant_act(const float *x, qlm_block_q8a *out, int64_t k)
{
    __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t b = 0; b < k / 32; b++) {
        const float *xb = x + b * 32;
        __m256 v[4];
        __m256 m = _mm256_setzero_ps();
        for (int i = 0; i < 4; i++) {
            v[i] = _mm256_loadu_ps(xb + 8 * i);
            m = _mm256_max_ps(m, _mm256_andnot_ps(sign, v[i])); /* exact in any order */
        }
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        float amax = _mm_cvtss_f32(_mm_max_ss(m4, _mm_movehdup_ps(m4)));
        float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        out[b].d = amax / 127.0f;
        __m256 vid = _mm256_set1_ps(id);
        /* packs work per 128-bit lane; the permute restores element order */
        __m256i ab = _mm256_packs_epi32(quant8(v[0], vid), quant8(v[1], vid));
        __m256i cd = _mm256_packs_epi32(quant8(v[2], vid), quant8(v[3], vid));
        __m256i q = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(ab, cd),
                                                _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)out[b].q, q);
    }
}
