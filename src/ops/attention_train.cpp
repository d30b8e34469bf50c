// Attention over packed training rows, forward. A task is one kv head g and a block of query rows
// [t0, t1) of all the query heads that share it, stacked into M = group · rows rows; the keys it
// multiplies are [k0, t1), k0 the first key any of its rows sees (so a block never reaches back
// past its samples, and causal blocks stop at the diagonal):
//   S[M, n] = scale · Q[M, d] · K[n, d]ᵀ                             (sgemm, K in place)
//   P = exp(S - max) over each row's visible keys, 0 elsewhere; lse = max + log Σ P
//   out[M, d] = (P · V[n, d]) / Σ P                                   (sgemm, V in place)
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

// Query rows [t0, t1) of the heads of kv group g, stacked (gather_group) into one product.
void forward_block(const PackedAttention& a, const float* q, const float* k, const float* v, float* out, float* lse,
                   int64_t g, int64_t t0, int64_t t1) {
  thread_local std::vector<float> q_buf, o_buf, s_buf, inv_buf;
  const int64_t d = a.d_head, rows = t1 - t0, M = a.group() * rows, ks = a.kv_stride();
  const int64_t k0 = a.first_key(t0), n = t1 - k0, ld = scores_stride(n);
  q_buf.resize(size_t(M * d));
  o_buf.resize(size_t(M * d));
  s_buf.resize(size_t(M * ld));
  inv_buf.resize(size_t(M));
  float *Q = q_buf.data(), *O = o_buf.data(), *S = s_buf.data();  // [M, d], [M, d], [M, ld]
  float* inv_sum = inv_buf.data();                                 // [M]
  const float* K = k + k0 * ks + g * d;                            // [n, d], row stride ks
  const float* V = v + k0 * ks + g * d;                            // [n, d], row stride ks

  gather_group(a, q, g, t0, rows, Q);
  sgemm('N', 'T', M, n, d, a.scale(), Q, d, K, ks, 0.0f, S, ld);
  for (int64_t i = 0; i < M; ++i) {
    const int64_t t = t0 + i / a.group(), h = g * a.group() + i % a.group();
    const int64_t first = a.first_key(t) - k0, last = t - k0;
    float* s = S + i * ld;
    const float max = max_of(s + first, last - first + 1);
    const float sum = masked_exp(s, n, first, last, nullptr, max);
    lse[t * a.n_head + h] = max + std::log(sum);
    inv_sum[i] = 1.0f / sum;
  }
  sgemm('N', 'N', M, d, n, 1.0f, S, ld, V, ks, 0.0f, O, d);
  scatter_group(a, O, inv_sum, g, t0, rows, out);
}

}  // namespace

void attention_train_forward(const float* q, const float* k, const float* v, const int32_t* seg_start, float* out,
                             float* lse, int64_t T, int64_t n_head, int64_t n_head_kv, int64_t d_head, int64_t window) {
  const PackedAttention a{seg_start, T, n_head, n_head_kv, d_head, window};
  check_packed_attention("attention_train_forward", a);
  const int64_t blocks = (T + kTrainQueryBlock - 1) / kTrainQueryBlock;
  // The last query blocks first: under the causal mask they see the most keys.
  for_each_task(n_head_kv * blocks, [&](int64_t i) {
    const int64_t task = n_head_kv * blocks - 1 - i;
    const int64_t g = task % n_head_kv, t0 = task / n_head_kv * kTrainQueryBlock;
    forward_block(a, q, k, v, out, lse, g, t0, std::min(T, t0 + kTrainQueryBlock));
  });
}

}  // namespace tunekit::ops
