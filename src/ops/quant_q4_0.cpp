// Q4_0: 32 values per block with one f16 scale. Quantization follows ggml's reference: the value of
// largest magnitude maps to -8, keeping its sign (d = max / -8), so all 16 levels are used.
#include <algorithm>
#include <cmath>

#include "ops/quant_blocks.h"

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
    for (int j = 0; j < 16; ++j) {
      y[j] = d * float((x[b].qs[j] & 0xF) - 8);
      y[j + 16] = d * float((x[b].qs[j] >> 4) - 8);
    }
  }
}

}  // namespace tunekit::ops
