// Attention over packed training rows, forward. A task is one query head h and a block of query rows
// [t0, t1); the keys it multiplies are [k0, t1), k0 the first key any of its rows sees (so a block
// never reaches back past its samples, and causal blocks stop at the diagonal):
//   S[rows, n] = scale · Q[rows, d] · K[n, d]ᵀ                       (sgemm on q and k in place)
//   P = exp(S - max) over each row's visible keys, 0 elsewhere; lse = max + log Σ P
//   out[rows, d] = (P · V[n, d]) / Σ P                               (sgemm into out in place)
#include <cmath>
#include <vector>

#include "ops/attention_train.h"
#include "ops/linear_kernels.h"
#include "tunekit/core/parallel.h"
#include "tunekit/error.h"
#include "tunekit/ops/backward.h"

namespace tunekit::ops {

void check_packed_attention(const char* op, const PackedAttention& a) {
  check(a.T >= 0 && a.n_head > 0 && a.n_head_kv > 0 && a.d_head > 0 && a.n_head % a.n_head_kv == 0 && a.window >= 0,
        op, ": bad shape q [", a.T, ", ", a.n_head, ", ", a.d_head, "] with ", a.n_head_kv,
        " kv heads (n_head must be a multiple of n_head_kv), window ", a.window);
  for (int64_t t = 0; t < a.T; ++t) {
    const int64_t s = a.seg_start[t];
    check(s == t || (t > 0 && s == a.seg_start[t - 1]), op, ": seg_start[", t, "] = ", s,
          " is neither ", t, " (a sample starting there) nor seg_start[", t - 1,
          "] (the same sample as the token before); samples must be contiguous runs");
  }
}

namespace {

// Query rows [t0, t1) of head h.
void forward_block(const PackedAttention& a, const float* q, const float* k, const float* v, float* out, float* lse,
                   int64_t h, int64_t t0, int64_t t1) {
  thread_local std::vector<float> scores;
  const int64_t d = a.d_head, rows = t1 - t0, qs = a.q_stride(), ks = a.kv_stride(), g = a.kv_head(h);
  const int64_t k0 = a.first_key(t0), n = t1 - k0, ld = scores_stride(n);
  scores.resize(size_t(rows * ld));
  float* S = scores.data();                   // [rows, ld]
  const float* Q = q + t0 * qs + h * d;       // [rows, d], row stride qs
  const float* K = k + k0 * ks + g * d;       // [n, d], row stride ks
  const float* V = v + k0 * ks + g * d;       // [n, d], row stride ks
  float* O = out + t0 * qs + h * d;           // [rows, d], row stride qs

  sgemm('N', 'T', rows, n, d, a.scale(), Q, qs, K, ks, 0.0f, S, ld);
  float inv_sum[kTrainQueryBlock];
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t first = a.first_key(t0 + r) - k0, last = t0 + r - k0;
    float* s = S + r * ld;
    const float max = max_of(s + first, last - first + 1);
    const float sum = masked_exp(s, n, first, last, nullptr, max);
    lse[(t0 + r) * a.n_head + h] = max + std::log(sum);
    inv_sum[r] = 1.0f / sum;
  }
  sgemm('N', 'N', rows, d, n, 1.0f, S, ld, V, ks, 0.0f, O, qs);
  for (int64_t r = 0; r < rows; ++r)
#pragma omp simd
    for (int64_t i = 0; i < d; ++i) O[r * qs + i] *= inv_sum[r];
}

}  // namespace

void attention_train_forward(const float* q, const float* k, const float* v, const int32_t* seg_start, float* out,
                             float* lse, int64_t T, int64_t n_head, int64_t n_head_kv, int64_t d_head, int64_t window) {
  const PackedAttention a{seg_start, T, n_head, n_head_kv, d_head, window};
  check_packed_attention("attention_train_forward", a);
  const int64_t blocks = (T + kTrainQueryBlock - 1) / kTrainQueryBlock;
  parallel_for(n_head * blocks, [&](int64_t begin, int64_t end) {
    for (int64_t task = begin; task < end; ++task) {
      const int64_t h = task % n_head, t0 = task / n_head * kTrainQueryBlock;
      forward_block(a, q, k, v, out, lse, h, t0, std::min(T, t0 + kTrainQueryBlock));
    }
  });
}

}  // namespace tunekit::ops
