// attention_train_forward / attention_train_backward over packed rows against a double-precision
// attention written here (outputs, lse, and central differences of Σ dout ⊙ out), and the forward
// against the KV-cache inference kernel ops::attention for one unpacked sequence.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "ops/backward_test_util.h"
#include "ops/ops_test_util.h"
#include "tunekit/core/parallel.h"
#include "tunekit/error.h"
#include "tunekit/ops/backward.h"
#include "tunekit/ops/ops.h"

using namespace tunekit;

namespace {

struct Case {
  int64_t n_head, n_head_kv, d_head, window;
  std::vector<int64_t> samples;  // lengths of the packed samples, in order
  int64_t T() const {
    int64_t T = 0;
    for (int64_t n : samples) T += n;
    return T;
  }
  std::vector<int32_t> seg_start() const {
    std::vector<int32_t> s;
    for (int64_t n : samples)
      for (int64_t i = 0; i < n; ++i) s.push_back(int32_t(int64_t(s.size()) - i));
    return s;
  }
  std::string name() const {
    std::ostringstream s;
    s << "heads " << n_head << "/" << n_head_kv << " d=" << d_head << " window=" << window << " samples";
    for (int64_t n : samples) s << " " << n;
    return s.str();
  }
};

// The attention in double: out[T, n_head, d_head] and lse[T, n_head]; returns Σ g ⊙ out.
double attention_loss(const Case& c, const std::vector<int32_t>& seg, const std::vector<double>& q,
                      const std::vector<double>& k, const std::vector<double>& v, const std::vector<float>& g,
                      std::vector<double>* out = nullptr, std::vector<double>* lse = nullptr) {
  const int64_t T = c.T(), d = c.d_head, group = c.n_head / c.n_head_kv;
  double loss = 0;
  std::vector<double> w;
  for (int64_t t = 0; t < T; ++t)
    for (int64_t h = 0; h < c.n_head; ++h) {
      const int64_t first = c.window > 0 ? std::max<int64_t>(seg[size_t(t)], t - c.window + 1) : seg[size_t(t)];
      const double* qt = &q[size_t((t * c.n_head + h) * d)];
      w.assign(size_t(t - first + 1), 0.0);
      double max = -INFINITY, sum = 0;
      for (int64_t s = first; s <= t; ++s) {
        const double* ks = &k[size_t((s * c.n_head_kv + h / group) * d)];
        double dot = 0;
        for (int64_t i = 0; i < d; ++i) dot += qt[i] * ks[i];
        w[size_t(s - first)] = dot / std::sqrt(double(d));
        max = std::max(max, w[size_t(s - first)]);
      }
      for (double& x : w) sum += x = std::exp(x - max);
      if (lse) lse->push_back(max + std::log(sum));
      for (int64_t i = 0; i < d; ++i) {
        double o = 0;
        for (int64_t s = first; s <= t; ++s) o += w[size_t(s - first)] * v[size_t((s * c.n_head_kv + h / group) * d + i)];
        o /= sum;
        if (out) out->push_back(o);
        loss += g[size_t((t * c.n_head + h) * d + i)] * o;
      }
    }
  return loss;
}

void check_attention_train(const Case& c, size_t max_checked = 400) {
  SCOPED_TRACE(c.name());
  const int64_t T = c.T(), d = c.d_head;
  const auto seg = c.seg_start();
  auto q = test::random_normal(size_t(T * c.n_head * d), 1);
  auto k = test::random_normal(size_t(T * c.n_head_kv * d), 2);
  auto v = test::random_normal(size_t(T * c.n_head_kv * d), 3);
  auto g = test::random_normal(q.size(), 4);
  std::vector<float> out(q.size(), NAN), lse(size_t(T * c.n_head), NAN);
  ops::attention_train_forward(q.data(), k.data(), v.data(), seg.data(), out.data(), lse.data(), T, c.n_head,
                               c.n_head_kv, d, c.window);
  const auto qd = test::to_double(q), kd = test::to_double(k), vd = test::to_double(v);
  std::vector<double> want_out, want_lse;
  attention_loss(c, seg, qd, kd, vd, g, &want_out, &want_lse);
  test::expect_close(out, std::vector<float>(want_out.begin(), want_out.end()), 2e-5, 2e-5, "out");
  test::expect_close(lse, std::vector<float>(want_lse.begin(), want_lse.end()), 2e-5, 2e-6, "lse");

  std::vector<float> dq(q.size(), NAN), dk(k.size(), NAN), dv(v.size(), NAN);
  ops::attention_train_backward(g.data(), q.data(), k.data(), v.data(), out.data(), lse.data(), seg.data(), dq.data(),
                                dk.data(), dv.data(), T, c.n_head, c.n_head_kv, d, c.window);
  auto check = [&](const std::vector<float>& grad, const std::vector<float>& x, const char* what, auto loss) {
    const auto idx = test::checked_indices(x.size(), max_checked);
    test::expect_gradient(grad, idx, test::numeric_gradient(test::to_double(x), idx, loss), what);
  };
  check(dq, q, "dq", [&](const std::vector<double>& x) { return attention_loss(c, seg, x, kd, vd, g); });
  check(dk, k, "dk", [&](const std::vector<double>& x) { return attention_loss(c, seg, qd, x, vd, g); });
  check(dv, v, "dv", [&](const std::vector<double>& x) { return attention_loss(c, seg, qd, kd, x, g); });
}

}  // namespace

