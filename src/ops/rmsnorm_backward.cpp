// RMSNorm for training: the forward that keeps rstd[T], and the backward
//   y = x · r · w, r = 1 / sqrt(mean(x²) + eps)
//   dx = r · (dy ⊙ w) - (r³ / C) · (Σ_c dy ⊙ w ⊙ x) · x,   dw = Σ_t dy ⊙ x · r.
// Rows are split over the pool; dw is summed per part of the rows, then over the parts.
#include <algorithm>
#include <cmath>
#include <vector>

#include "tunekit/core/parallel.h"
#include "tunekit/error.h"
#include "tunekit/ops/backward.h"

namespace tunekit::ops {

namespace {
constexpr int64_t kElementGrain = 1 << 14;  // below this many values a second thread does not pay
}

void rmsnorm_forward_train(const float* x, const float* w, float* y, float* rstd, int64_t T, int64_t C, float eps) {
  check(T >= 0 && C > 0, "rmsnorm_forward_train: bad shape [", T, ", ", C, "]");
  parallel_for(
      T,
      [&](int64_t begin, int64_t end) {
        for (int64_t t = begin; t < end; ++t) {
          const float* xt = x + t * C;  // [C]
          float* yt = y + t * C;        // [C]
          float ss = 0.0f;
#pragma omp simd reduction(+ : ss)
          for (int64_t c = 0; c < C; ++c) ss += xt[c] * xt[c];
          const float r = 1.0f / std::sqrt(ss / float(C) + eps);
          rstd[t] = r;
#pragma omp simd
          for (int64_t c = 0; c < C; ++c) yt[c] = xt[c] * r * w[c];  // Hugging Face's order
        }
      },
      std::max<int64_t>(1, kElementGrain / C));
}

void rmsnorm_backward(const float* dy, const float* x, const float* w, const float* rstd, float* dx, float* dw,
                      int64_t T, int64_t C) {
  check(T >= 0 && C > 0, "rmsnorm_backward: bad shape [", T, ", ", C, "]");
  if (T == 0) return;
  // Parts of the rows, each with its own dw partial sum [C] (summed below in a fixed order).
  const int64_t parts = std::clamp<int64_t>(T * C / kElementGrain, 1, 4 * int64_t(num_threads()));
  thread_local std::vector<float> partial_buf;  // the caller's; the tasks use the pointer
  if (dw) partial_buf.assign(size_t(parts * C), 0.0f);
  float* partial = partial_buf.data();  // [parts, C]
  parallel_for(parts, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      float* dwp = dw ? partial + p * C : nullptr;  // [C]
      for (int64_t t = T * p / parts; t < T * (p + 1) / parts; ++t) {
        const float *dyt = dy + t * C, *xt = x + t * C;  // [C]
        float* dxt = dx + t * C;                         // [C]
        const float r = rstd[t];
        float s = 0.0f;  // Σ dy ⊙ w ⊙ x
#pragma omp simd reduction(+ : s)
        for (int64_t c = 0; c < C; ++c) s += dyt[c] * w[c] * xt[c];
        const float a = r * r * r * s / float(C);
#pragma omp simd
        for (int64_t c = 0; c < C; ++c) dxt[c] += r * dyt[c] * w[c] - a * xt[c];
        if (dwp) {
#pragma omp simd
          for (int64_t c = 0; c < C; ++c) dwp[c] += dyt[c] * xt[c] * r;
        }
      }
    }
  });
  if (dw)
    for (int64_t p = 0; p < parts; ++p)
#pragma omp simd
      for (int64_t c = 0; c < C; ++c) dw[c] += partial[p * C + c];
}

}  // namespace tunekit::ops
