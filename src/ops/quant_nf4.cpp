// NF4 (QLoRA): 64 values per block, an f32 absmax and 4-bit indices into the NormalFloat code.
// Our packing (NF4 has no GGUF type): byte j holds value j in its low nibble and value j + 32 in its
// high nibble, like Q4_K, so a kernel expands 32 bytes into 64 consecutive values.
#include <cmath>

#include "ops/quant_blocks.h"
#include "ops/simd_math.h"

namespace tunekit::ops {

const float kNF4Levels[16] = {
    -1.0f,
    -0.6961928009986877f,
    -0.5250730514526367f,
    -0.39491748809814453f,
    -0.28444138169288635f,
    -0.18477343022823334f,
    -0.09105003625154495f,
    0.0f,
    0.07958029955625534f,
    0.16093020141124725f,
    0.24611230194568634f,
    0.33791524171829224f,
    0.44070982933044434f,
    0.5626170039176941f,
    0.7229568362236023f,
    1.0f,
};

namespace {
// Index of the nearest level (ties go to the lower level).
uint8_t nearest_nf4(float v) {
  uint8_t best = 0;
  for (uint8_t i = 1; i < 16; ++i)
    if (std::fabs(v - kNF4Levels[i]) < std::fabs(v - kNF4Levels[best])) best = i;
  return best;
}
}  // namespace

void quantize_row_nf4(const float* x, BlockNF4* y, int64_t n) {
  for (int64_t b = 0; b < n / 64; ++b, x += 64) {
    float absmax = 0.0f;
    for (int j = 0; j < 64; ++j) absmax = std::fmax(absmax, std::fabs(x[j]));
    float inv = absmax > 0.0f ? 1.0f / absmax : 0.0f;
    y[b].absmax = absmax;
    for (int j = 0; j < 32; ++j)
      y[b].qs[j] = uint8_t(nearest_nf4(x[j] * inv) | (nearest_nf4(x[j + 32] * inv) << 4));
  }
}

void dequantize_row_nf4(const BlockNF4* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / 64; ++b, y += 64) {
#ifdef __AVX512F__  // the same products, 16 at a time; vpermps reads the low 4 bits of each index
    const __m512 levels = _mm512_loadu_ps(kNF4Levels), absmax = _mm512_set1_ps(x[b].absmax);
    for (int half = 0; half < 2; ++half) {
      const __m512i bytes = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x[b].qs + 16 * half)));
      _mm512_storeu_ps(y + 16 * half, _mm512_mul_ps(_mm512_permutexvar_ps(bytes, levels), absmax));
      _mm512_storeu_ps(y + 32 + 16 * half,
                       _mm512_mul_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(bytes, 4), levels), absmax));
    }
#else
    for (int j = 0; j < 32; ++j) {
      y[j] = kNF4Levels[x[b].qs[j] & 0xF] * x[b].absmax;
      y[j + 32] = kNF4Levels[x[b].qs[j] >> 4] * x[b].absmax;
    }
#endif
  }
}

}  // namespace tunekit::ops
