// Q8_0: 32 values per block with one f16 scale. Quantization follows ggml's reference: d = amax / 127,
// q = round(x / d) (the reciprocal of the unrounded d).
#include <cmath>

#include "ops/quant_blocks.h"

namespace tunekit::ops {

void quantize_row_q8_0(const float* x, BlockQ8_0* y, int64_t n) {
  for (int64_t b = 0; b < n / 32; ++b, x += 32) {
    float amax = 0.0f;
    for (int j = 0; j < 32; ++j) amax = std::fmax(amax, std::fabs(x[j]));
    float d = amax / 127.0f;
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = f32_to_f16(d);
    for (int j = 0; j < 32; ++j) y[b].qs[j] = int8_t(std::roundf(x[j] * id));
  }
}

void dequantize_row_q8_0(const BlockQ8_0* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / 32; ++b, y += 32) {
    float d = f16_to_f32(x[b].d);
    for (int j = 0; j < 32; ++j) y[j] = d * float(x[b].qs[j]);
  }
}

}  // namespace tunekit::ops