TEST(AttentionTrain, OneSampleGqa) {
  check_attention_train({4, 2, 8, 0, {37}});
  check_attention_train({2, 2, 16, 0, {1}});
}

TEST(AttentionTrain, PackedSamplesAcrossBlocks) {
  // Several samples per row and rows of 100 tokens (a new row starts a sample); blocks of 64 queries
  // and keys straddle sample boundaries.
  check_attention_train({4, 2, 8, 0, {5, 61, 1, 33, 70, 30}});
  check_attention_train({3, 1, 12, 0, {130}}, 200);  // one long sample: several query and key blocks
}

TEST(AttentionTrain, MoreKeyBlocksThanLanes) {
  // Backward sums each query's dQ over lanes of key blocks (kb mod 4, each lane in order): a sample
  // seen by 6 key blocks, and a second one that starts inside a block.
  check_attention_train({2, 1, 8, 0, {330, 70}}, 120);
  check_attention_train({3, 3, 8, 100, {290}}, 120);  // a window reaching back two blocks
}

TEST(AttentionTrain, ForwardAndBackwardAreTheSameOnAnyThreadCount) {
  // Both hand their tasks out one at a time to whichever thread is free (for_each_task), so which
  // thread runs a task varies from run to run; the results must not.
  const Case c{4, 2, 16, 0, {300, 90, 130}};
  const int64_t T = c.T(), d = c.d_head;
  const auto seg = c.seg_start();
  const auto q = test::random_normal(size_t(T * c.n_head * d), 11), g = test::random_normal(q.size(), 14);
  const auto k = test::random_normal(size_t(T * c.n_head_kv * d), 12), v = test::random_normal(k.size(), 13);
  std::vector<float> out(q.size()), lse(size_t(T * c.n_head));
  auto forward = [&](int threads) {
    set_num_threads(threads);
    ops::attention_train_forward(q.data(), k.data(), v.data(), seg.data(), out.data(), lse.data(), T, c.n_head,
                                 c.n_head_kv, d);
    std::vector<float> result = out;
    result.insert(result.end(), lse.begin(), lse.end());
    return result;
  };
  const int before = num_threads();
  const std::vector<float> forward_three = forward(3), forward_one = forward(1);
  EXPECT_TRUE(forward_one == forward_three) << "out, lse differ between 1 and 3 threads";
  auto backward = [&](int threads) {
    set_num_threads(threads);
    std::vector<float> grads(q.size() + 2 * k.size());  // dq, dk, dv
    float *dq = grads.data(), *dk = dq + q.size(), *dv = dk + k.size();
    ops::attention_train_backward(g.data(), q.data(), k.data(), v.data(), out.data(), lse.data(), seg.data(), dq, dk,
                                  dv, T, c.n_head, c.n_head_kv, d);
    return grads;
  };
  const std::vector<float> one = backward(1), three = backward(3);
  set_num_threads(before);
  EXPECT_TRUE(one == three) << "dq, dk, dv differ between 1 and 3 threads";
}

TEST(AttentionTrain, SlidingWindow) {
  check_attention_train({4, 2, 8, 7, {90, 3, 27}});
  check_attention_train({2, 1, 8, 1, {20}});  // each token sees itself only
}

TEST(AttentionTrain, ForwardMatchesKvCacheAttention) {
  for (int64_t window : {int64_t(0), int64_t(50)}) {
    const int64_t T = 150, n_head = 9, n_head_kv = 3, d = 64;
    auto q = test::random_normal(size_t(T * n_head * d), 5);
    auto k = test::random_normal(size_t(T * n_head_kv * d), 6);
    auto v = test::random_normal(size_t(T * n_head_kv * d), 7);
    std::vector<int32_t> seg(static_cast<size_t>(T), 0), pos(static_cast<size_t>(T));
    for (int64_t t = 0; t < T; ++t) pos[size_t(t)] = int32_t(t);
    std::vector<float> out(q.size()), lse(size_t(T * n_head)), want(q.size());
    ops::attention_train_forward(q.data(), k.data(), v.data(), seg.data(), out.data(), lse.data(), T, n_head,
                                 n_head_kv, d, window);
    ops::attention(q.data(), k.data(), v.data(), want.data(), T, pos.data(), n_head, n_head_kv, d, window);
    test::expect_close(out, want, 1e-5, 1e-5, "out against ops::attention");
  }
}

TEST(AttentionTrain, RejectsBadSegments) {
  std::vector<float> buf(256);
  std::vector<int32_t> seg = {0, 0, 2, 1};  // token 3 claims a sample that began before token 2's
  EXPECT_THROW(ops::attention_train_forward(buf.data(), buf.data(), buf.data(), seg.data(), buf.data(), buf.data(), 4,
                                            2, 2, 8),
               Error);
  seg = {0, 0, 0, 0};
  EXPECT_THROW(ops::attention_train_backward(buf.data(), buf.data(), buf.data(), buf.data(), buf.data(), buf.data(),
                                             seg.data(), buf.data(), buf.data(), buf.data(), 4, 3, 2, 8),
               Error);  // 3 heads over 2 kv heads
}
