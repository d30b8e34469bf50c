// Backward of the element-wise ops: SwiGLU, RoPE (the rotation by minus the angle) and the embedding
// lookup (a scatter-add), each split over the pool.
#include <algorithm>
#include <cmath>
#include <vector>

#include "ops/simd_math.h"
#include "tunekit/core/parallel.h"
#include "tunekit/error.h"
#include "tunekit/ops/backward.h"
#include "tunekit/ops/ops.h"

namespace tunekit::ops {

namespace {
constexpr int64_t kElementGrain = 1 << 14;  // below this many values a second thread does not pay
}

// out = silu(g) · u, silu(g) = g · σ(g):
//   dgate = dout · u · σ(g) · (1 + g · (1 - σ(g))),  dup = dout · silu(g).
// out, when given, in swiglu's own arithmetic ((g · σ(g)) · u, σ(g) = 1 / (1 + exp(0 - g)) in the
// vector body; g / (1 + exp(-g)) · u in the scalar tail).
void swiglu_backward(const float* dout, const float* gate, const float* up, float* dgate, float* dup, int64_t n,
                     float* out) {
  check(n >= 0, "swiglu_backward: negative size ", n);
  parallel_for(
      n,
      [&](int64_t begin, int64_t end) {
        int64_t i = begin;
#ifdef __AVX512F__
        const __m512 one = _mm512_set1_ps(1.0f);
        for (; i + 16 <= end; i += 16) {
          const __m512 g = _mm512_loadu_ps(gate + i), u = _mm512_loadu_ps(up + i), d = _mm512_loadu_ps(dout + i);
          const __m512 s = _mm512_div_ps(one, _mm512_add_ps(one, exp512(_mm512_sub_ps(_mm512_setzero_ps(), g))));
          const __m512 dsilu = _mm512_mul_ps(s, _mm512_fmadd_ps(g, _mm512_sub_ps(one, s), one));
          const __m512 silu = _mm512_mul_ps(g, s);
          if (out) _mm512_storeu_ps(out + i, _mm512_mul_ps(silu, u));
          _mm512_storeu_ps(dup + i, _mm512_mul_ps(d, silu));
          _mm512_storeu_ps(dgate + i, _mm512_mul_ps(_mm512_mul_ps(d, u), dsilu));
        }
#endif
        for (; i < end; ++i) {
          const float g = gate[i], d = dout[i], u = up[i], s = 1.0f / (1.0f + std::exp(-g));
          if (out) out[i] = g / (1.0f + std::exp(-g)) * u;
          dup[i] = d * g * s;
          dgate[i] = d * u * s * (1.0f + g * (1.0f - s));
        }
      },
      kElementGrain);
}

void rope_backward(float* dx, int64_t T, int64_t n_head, int64_t d_head, const int32_t* positions,
                   const float* inv_freq) {
  check(d_head > 0 && d_head % 2 == 0, "rope_backward: d_head ", d_head, " must be even and positive");
  // float(p) · (-f) is exactly -(float(p) · f): the forward's angles, negated.
  thread_local std::vector<float> negated;  // [d_head / 2]
  negated.resize(size_t(d_head / 2));
  for (int64_t i = 0; i < d_head / 2; ++i) negated[size_t(i)] = -inv_freq[i];
  rope(dx, T, n_head, d_head, positions, negated.data());
}

void embedding_backward(const float* dx, const int32_t* tokens, int64_t T, int64_t C, float* dtable) {
  check(T >= 0 && C > 0, "embedding_backward: bad shape [", T, ", ", C, "]");
  for (int64_t t = 0; t < T; ++t) check(tokens[t] >= 0, "embedding_backward: negative token id ", tokens[t], " at row ", t);
  // Columns split over the pool, so repeated tokens never add into the same row from two threads.
  parallel_for(
      C,
      [&](int64_t c0, int64_t c1) {
        for (int64_t t = 0; t < T; ++t) {
          const float* src = dx + t * C;                // [C]
          float* dst = dtable + int64_t(tokens[t]) * C;  // [C]
#pragma omp simd
          for (int64_t c = c0; c < c1; ++c) dst[c] += src[c];
        }
      },
      std::max<int64_t>(16, kElementGrain / std::max<int64_t>(T, 1)));
}

}  // namespace tunekit::ops
