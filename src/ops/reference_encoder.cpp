// Double-precision scalar references for the encoder kernels (tunekit/ops/encoder.h).
#include <algorithm>
#include <cmath>
#include <vector>

#include "tunekit/ops/encoder.h"

namespace tunekit::ops::ref {

void layer_norm(const float* x, const float* w, const float* b, float* y, int64_t T, int64_t C, float eps) {
  for (int64_t t = 0; t < T; ++t) {
    const float* row = x + t * C;
    double mean = 0, var = 0;
    for (int64_t c = 0; c < C; ++c) mean += row[c];
    mean /= double(C);
    for (int64_t c = 0; c < C; ++c) var += (row[c] - mean) * (row[c] - mean);
    const double r = 1.0 / std::sqrt(var / double(C) + eps);
    for (int64_t c = 0; c < C; ++c) y[t * C + c] = float((row[c] - mean) * r * w[c] + b[c]);
  }
}

void gelu(const float* x, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = float(0.5 * x[i] * (1.0 + std::erf(double(x[i]) / std::sqrt(2.0))));
}

void attention_bidirectional(const float* q, const float* k, const float* v, float* out, const int64_t* seq_start,
                             int64_t n_seq, int64_t n_head, int64_t d_head) {
  const int64_t stride = n_head * d_head;
  for (int64_t s = 0; s < n_seq; ++s) {
    const int64_t first = seq_start[s], n = seq_start[s + 1] - first;
    for (int64_t t = first; t < first + n; ++t)
      for (int64_t h = 0; h < n_head; ++h) {
        std::vector<double> weight(static_cast<size_t>(n));
        for (int64_t j = 0; j < n; ++j) {
          double dot = 0;
          for (int64_t i = 0; i < d_head; ++i)
            dot += double(q[t * stride + h * d_head + i]) * k[(first + j) * stride + h * d_head + i];
          weight[size_t(j)] = dot / std::sqrt(double(d_head));
        }
        const double max = *std::max_element(weight.begin(), weight.end());
        double sum = 0;
        for (double& w : weight) sum += w = std::exp(w - max);
        for (int64_t i = 0; i < d_head; ++i) {
          double o = 0;
          for (int64_t j = 0; j < n; ++j) o += weight[size_t(j)] * v[(first + j) * stride + h * d_head + i];
          out[t * stride + h * d_head + i] = float(o / sum);
        }
      }
  }
}

}  // namespace tunekit::ops::ref
