// f16 and bf16 rows: IEEE narrowing with round-to-nearest-even, exactly as tunekit/dtype.h's
// scalar conversions (the vector paths give the same bits for every non-NaN input).
#include "ops/quant_blocks.h"
#include "ops/simd_math.h"

namespace tunekit::ops {

void quantize_row_f16(const float* x, uint16_t* y, int64_t n) {
  int64_t i = 0;
#ifdef __AVX512F__
  for (; i + 16 <= n; i += 16)
    _mm256_storeu_si256((__m256i*)(y + i),
                        _mm512_cvtps_ph(_mm512_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
#endif
  for (; i < n; ++i) y[i] = f32_to_f16(x[i]);
}

void dequantize_row_f16(const uint16_t* x, float* y, int64_t n) {
  int64_t i = 0;
#ifdef __AVX512F__
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)(x + i))));
#endif
  for (; i < n; ++i) y[i] = f16_to_f32(x[i]);
}

void quantize_row_bf16(const float* x, uint16_t* y, int64_t n) {
  int64_t i = 0;
#ifdef __AVX512F__
  const __m512i abs_mask = _mm512_set1_epi32(0x7fffffff), inf = _mm512_set1_epi32(0x7f800000);
  const __m512i bias = _mm512_set1_epi32(0x7fff), one = _mm512_set1_epi32(1), quiet = _mm512_set1_epi32(0x40);
  for (; i + 16 <= n; i += 16) {
    __m512i bits = _mm512_castps_si512(_mm512_loadu_ps(x + i));
    __m512i rounded = _mm512_add_epi32(bits, _mm512_add_epi32(bias, _mm512_and_si512(_mm512_srli_epi32(bits, 16), one)));
    __m512i high = _mm512_srli_epi32(rounded, 16);
    __mmask16 is_nan = _mm512_cmpgt_epi32_mask(_mm512_and_si512(bits, abs_mask), inf);
    high = _mm512_mask_or_epi32(high, is_nan, _mm512_srli_epi32(bits, 16), quiet);
    _mm256_storeu_si256((__m256i*)(y + i), _mm512_cvtepi32_epi16(high));
  }
#endif
  for (; i < n; ++i) y[i] = f32_to_bf16(x[i]);
}

void dequantize_row_bf16(const uint16_t* x, float* y, int64_t n) {
  int64_t i = 0;
#ifdef __AVX512F__
  for (; i + 16 <= n; i += 16) {
    __m512i wide = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i*)(x + i)));
    _mm512_storeu_ps(y + i, _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16)));
  }
#endif
  for (; i < n; ++i) y[i] = bf16_to_f32(x[i]);
}

}  // namespace tunekit::ops
