// Causal grouped-query attention over a KV cache (simple version: one query row at a time).
#include <cmath>
#include <vector>

#include "tunekit/core/parallel.h"
#include "tunekit/error.h"
#include "tunekit/ops/ops.h"

namespace tunekit::ops {

void attention(const float* q, const float* k_cache, const float* v_cache, float* out, int64_t T,
               const int32_t* positions, int64_t n_head, int64_t n_head_kv, int64_t d_head, int64_t window) {
  check(T >= 0 && n_head > 0 && n_head_kv > 0 && d_head > 0 && n_head % n_head_kv == 0 && window >= 0,
        "attention: bad shape q [", T, ", ", n_head, ", ", d_head, "] with ", n_head_kv,
        " kv heads (n_head must be a multiple of n_head_kv), window ", window);
  for (int64_t t = 0; t < T; ++t) check(positions[t] >= 0, "attention: negative position ", positions[t], " at row ", t);
  const int64_t group = n_head / n_head_kv, kv_stride = n_head_kv * d_head;
  const float scale = 1.0f / std::sqrt(float(d_head));
  parallel_for(T * n_head, [&](int64_t begin, int64_t end) {
    std::vector<float> scores;
    for (int64_t task = begin; task < end; ++task) {
      int64_t t = task / n_head, h = task % n_head, g = h / group;
      int64_t hi = positions[t], lo = window > 0 ? std::max<int64_t>(0, hi - window + 1) : 0;
      const float* qv = q + (t * n_head + h) * d_head;  // [d_head]
      scores.resize(size_t(hi - lo + 1));
      for (int64_t p = lo; p <= hi; ++p) {
        const float* kv = k_cache + p * kv_stride + g * d_head;
        float s = 0.0f;
        for (int64_t i = 0; i < d_head; ++i) s += qv[i] * kv[i];
        scores[size_t(p - lo)] = s * scale;
      }
      softmax(scores.data(), hi - lo + 1);
      float* o = out + (t * n_head + h) * d_head;
      for (int64_t i = 0; i < d_head; ++i) o[i] = 0.0f;
      for (int64_t p = lo; p <= hi; ++p) {
        const float* vv = v_cache + p * kv_stride + g * d_head;
        float w = scores[size_t(p - lo)];
        for (int64_t i = 0; i < d_head; ++i) o[i] += w * vv[i];
      }
    }
  });
}

}  // namespace tunekit::ops
