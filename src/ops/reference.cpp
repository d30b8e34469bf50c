// Double-precision scalar references (see tunekit/ops/reference.h).
#include "tunekit/ops/reference.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "tunekit/error.h"
#include "tunekit/ops/ops.h"

namespace tunekit::ops::ref {

void linear(const float* x, int64_t T, const Tensor& W, const float* bias, float* y, bool accumulate) {
  check(W.rank() == 2, "ref::linear: W must be [N, K], got ", W.shape_str());
  const int64_t N = W.dim(0), K = W.dim(1);
  std::vector<float> w(size_t(N * K));  // [N, K]
  dequantize(W.data, W.dtype, N * K, w.data());
  for (int64_t t = 0; t < T; ++t)
    for (int64_t n = 0; n < N; ++n) {
      double sum = accumulate ? y[t * N + n] : 0.0;
      for (int64_t k = 0; k < K; ++k) sum += double(x[t * K + k]) * double(w[size_t(n * K + k)]);
      if (bias) sum += bias[n];
      y[t * N + n] = float(sum);
    }
}

void rmsnorm(const float* x, const float* w, float* y, int64_t T, int64_t C, float eps) {
  for (int64_t t = 0; t < T; ++t) {
    double ss = 0;
    for (int64_t c = 0; c < C; ++c) ss += double(x[t * C + c]) * x[t * C + c];
    double r = 1.0 / std::sqrt(ss / double(C) + eps);
    for (int64_t c = 0; c < C; ++c) y[t * C + c] = float(x[t * C + c] * r * w[c]);
  }
}

void rope(float* x, int64_t T, int64_t n_head, int64_t d_head, const int32_t* positions, const float* inv_freq) {
  const int64_t half = d_head / 2;
  for (int64_t t = 0; t < T; ++t)
    for (int64_t h = 0; h < n_head; ++h) {
      float* v = x + (t * n_head + h) * d_head;
      for (int64_t i = 0; i < half; ++i) {
        // The angle is part of the definition: transformers forms it as an f32 product.
        double angle = float(positions[t]) * inv_freq[i];
        double a = v[i], b = v[i + half];
        v[i] = float(a * std::cos(angle) - b * std::sin(angle));
        v[i + half] = float(b * std::cos(angle) + a * std::sin(angle));
      }
    }
}

void attention(const float* q, const float* k_cache, const float* v_cache, float* out, int64_t T,
               const int32_t* positions, int64_t n_head, int64_t n_head_kv, int64_t d_head, int64_t window) {
  const int64_t group = n_head / n_head_kv, kv_stride = n_head_kv * d_head;
  for (int64_t t = 0; t < T; ++t)
    for (int64_t h = 0; h < n_head; ++h) {
      const int64_t g = h / group, pos = positions[t];
      const float* qv = q + (t * n_head + h) * d_head;
      std::vector<double> weight(size_t(pos + 1), 0.0);
      double max = -INFINITY;
      for (int64_t p = 0; p <= pos; ++p) {
        if (window > 0 && p <= pos - window) continue;
        double s = 0;
        for (int64_t i = 0; i < d_head; ++i) s += double(qv[i]) * k_cache[p * kv_stride + g * d_head + i];
        weight[size_t(p)] = s / std::sqrt(double(d_head));
        max = std::max(max, weight[size_t(p)]);
      }
      double sum = 0;
      for (int64_t p = 0; p <= pos; ++p) {
        bool visible = !(window > 0 && p <= pos - window);
        weight[size_t(p)] = visible ? std::exp(weight[size_t(p)] - max) : 0.0;
        sum += weight[size_t(p)];
      }
      for (int64_t i = 0; i < d_head; ++i) {
        double o = 0;
        for (int64_t p = 0; p <= pos; ++p) o += weight[size_t(p)] * v_cache[p * kv_stride + g * d_head + i];
        out[(t * n_head + h) * d_head + i] = float(o / sum);
      }
    }
}

void swiglu(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    double g = gate[i];
    out[i] = float(g / (1.0 + std::exp(-g)) * up[i]);
  }
}

void softmax(float* x, int64_t n) {
  double max = -INFINITY, sum = 0;
  for (int64_t i = 0; i < n; ++i) max = std::max(max, double(x[i]));
  std::vector<double> e(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) sum += e[size_t(i)] = std::exp(double(x[i]) - max);
  for (int64_t i = 0; i < n; ++i) x[i] = float(e[size_t(i)] / sum);
}

float log_sum_exp(const float* x, int64_t n) {
  double max = -INFINITY, sum = 0;
  for (int64_t i = 0; i < n; ++i) max = std::max(max, double(x[i]));
  for (int64_t i = 0; i < n; ++i) sum += std::exp(double(x[i]) - max);
  return float(max + std::log(sum));
}

}  // namespace tunekit::ops::ref
