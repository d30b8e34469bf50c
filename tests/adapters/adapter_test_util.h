// Shared helpers of the adapters tests: small model shapes and an independent double-precision
// W + scale·B·A.
#pragma once
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "tunekit/models/config.h"
#include "tunekit/models/lora.h"
#include "tunekit/ops/ops.h"

namespace tunekit::test {

// Two layers wide enough for the init statistics: d_model 256, d_ff 512, 4 heads of 64, 2 kv heads.
inline ModelConfig wide_config() {
  ModelConfig c;
  c.n_vocab = 64;
  c.d_model = 256;
  c.d_ff = 512;
  c.n_layer = 2;
  c.n_head = 4;
  c.n_head_kv = 2;
  c.d_head = 64;
  c.n_ctx = 64;
  return c;
}

// "1.23e-05": measured values for RecordProperty.
inline std::string sci(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2e", x);
  return buf;
}

// Any storage dtype -> f32 values.
inline std::vector<float> values_of(const Tensor& t) {
  std::vector<float> v(size_t(t.numel()));
  ops::dequantize(t.data, t.dtype, t.numel(), v.data());
  return v;
}

// [d_out, d_in] in double: W + scale · B·A, with A [r, d_in], B [d_out, r] (any float dtypes).
inline std::vector<double> merged_reference(const Tensor& W, const Tensor& A, const Tensor& B, double scale) {
  const int64_t d_out = W.dim(0), d_in = W.dim(1), r = A.dim(0);
  std::vector<float> w = values_of(W), a = values_of(A), b = values_of(B);
  std::vector<double> out(w.begin(), w.end());
  for (int64_t i = 0; i < d_out; ++i)
    for (int64_t j = 0; j < d_in; ++j) {
      double s = 0;
      for (int64_t k = 0; k < r; ++k) s += double(b[size_t(i * r + k)]) * double(a[size_t(k * d_in + j)]);
      out[size_t(i * d_in + j)] += scale * s;
    }
  return out;
}

}  // namespace tunekit::test
