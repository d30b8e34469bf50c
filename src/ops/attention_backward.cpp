// Attention over packed training rows, backward, flash-attention style: the probabilities are
// recomputed from the forward's lse a block at a time, never stored as [T, T]. With D[t] = dO[t]·O[t]:
//   P = exp(scale · Q Kᵀ - lse),  dP = dO Vᵀ,  dS = P ⊙ (dP - D)
//   dV = Pᵀ dO,  dK = scale · dSᵀ Q,  dQ = scale · dS K
// Two passes so that every task owns what it writes: one task per (kv head, key block) computes that
// block's dK and dV from all the queries that see it (every head of the group in turn), one task per
// (head, query block) computes dQ. Every product is an sgemm on the tensors in place.
#include <algorithm>
#include <vector>

#include "ops/attention_train.h"
#include "ops/linear_kernels.h"
#include "tunekit/core/parallel.h"
#include "tunekit/error.h"
#include "tunekit/ops/backward.h"

namespace tunekit::ops {

namespace {

struct BackwardArgs {
  PackedAttention a;
  const float *dout, *q, *k, *v;
  const float* lse_t;  // [n_head, T]: lse transposed
  const float* D;      // [n_head, T]: dO · O per head and token
  float *dq, *dk, *dv;
};

// dK, dV for keys [k0, k1) of kv head g.
void key_block(const BackwardArgs& b, int64_t g, int64_t k0, int64_t k1) {
  thread_local std::vector<float> p_buf, dp_buf;
  const PackedAttention& a = b.a;
  const int64_t d = a.d_head, qs = a.q_stride(), ks = a.kv_stride(), nk = k1 - k0;
  // Queries that see a key of the block: [k0, q_end), first_key being non-decreasing.
  int64_t q_end = k1, hi = a.T;  // binary search for the first t >= k1 whose first key is >= k1
  while (q_end < hi) {
    const int64_t mid = (q_end + hi) / 2;
    if (a.first_key(mid) < k1)
      q_end = mid + 1;
    else
      hi = mid;
  }
  const int64_t nq = q_end - k0, ld = scores_stride(nq);
  p_buf.resize(size_t(nk * ld));
  dp_buf.resize(size_t(nk * ld));
  float *Pt = p_buf.data(), *dPt = dp_buf.data();  // [nk, ld]: probabilities and their gradients, transposed
  const float* K = b.k + k0 * ks + g * d;          // [nk, d], row stride ks
  const float* V = b.v + k0 * ks + g * d;          // [nk, d], row stride ks
  float* dK = b.dk + k0 * ks + g * d;              // [nk, d], row stride ks
  float* dV = b.dv + k0 * ks + g * d;              // [nk, d], row stride ks
  const int64_t group = a.n_head / a.n_head_kv;
  for (int64_t h = g * group; h < (g + 1) * group; ++h) {
    const float* Q = b.q + k0 * qs + h * d;      // [nq, d], row stride qs
    const float* dO = b.dout + k0 * qs + h * d;  // [nq, d], row stride qs
    const float beta = h == g * group ? 0.0f : 1.0f;
    sgemm('N', 'T', nk, nq, d, a.scale(), K, ks, Q, qs, 0.0f, Pt, ld);
    int64_t t_end = k0;  // one past the last query that sees key s (non-decreasing in s)
    for (int64_t i = 0; i < nk; ++i) {
      const int64_t s = k0 + i;
      t_end = std::max(t_end, s + 1);
      while (t_end < k0 + nq && a.first_key(t_end) <= s) ++t_end;
      masked_exp(Pt + i * ld, nq, s - k0, t_end - 1 - k0, b.lse_t + h * a.T + k0, 0.0f);
    }
    sgemm('N', 'N', nk, d, nq, 1.0f, Pt, ld, dO, qs, beta, dV, ks);
    sgemm('N', 'T', nk, nq, d, 1.0f, V, ks, dO, qs, 0.0f, dPt, ld);
    for (int64_t i = 0; i < nk; ++i) softmax_backward_row(Pt + i * ld, dPt + i * ld, nq, b.D + h * a.T + k0, 0.0f);
    sgemm('N', 'N', nk, d, nq, a.scale(), dPt, ld, Q, qs, beta, dK, ks);
  }
}

// dQ for query rows [t0, t1) of head h.
void query_block(const BackwardArgs& b, int64_t h, int64_t t0, int64_t t1) {
  thread_local std::vector<float> p_buf, dp_buf;
  const PackedAttention& a = b.a;
  const int64_t d = a.d_head, qs = a.q_stride(), ks = a.kv_stride(), g = a.kv_head(h), rows = t1 - t0;
  const int64_t k0 = a.first_key(t0), n = t1 - k0, ld = scores_stride(n);
  p_buf.resize(size_t(rows * ld));
  dp_buf.resize(size_t(rows * ld));
  float *P = p_buf.data(), *dP = dp_buf.data();  // [rows, ld]
  const float* Q = b.q + t0 * qs + h * d;        // [rows, d], row stride qs
  const float* dO = b.dout + t0 * qs + h * d;    // [rows, d], row stride qs
  const float* K = b.k + k0 * ks + g * d;        // [n, d], row stride ks
  const float* V = b.v + k0 * ks + g * d;        // [n, d], row stride ks
  sgemm('N', 'T', rows, n, d, a.scale(), Q, qs, K, ks, 0.0f, P, ld);
  for (int64_t r = 0; r < rows; ++r)
    masked_exp(P + r * ld, n, a.first_key(t0 + r) - k0, t0 + r - k0, nullptr, b.lse_t[h * a.T + t0 + r]);
  sgemm('N', 'T', rows, n, d, 1.0f, dO, qs, V, ks, 0.0f, dP, ld);
  for (int64_t r = 0; r < rows; ++r) softmax_backward_row(P + r * ld, dP + r * ld, n, nullptr, b.D[h * a.T + t0 + r]);
  sgemm('N', 'N', rows, d, n, a.scale(), dP, ld, K, ks, 0.0f, b.dq + t0 * qs + h * d, qs);
}

}  // namespace

void attention_train_backward(const float* dout, const float* q, const float* k, const float* v, const float* out,
                              const float* lse, const int32_t* seg_start, float* dq, float* dk, float* dv, int64_t T,
                              int64_t n_head, int64_t n_head_kv, int64_t d_head, int64_t window) {
  const PackedAttention a{seg_start, T, n_head, n_head_kv, d_head, window};
  check_packed_attention("attention_train_backward", a);
  thread_local std::vector<float> lse_t_buf, D_buf;  // the caller's; the tasks use the pointers
  lse_t_buf.resize(size_t(n_head * T));
  D_buf.resize(size_t(n_head * T));
  float *lse_t = lse_t_buf.data(), *D = D_buf.data();  // [n_head, T] each
  parallel_for(
      T,
      [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t)
          for (int64_t h = 0; h < n_head; ++h) {
            const float *o = out + (t * n_head + h) * d_head, *dO = dout + (t * n_head + h) * d_head;
            float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
            for (int64_t i = 0; i < d_head; ++i) dot += o[i] * dO[i];
            D[h * T + t] = dot;
            lse_t[h * T + t] = lse[t * n_head + h];
          }
      },
      64);
  const BackwardArgs b{a, dout, q, k, v, lse_t, D, dq, dk, dv};
  const int64_t key_blocks = (T + kTrainKeyBlock - 1) / kTrainKeyBlock;
  parallel_for(n_head_kv * key_blocks, [&](int64_t begin, int64_t end) {
    for (int64_t task = begin; task < end; ++task) {
      const int64_t g = task % n_head_kv, k0 = task / n_head_kv * kTrainKeyBlock;
      key_block(b, g, k0, std::min(T, k0 + kTrainKeyBlock));
    }
  });
  const int64_t query_blocks = (T + kTrainQueryBlock - 1) / kTrainQueryBlock;
  parallel_for(n_head * query_blocks, [&](int64_t begin, int64_t end) {
    for (int64_t task = begin; task < end; ++task) {
      const int64_t h = task % n_head, t0 = task / n_head * kTrainQueryBlock;
      query_block(b, h, t0, std::min(T, t0 + kTrainQueryBlock));
    }
  });
}

}  // namespace tunekit::ops
