// Attention over packed training rows, backward, flash-attention style: the probabilities are
// recomputed from the forward's lse a block at a time, never stored as [T, T]. With D[t] = dO[t]·O[t]:
//   P = exp(scale · Q Kᵀ - lse),  dP = dO Vᵀ,  dS = P ⊙ (dP - D)
//   dV = Pᵀ dO,  dK = scale · dSᵀ Q,  dQ = scale · dS K
// One pass of five products: a task per (kv head, lane) takes the key blocks kb ≡ lane (mod kLanes)
// in order and computes each block's dK and dV from all the queries that see it, and that block's
// share of dQ, summed into the lane's own dQ rows. A last pass adds the lanes' shares in lane
// order. Every sum runs in a fixed order whatever the thread count or the scheduling, so results
// are reproducible bit for bit. q and dout are first repacked per kv head as [T · group, d]
// (gather_group over all of T), so that the query heads sharing a kv head and any range of tokens
// form one matrix: each product is one sgemm.
#include <algorithm>
#include <vector>

#include "ops/attention_train.h"
#include "ops/linear_kernels.h"
#include "tunekit/core/parallel.h"
#include "tunekit/error.h"
#include "tunekit/ops/backward.h"

namespace tunekit::ops {

namespace {

// Lanes of key blocks whose dQ shares are summed apart: enough tasks (n_head_kv · kLanes) for the
// pool to balance, few enough copies of dQ to add up at the end.
constexpr int64_t kLanes = 4;

// Per kv head g, rows t · group + hh (token t, head g·group + hh): matrices at offset g · T · group · d
// (Q, dO, a lane's dQ) or vectors at offset g · T · group (lse, D).
struct BackwardArgs {
  PackedAttention a;
  const float *k, *v;
  const float *Q, *dO;     // [n_head_kv, T · group, d]
  const float *lse, *D;    // [n_head_kv, T · group]
  const int64_t* q_end;    // [key_blocks]: one past the last query that sees key block kb
  int64_t key_blocks;
  float* dQ_lanes;         // [kLanes, n_head_kv, T · group, d]: rows no block of the lane sees are not written
  float *dk, *dv;          // [T, n_head_kv, d]
  int64_t matrix(int64_t g, int64_t t) const { return (g * a.T + t) * a.group() * a.d_head; }
  int64_t vector(int64_t g, int64_t t) const { return (g * a.T + t) * a.group(); }
  float* lane_dQ(int64_t lane, int64_t g, int64_t t) const {
    return dQ_lanes + lane * a.n_head_kv * a.T * a.group() * a.d_head + matrix(g, t);
  }
};

// One past the last query that sees a key in [k0, k1): the first t >= k1 whose first key is >= k1.
int64_t query_end(const PackedAttention& a, int64_t k1) {
  int64_t lo = k1, hi = a.T;
  while (lo < hi) {
    const int64_t mid = (lo + hi) / 2;
    if (a.first_key(mid) < k1)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

// Key block kb = [k0, k1) of kv head g, from the queries [k0, q_end) that see it (columns
// (t - k0) · group + hh of the transposed scores): writes its dK and dV, and adds its share of dQ
// to the lane's rows [k0, q_end); rows from `fresh` on have no earlier share in this lane.
void key_block(const BackwardArgs& b, int64_t lane, int64_t g, int64_t kb, int64_t fresh) {
  thread_local std::vector<float> p_buf, dp_buf;
  const PackedAttention& a = b.a;
  const int64_t d = a.d_head, ks = a.kv_stride(), group = a.group();
  const int64_t k0 = kb * kTrainKeyBlock, k1 = std::min(a.T, k0 + kTrainKeyBlock), nk = k1 - k0, q_end = b.q_end[kb];
  const int64_t M = (q_end - k0) * group, ld = scores_stride(M);
  p_buf.resize(size_t(nk * ld));
  dp_buf.resize(size_t(nk * ld));
  float *Pt = p_buf.data(), *dSt = dp_buf.data();  // [nk, ld]: probabilities and dP then dS, transposed
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
  sgemm('N', 'T', nk, M, d, 1.0f, V, ks, dO, d, 0.0f, dSt, ld);
  for (int64_t i = 0; i < nk; ++i) softmax_backward_row(Pt + i * ld, dSt + i * ld, M, b.D + b.vector(g, k0), 0.0f);
  sgemm('N', 'N', nk, d, M, a.scale(), dSt, ld, Q, d, 0.0f, b.dk + k0 * ks + g * d, ks);
  // dQ rows [k0, q_end) (+)= scale · dS[M, nk] · K[nk, d]: added to the lane's earlier shares below
  // `fresh`, written from there on.
  const int64_t added = (std::clamp(fresh, k0, q_end) - k0) * group;
  float* dQ = b.lane_dQ(lane, g, k0);  // [M, d]
  if (added > 0) sgemm('T', 'N', added, d, nk, a.scale(), dSt, ld, K, ks, 1.0f, dQ, d);
  if (added < M) sgemm('T', 'N', M - added, d, nk, a.scale(), dSt + added, ld, K, ks, 0.0f, dQ + added * d, d);
}

// The key blocks kb ≡ lane (mod kLanes) of kv head g, in order. Their query ranges [k0, q_end)
// start and end later block by block, so the rows an earlier block of the lane wrote are exactly
// those below the largest q_end so far.
void key_lane(const BackwardArgs& b, int64_t lane, int64_t g) {
  int64_t written_end = 0;
  for (int64_t kb = lane; kb < b.key_blocks; kb += kLanes) {
    key_block(b, lane, g, kb, written_end);
    written_end = b.q_end[kb];
  }
}

// dq rows of tokens [t0, t1) = the lanes' shares, in lane order. Token t is seen by the key blocks
// [first, t / kTrainKeyBlock] (first: the first block whose q_end is past t), so by the lanes of
// those blocks.
void sum_lanes(const BackwardArgs& b, int64_t t0, int64_t t1, float* dq) {
  const PackedAttention& a = b.a;
  const int64_t width = a.group() * a.d_head;  // one token's heads of one kv head
  for (int64_t t = t0; t < t1; ++t) {
    const int64_t first = std::upper_bound(b.q_end, b.q_end + b.key_blocks, t) - b.q_end;
    const int64_t seen = t / kTrainKeyBlock - first + 1;  // key blocks first, first + 1, ... see t
    auto holds_share = [&](int64_t lane) { return seen >= kLanes || (lane - first % kLanes + kLanes) % kLanes < seen; };
    for (int64_t g = 0; g < a.n_head_kv; ++g) {
      float* dst = dq + t * a.q_stride() + g * width;  // [group · d]
      bool written = false;
      for (int64_t lane = 0; lane < kLanes; ++lane) {
        if (!holds_share(lane)) continue;
        const float* src = b.lane_dQ(lane, g, t);
        if (!written) {
          std::copy(src, src + width, dst);
          written = true;
        } else {
#pragma omp simd
          for (int64_t i = 0; i < width; ++i) dst[i] += src[i];
        }
      }
    }
  }
}

}  // namespace

void attention_train_backward(const float* dout, const float* q, const float* k, const float* v, const float* out,
                              const float* lse, const int32_t* seg_start, float* dq, float* dk, float* dv, int64_t T,
                              int64_t n_head, int64_t n_head_kv, int64_t d_head, int64_t window) {
  const PackedAttention a{seg_start, T, n_head, n_head_kv, d_head, window};
  check_packed_attention("attention_train_backward", a);
  const int64_t key_blocks = (T + kTrainKeyBlock - 1) / kTrainKeyBlock;
  // The caller's buffers; the tasks below must use these pointers (a thread_local named inside a
  // task would be the worker's own).
  thread_local std::vector<float> q_buf, do_buf, lanes_buf, lse_buf, d_buf;
  thread_local std::vector<int64_t> q_end;
  for (auto* buf : {&q_buf, &do_buf}) buf->resize(size_t(T * n_head * d_head));
  lanes_buf.resize(size_t(kLanes * T * n_head * d_head));
  lse_buf.resize(size_t(T * n_head));
  d_buf.resize(size_t(T * n_head));
  q_end.resize(size_t(key_blocks));
  for (int64_t kb = 0; kb < key_blocks; ++kb) q_end[size_t(kb)] = query_end(a, std::min(T, (kb + 1) * kTrainKeyBlock));
  float *Q = q_buf.data(), *dO = do_buf.data(), *lse_packed = lse_buf.data(), *D = d_buf.data();
  const BackwardArgs b{a, k, v, Q, dO, lse_packed, D, q_end.data(), key_blocks, lanes_buf.data(), dk, dv};
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
  // Lane by lane: lane 0 holds each sample's first key block, the one the most queries see.
  for_each_task(n_head_kv * kLanes, [&](int64_t task) { key_lane(b, task / n_head_kv, task % n_head_kv); });
  parallel_for(T, [&](int64_t t0, int64_t t1) { sum_lanes(b, t0, t1, dq); }, 16);
}

}  // namespace tunekit::ops
