// Attention over packed training rows, backward, flash-attention style: the probabilities are
// recomputed from the forward's lse a block at a time, never stored as [T, T]. With D[t] = dO[t]·O[t]:
//   P = exp(scale · Q Kᵀ - lse),  dP = dO Vᵀ,  dS = P ⊙ (dP - D)
//   dV = Pᵀ dO,  dK = scale · dSᵀ Q,  dQ = scale · dS K
// Two passes so that every task owns what it writes (and the result does not depend on scheduling):
// one task per (kv head, key block) computes that block's dK and dV from all the queries that see
// it, one task per (kv head, query block) computes dQ. q, dout (and dq) are first repacked per kv
// head as [T · group, d] (gather_group over all of T), so that the query heads sharing a kv head
// and any range of tokens form one matrix: each product is one sgemm.
#include <algorithm>
#include <vector>

#include "ops/attention_train.h"
#include "ops/linear_kernels.h"
#include "tunekit/core/parallel.h"
#include "tunekit/error.h"
#include "tunekit/ops/backward.h"

namespace tunekit::ops {

namespace {

// Per kv head g, rows t · group + hh (token t, head g·group + hh): matrices at offset g · T · group · d
// (Q, dO, dQ) or vectors at offset g · T · group (lse, D).
struct BackwardArgs {
  PackedAttention a;
  const float *k, *v;
  const float *Q, *dO;     // [n_head_kv, T · group, d]
  const float *lse, *D;    // [n_head_kv, T · group]
  float* dQ;               // [n_head_kv, T · group, d]
  float *dk, *dv;          // [T, n_head_kv, d]
  int64_t matrix(int64_t g, int64_t t) const { return (g * a.T + t) * a.group() * a.d_head; }
  int64_t vector(int64_t g, int64_t t) const { return (g * a.T + t) * a.group(); }
};

// dK, dV for keys [k0, k1) of kv head g, from the queries [k0, q_end) that see them (columns
// (t - k0) · group + hh of the transposed scores).
void key_block(const BackwardArgs& b, int64_t g, int64_t k0, int64_t k1) {
  thread_local std::vector<float> p_buf, dp_buf;
  const PackedAttention& a = b.a;
  const int64_t d = a.d_head, ks = a.kv_stride(), nk = k1 - k0, group = a.group();
  int64_t q_end = k1, hi = a.T;  // binary search for the first t >= k1 whose first key is >= k1
  while (q_end < hi) {
    const int64_t mid = (q_end + hi) / 2;
    if (a.first_key(mid) < k1)
      q_end = mid + 1;
    else
      hi = mid;
  }
  const int64_t M = (q_end - k0) * group, ld = scores_stride(M);
  p_buf.resize(size_t(nk * ld));
  dp_buf.resize(size_t(nk * ld));
  float *Pt = p_buf.data(), *dPt = dp_buf.data();  // [nk, ld]: probabilities and their gradients, transposed
  const float* Q = b.Q + b.matrix(g, k0);          // [M, d]
  const float* dO = b.dO + b.matrix(g, k0);        // [M, d]
  const float* K = b.k + k0 * ks + g * d;          // [nk, d], row stride ks
  const float* V = b.v + k0 * ks + g * d;          // [nk, d], row stride ks

  sgemm('N', 'T', nk, M, d, a.scale(), K, ks, Q, d, 0.0f, Pt, ld);
  int64_t t_end = k0;  // one past the last query that sees key s (non-decreasing in s)
  for (int64_t i = 0; i < nk; ++i) {
    const int64_t s = k0 + i;
    t_end = std::max(t_end, s + 1);
    while (t_end < q_end && a.first_key(t_end) <= s) ++t_end;
    masked_exp(Pt + i * ld, M, (s - k0) * group, (t_end - k0) * group - 1, b.lse + b.vector(g, k0), 0.0f);
  }
  sgemm('N', 'N', nk, d, M, 1.0f, Pt, ld, dO, d, 0.0f, b.dv + k0 * ks + g * d, ks);
  sgemm('N', 'T', nk, M, d, 1.0f, V, ks, dO, d, 0.0f, dPt, ld);
  for (int64_t i = 0; i < nk; ++i) softmax_backward_row(Pt + i * ld, dPt + i * ld, M, b.D + b.vector(g, k0), 0.0f);
  sgemm('N', 'N', nk, d, M, a.scale(), dPt, ld, Q, d, 0.0f, b.dk + k0 * ks + g * d, ks);
}

// dQ for query rows [t0, t1) of the heads of kv head g.
void query_block(const BackwardArgs& b, int64_t g, int64_t t0, int64_t t1) {
  thread_local std::vector<float> p_buf, dp_buf;
  const PackedAttention& a = b.a;
  const int64_t d = a.d_head, ks = a.kv_stride(), group = a.group(), M = (t1 - t0) * group;
  const int64_t k0 = a.first_key(t0), n = t1 - k0, ld = scores_stride(n);
  p_buf.resize(size_t(M * ld));
  dp_buf.resize(size_t(M * ld));
  float *P = p_buf.data(), *dP = dp_buf.data();  // [M, ld]
  const float* K = b.k + k0 * ks + g * d;        // [n, d], row stride ks
  const float* V = b.v + k0 * ks + g * d;        // [n, d], row stride ks
  const float *lse = b.lse + b.vector(g, t0), *D = b.D + b.vector(g, t0);  // [M]

  sgemm('N', 'T', M, n, d, a.scale(), b.Q + b.matrix(g, t0), d, K, ks, 0.0f, P, ld);
  sgemm('N', 'T', M, n, d, 1.0f, b.dO + b.matrix(g, t0), d, V, ks, 0.0f, dP, ld);
  for (int64_t i = 0; i < M; ++i) {
    const int64_t t = t0 + i / group;
    masked_exp(P + i * ld, n, a.first_key(t) - k0, t - k0, nullptr, lse[i]);
    softmax_backward_row(P + i * ld, dP + i * ld, n, nullptr, D[i]);
  }
  sgemm('N', 'N', M, d, n, a.scale(), dP, ld, K, ks, 0.0f, b.dQ + b.matrix(g, t0), d);
}

}  // namespace

void attention_train_backward(const float* dout, const float* q, const float* k, const float* v, const float* out,
                              const float* lse, const int32_t* seg_start, float* dq, float* dk, float* dv, int64_t T,
                              int64_t n_head, int64_t n_head_kv, int64_t d_head, int64_t window) {
  const PackedAttention a{seg_start, T, n_head, n_head_kv, d_head, window};
  check_packed_attention("attention_train_backward", a);
  // The caller's buffers; the tasks below must use these pointers (a thread_local named inside a
  // task would be the worker's own).
  thread_local std::vector<float> q_buf, do_buf, dq_buf, lse_buf, d_buf;
  for (auto* buf : {&q_buf, &do_buf, &dq_buf}) buf->resize(size_t(T * n_head * d_head));
  lse_buf.resize(size_t(T * n_head));
  d_buf.resize(size_t(T * n_head));
  float *Q = q_buf.data(), *dO = do_buf.data(), *lse_packed = lse_buf.data(), *D = d_buf.data();
  const BackwardArgs b{a, k, v, Q, dO, lse_packed, D, dq_buf.data(), dk, dv};
  const int64_t group = a.group();
  parallel_for(
      T,
      [&](int64_t t0, int64_t t1) {
        for (int64_t g = 0; g < n_head_kv; ++g) {
          gather_group(a, q, g, t0, t1 - t0, Q + b.matrix(g, t0));
          gather_group(a, dout, g, t0, t1 - t0, dO + b.matrix(g, t0));
        }
        for (int64_t t = t0; t < t1; ++t)
          for (int64_t h = 0; h < n_head; ++h) {
            const float *o = out + (t * n_head + h) * d_head, *dOt = dout + (t * n_head + h) * d_head;
            float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
            for (int64_t i = 0; i < d_head; ++i) dot += o[i] * dOt[i];
            const int64_t at = b.vector(h / group, t) + h % group;
            D[at] = dot;
            lse_packed[at] = lse[t * n_head + h];
          }
      },
      16);
  const int64_t key_blocks = (T + kTrainKeyBlock - 1) / kTrainKeyBlock;
  const int64_t query_blocks = (T + kTrainQueryBlock - 1) / kTrainQueryBlock;
  parallel_for(n_head_kv * (key_blocks + query_blocks), [&](int64_t begin, int64_t end) {
    for (int64_t task = begin; task < end; ++task) {
      const int64_t g = task % n_head_kv, block = task / n_head_kv;
      if (block < key_blocks) {
        key_block(b, g, block * kTrainKeyBlock, std::min(T, (block + 1) * kTrainKeyBlock));
      } else {
        const int64_t t0 = (block - key_blocks) * kTrainQueryBlock;
        query_block(b, g, t0, std::min(T, t0 + kTrainQueryBlock));
      }
    }
  });
  parallel_for(
      T,
      [&](int64_t t0, int64_t t1) {
        for (int64_t g = 0; g < n_head_kv; ++g) scatter_group(a, b.dQ + b.matrix(g, t0), nullptr, g, t0, t1 - t0, dq);
      },
      16);
}

}  // namespace tunekit::ops
