// Row-wise and element-wise kernels: rmsnorm, swiglu, softmax, log_sum_exp.
#include <cmath>

#include "ops/simd_math.h"
#include "tunekit/core/parallel.h"
#include "tunekit/error.h"
#include "tunekit/ops/ops.h"

namespace tunekit::ops {

namespace {

constexpr int64_t kElementGrain = 1 << 14;  // below this many values a second thread does not pay

float sum_of_squares(const float* x, int64_t n) {
  int64_t i = 0;
  float sum = 0.0f;
#ifdef __AVX512F__
  __m512 acc = _mm512_setzero_ps();
  for (; i + 16 <= n; i += 16) {
    __m512 v = _mm512_loadu_ps(x + i);
    acc = _mm512_fmadd_ps(v, v, acc);
  }
  sum = _mm512_reduce_add_ps(acc);
#endif
  for (; i < n; ++i) sum += x[i] * x[i];
  return sum;
}

// y = x * r * w, the order Hugging Face's LlamaRMSNorm multiplies in.
void scale_row(const float* x, float r, const float* w, float* y, int64_t n) {
  int64_t i = 0;
#ifdef __AVX512F__
  __m512 vr = _mm512_set1_ps(r);
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(y + i, _mm512_mul_ps(_mm512_mul_ps(_mm512_loadu_ps(x + i), vr), _mm512_loadu_ps(w + i)));
#endif
  for (; i < n; ++i) y[i] = x[i] * r * w[i];
}

}  // namespace

void rmsnorm(const float* x, const float* w, float* y, int64_t T, int64_t C, float eps) {
  check(T >= 0 && C > 0, "rmsnorm: bad shape [", T, ", ", C, "]");
  parallel_for(
      T,
      [&](int64_t begin, int64_t end) {
        for (int64_t t = begin; t < end; ++t) {
          float mean = sum_of_squares(x + t * C, C) / float(C);
          scale_row(x + t * C, 1.0f / std::sqrt(mean + eps), w, y + t * C, C);
        }
      },
      std::max<int64_t>(1, kElementGrain / C));
}

void swiglu(const float* gate, const float* up, float* out, int64_t n) {
  check(n >= 0, "swiglu: negative size ", n);
  parallel_for(
      n,
      [&](int64_t begin, int64_t end) {
        int64_t i = begin;
#ifdef __AVX512F__
        const __m512 one = _mm512_set1_ps(1.0f);
        for (; i + 16 <= end; i += 16) {
          __m512 g = _mm512_loadu_ps(gate + i);
          __m512 sigmoid = _mm512_div_ps(one, _mm512_add_ps(one, exp512(_mm512_sub_ps(_mm512_setzero_ps(), g))));
          _mm512_storeu_ps(out + i, _mm512_mul_ps(_mm512_mul_ps(g, sigmoid), _mm512_loadu_ps(up + i)));
        }
#endif
        for (; i < end; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
      },
      kElementGrain);
}

void softmax(float* x, int64_t n) {
  check(n > 0, "softmax: empty input");
  const float max = max_of(x, n);
  int64_t i = 0;
  float sum = 0.0f;
#ifdef __AVX512F__
  __m512 vmax = _mm512_set1_ps(max), acc = _mm512_setzero_ps();
  for (; i + 16 <= n; i += 16) {
    __m512 e = exp512(_mm512_sub_ps(_mm512_loadu_ps(x + i), vmax));
    _mm512_storeu_ps(x + i, e);
    acc = _mm512_add_ps(acc, e);
  }
  sum = _mm512_reduce_add_ps(acc);
#endif
  for (; i < n; ++i) sum += (x[i] = std::exp(x[i] - max));
  float inv = 1.0f / sum;
  for (i = 0; i < n; ++i) x[i] *= inv;
}

float log_sum_exp(const float* x, int64_t n) {
  check(n > 0, "log_sum_exp: empty input");
  const float max = max_of(x, n);
  int64_t i = 0;
  float sum = 0.0f;
#ifdef __AVX512F__
  const __m512 vmax = _mm512_set1_ps(max);
  __m512 acc = _mm512_setzero_ps();
  for (; i + 16 <= n; i += 16) acc = _mm512_add_ps(acc, exp512(_mm512_sub_ps(_mm512_loadu_ps(x + i), vmax)));
  sum = _mm512_reduce_add_ps(acc);
#endif
  for (; i < n; ++i) sum += std::exp(x[i] - max);
  return max + std::log(sum);
}

}  // namespace tunekit::ops
