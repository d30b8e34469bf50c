// What the training attention kernels (attention_train.cpp, attention_backward.cpp) share: the
// packed layout, which keys each query sees, and the masked exponentials of a row of scores.
#pragma once
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <functional>

#include "ops/simd_math.h"
#include "tunekit/core/parallel.h"

namespace tunekit::ops {

// Query rows per forward task: 32 ran the 4 x 256 forward at ~145 GFLOP per CPU-second against ~130
// with 64 (1 x 1024: ~183 against ~178; 16 and 48 were slower), bench_train_ops --threads 1.
constexpr int64_t kTrainQueryBlock = 32;
constexpr int64_t kTrainKeyBlock = 64;    // key rows per dK/dV task

// Runs task(i) for every i in [0, n) on the pool, each task claimed on its own, in order: for tasks of
// unequal cost, listed from the costliest. (parallel_for's guided chunks hand the first half of the
// tasks to one thread as one chunk: with the backward's lanes, whose cost falls lane by lane, that
// thread had ~70% of the work at 4 x 256.) Which thread runs a task changes no result.
inline void for_each_task(int64_t n, const std::function<void(int64_t)>& task) {
  std::atomic<int64_t> next{0};
  parallel_for(std::min<int64_t>(n, threads_here()), [&](int64_t, int64_t) {
    for (int64_t i = next.fetch_add(1); i < n; i = next.fetch_add(1)) task(i);
  });
}

// Padded leading dimension for a row of n scores: a multiple of 16 floats, never a power of two.
inline int64_t scores_stride(int64_t n) { return (n + 15) / 16 * 16 + 16; }

// q[T, n_head, d_head], k/v[T, n_head_kv, d_head]; token t sees keys [first_key(t), t].
struct PackedAttention {
  const int32_t* seg_start;
  int64_t T, n_head, n_head_kv, d_head, window;

  int64_t q_stride() const { return n_head * d_head; }
  int64_t kv_stride() const { return n_head_kv * d_head; }
  int64_t group() const { return n_head / n_head_kv; }  // query heads per kv head
  float scale() const { return 1.0f / std::sqrt(float(d_head)); }
  int64_t first_key(int64_t t) const {
    return window > 0 ? std::max<int64_t>(seg_start[t], t - window + 1) : int64_t(seg_start[t]);
  }
};

// The query heads of kv head g stacked for one product with their shared keys: tokens [t0, t0 + rows)
// of x[T, n_head, d_head], heads g·group .. g·group + group - 1, copied to packed[rows · group, d_head]
// (row (t - t0) · group + hh holds token t of head g·group + hh: one copy of group · d_head per token).
inline void gather_group(const PackedAttention& a, const float* x, int64_t g, int64_t t0, int64_t rows,
                         float* packed) {
  const int64_t width = a.group() * a.d_head;
  for (int64_t r = 0; r < rows; ++r) {
    const float* src = x + (t0 + r) * a.q_stride() + g * width;
    std::copy(src, src + width, packed + r * width);
  }
}

// The inverse of gather_group, row i multiplied by row_scale[i] (all 1 when null).
inline void scatter_group(const PackedAttention& a, const float* packed, const float* row_scale, int64_t g, int64_t t0,
                          int64_t rows, float* x) {
  const int64_t group = a.group(), d = a.d_head;
  for (int64_t i = 0; i < rows * group; ++i) {
    const float* src = packed + i * d;
    float* dst = x + (t0 + i / group) * a.q_stride() + (g * group + i % group) * d;
    const float scale = row_scale ? row_scale[i] : 1.0f;
#pragma omp simd
    for (int64_t c = 0; c < d; ++c) dst[c] = src[c] * scale;
  }
}

// Checks the shapes and that seg_start describes contiguous samples (seg_start[t] is t or
// seg_start[t - 1]); throws Error naming `op` otherwise. first_key is then non-decreasing in t.
void check_packed_attention(const char* op, const PackedAttention& a);

// In place on a row s[0, n): s[j] = exp(s[j] - shift[j]) for j in [first, last] (shift[j] =
// shift0 when shift is null), 0 elsewhere. Returns the sum of the row.
inline float masked_exp(float* s, int64_t n, int64_t first, int64_t last, const float* shift, float shift0) {
  std::fill(s, s + first, 0.0f);
  std::fill(s + last + 1, s + n, 0.0f);
  int64_t j = first;
  float sum = 0.0f;
#ifdef __AVX512F__
  __m512 acc = _mm512_setzero_ps();
  const __m512 constant = _mm512_set1_ps(shift0);
  for (; j <= last; j += 16) {
    const __mmask16 mask = __mmask16((1u << std::min<int64_t>(16, last + 1 - j)) - 1);
    const __m512 sub = shift ? _mm512_maskz_loadu_ps(mask, shift + j) : constant;
    const __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(mask, s + j), sub));
    _mm512_mask_storeu_ps(s + j, mask, e);
    acc = _mm512_add_ps(acc, _mm512_maskz_mov_ps(mask, e));
  }
  sum = _mm512_reduce_add_ps(acc);
#else
  for (; j <= last; ++j) sum += (s[j] = std::exp(s[j] - (shift ? shift[j] : shift0)));
#endif
  return sum;
}

// dS = P ⊙ (dP - D) in place on dp[0, n): D[j] per element (D0 when D is null).
inline void softmax_backward_row(const float* p, float* dp, int64_t n, const float* D, float D0) {
  if (D) {
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) dp[j] = p[j] * (dp[j] - D[j]);
  } else {
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) dp[j] = p[j] * (dp[j] - D0);
  }
}

}  // namespace tunekit::ops
