// Q4_0: 32 values per block with one f16 scale. Quantization follows ggml's reference: the value of
// largest magnitude maps to -8, keeping its sign (d = max / -8), so all 16 levels are used.
#include <algorithm>
#include <cmath>

#include "ops/quant_blocks.h"
#include "ops/simd_math.h"

namespace tunekit::ops {

void quantize_row_q4_0(const float* x, BlockQ4_0* y, int64_t n) {
  for (int64_t b = 0; b < n / 32; ++b, x += 32) {
    float amax = 0.0f, max = 0.0f;  // max: the value of largest magnitude, with its sign
    for (int j = 0; j < 32; ++j) {
      if (std::fabs(x[j]) > amax) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    float d = max / -8.0f;
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = f32_to_f16(d);
    for (int j = 0; j < 16; ++j) {
      int lo = std::min(15, int(int8_t(x[j] * id + 8.5f)));
      int hi = std::min(15, int(int8_t(x[j + 16] * id + 8.5f)));
      y[b].qs[j] = uint8_t(lo | (hi << 4));
    }
  }
}

void dequantize_row_q4_0(const BlockQ4_0* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / 32; ++b, y += 32) {
    float d = f16_to_f32(x[b].d);
#ifdef __AVX512F__  // the same products, 16 at a time
    const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x[b].qs)), low4 = _mm_set1_epi8(0x0F);
    const __m512i eight = _mm512_set1_epi32(8);
    const __m512 vd = _mm512_set1_ps(d);
    _mm512_storeu_ps(y, _mm512_mul_ps(vd, _mm512_cvtepi32_ps(_mm512_sub_epi32(
                                              _mm512_cvtepu8_epi32(_mm_and_si128(packed, low4)), eight))));
    _mm512_storeu_ps(y + 16, _mm512_mul_ps(vd, _mm512_cvtepi32_ps(_mm512_sub_epi32(
                                                   _mm512_cvtepu8_epi32(_mm_and_si128(_mm_srli_epi16(packed, 4), low4)),
                                                   eight))));
#else
    for (int j = 0; j < 16; ++j) {
      y[j] = d * float((x[b].qs[j] & 0xF) - 8);
      y[j + 16] = d * float((x[b].qs[j] >> 4) - 8);
    }
#endif
  }
}

}  // namespace tunekit::ops
