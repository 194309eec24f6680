/* AVX-512 activation quantization: one block of 32 = two zmm. */
#include "simd/x86/avx512/avx512.h"

static __m128i quant16(__m512 v, __m512 id)
{
    __m512 q = _mm512_roundscale_ps(_mm512_mul_ps(v, id), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    q = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(q, q, _CMP_ORD_Q), q); /* 0 * inf: code 0 */
    q = _mm512_min_ps(_mm512_max_ps(q, _mm512_set1_ps(-127.0f)), _mm512_set1_ps(127.0f));
    return _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(q));
}

void qa5_quant_act(const float *x, qlm_block_q8a *out, int64_t k)
{
    __m512 sign = _mm512_set1_ps(-0.0f);
    for (int64_t b = 0; b < k / 32; b++) {
        __m512 v0 = _mm512_loadu_ps(x + b * 32), v1 = _mm512_loadu_ps(x + b * 32 + 16);
        /* max |x| is exact in any order */
        float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_andnot_ps(sign, v0), _mm512_andnot_ps(sign, v1)));
        float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        out[b].d = amax / 127.0f;
        __m512 vid = _mm512_set1_ps(id);
        _mm_storeu_si128((__m128i *)out[b].q, quant16(v0, vid));
        _mm_storeu_si128((__m128i *)(out[b].q + 16), quant16(v1, vid));
    }
}
