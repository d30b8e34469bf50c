// RMSNorm for training: the forward that keeps rstd[T], and the backward
//   y = x · r · w, r = 1 / sqrt(mean(x²) + eps)
//   dx = r · (dy ⊙ w) - (r³ / C) · (Σ_c dy ⊙ w ⊙ x) · x,   dw = Σ_t dy ⊙ x · r.
// Rows are split over the pool; dw is summed per part of the rows, then over the parts.
#include <algorithm>
#include <cmath>
#include <vector>

#include "ops/simd_math.h"
#include "tunekit/core/parallel.h"
#include "tunekit/error.h"
#include "tunekit/ops/backward.h"

namespace tunekit::ops {

namespace {

constexpr int64_t kElementGrain = 1 << 14;  // below this many values a second thread does not pay

// One row [C]: dx += r · dy ⊙ w - (r³ / C) · (Σ dy ⊙ w ⊙ x) · x, and dw += r · dy ⊙ x when dw is given.
void backward_row(const float* dy, const float* x, const float* w, float r, float* dx, float* dw, int64_t C) {
  float s = 0.0f;  // Σ dy ⊙ w ⊙ x
  int64_t c = 0;
#ifdef __AVX512F__
  __m512 acc = _mm512_setzero_ps();
  for (; c + 16 <= C; c += 16)
    acc = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_loadu_ps(dy + c), _mm512_loadu_ps(w + c)), _mm512_loadu_ps(x + c), acc);
  s = _mm512_reduce_add_ps(acc);
#endif
  for (; c < C; ++c) s += dy[c] * w[c] * x[c];
  const float a = r * r * r * s / float(C);
  c = 0;
#ifdef __AVX512F__
  const __m512 vr = _mm512_set1_ps(r), va = _mm512_set1_ps(a);
  for (; c + 16 <= C; c += 16) {
    const __m512 rdy = _mm512_mul_ps(vr, _mm512_loadu_ps(dy + c)), xc = _mm512_loadu_ps(x + c);
    // dx += rdy ⊙ w - a · x
    const __m512 update = _mm512_fnmadd_ps(va, xc, _mm512_mul_ps(rdy, _mm512_loadu_ps(w + c)));
    _mm512_storeu_ps(dx + c, _mm512_add_ps(_mm512_loadu_ps(dx + c), update));
    if (dw) _mm512_storeu_ps(dw + c, _mm512_fmadd_ps(rdy, xc, _mm512_loadu_ps(dw + c)));
  }
#endif
  for (; c < C; ++c) {
    dx[c] += r * dy[c] * w[c] - a * x[c];
    if (dw) dw[c] += r * dy[c] * x[c];
  }
}

}  // namespace

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
  const int64_t parts = std::clamp<int64_t>(T * C / kElementGrain, 1, 4 * int64_t(threads_here()));
  thread_local std::vector<float> partial_buf;  // the caller's; the tasks use the pointer
  if (dw) partial_buf.assign(size_t(parts * C), 0.0f);
  float* partial = partial_buf.data();  // [parts, C]
  parallel_for(parts, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p)
      for (int64_t t = T * p / parts; t < T * (p + 1) / parts; ++t)
        backward_row(dy + t * C, x + t * C, w, rstd[t], dx + t * C, dw ? partial + p * C : nullptr, C);
  });
  if (dw)
    for (int64_t p = 0; p < parts; ++p)
      for (int64_t c = 0; c < C; ++c) dw[c] += partial[p * C + c];
}

}  // namespace tunekit::ops
