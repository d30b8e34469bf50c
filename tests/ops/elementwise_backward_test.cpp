// swiglu_backward, rope_backward and embedding_backward against central differences of their
// forwards written in double.
#include <gtest/gtest.h>

#include <cmath>

#include "ops/backward_test_util.h"
#include "ops/ops_test_util.h"
#include "tunekit/error.h"
#include "tunekit/ops/backward.h"
#include "tunekit/ops/ops.h"

using namespace tunekit;

TEST(SwigluBackward, MatchesFiniteDifferences) {
  for (int64_t n : {int64_t(1), int64_t(37), int64_t(40000)}) {  // scalar tail, vector body, pool split
    SCOPED_TRACE("n=" + std::to_string(n));
    auto gate = test::random_normal(size_t(n), 1, 3.0f);  // wide enough to reach both tails of σ
    auto up = test::random_normal(size_t(n), 2);
    auto dout = test::random_normal(size_t(n), 3);
    std::vector<float> dgate(static_cast<size_t>(n)), dup(static_cast<size_t>(n));
    ops::swiglu_backward(dout.data(), gate.data(), up.data(), dgate.data(), dup.data(), n);
    // The loss is a sum over elements, so one perturbation at a time needs only its own term.
    auto term = [&](double g, double u, size_t i) { return dout[i] * g / (1.0 + std::exp(-g)) * u; };
    const auto idx = test::checked_indices(size_t(n));
    std::vector<double> want_dgate, want_dup;
    for (size_t i : idx) {
      const double g = gate[i], u = up[i];
      auto num = [&](const std::vector<double>& v) { return term(v[0], v[1], i); };
      const auto grad = test::numeric_gradient({g, u}, {0, 1}, num);
      want_dgate.push_back(grad[0]);
      want_dup.push_back(grad[1]);
    }
    test::expect_gradient(dgate, idx, want_dgate, "dgate");
    test::expect_gradient(dup, idx, want_dup, "dup");

    auto aliased = dout;  // dgate may be dout itself
    ops::swiglu_backward(aliased.data(), gate.data(), up.data(), aliased.data(), dup.data(), n);
    EXPECT_EQ(aliased, dgate);

    // With out, the forward's output as well, bit for bit swiglu's, and the same gradients.
    std::vector<float> out(static_cast<size_t>(n)), want_out(static_cast<size_t>(n));
    std::vector<float> dgate2(static_cast<size_t>(n)), dup2(static_cast<size_t>(n));
    ops::swiglu(gate.data(), up.data(), want_out.data(), n);
    ops::swiglu_backward(dout.data(), gate.data(), up.data(), dgate2.data(), dup2.data(), n, out.data());
    EXPECT_EQ(out, want_out);
    EXPECT_EQ(dgate2, dgate);
    EXPECT_EQ(dup2, dup);
  }
}

TEST(RopeBackward, MatchesFiniteDifferences) {
  const int64_t T = 13, n_head = 3, d_head = 10;
  const auto inv_freq = ops::rope_inv_freq({}, d_head);
  std::vector<int32_t> pos(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t) pos[size_t(t)] = int32_t(t < 6 ? t : 100 + 7 * t);  // two packed samples
  auto x = test::random_normal(size_t(T * n_head * d_head), 1);
  auto g = test::random_normal(x.size(), 2);
  auto dx = g;
  ops::rope_backward(dx.data(), T, n_head, d_head, pos.data(), inv_freq.data());
  auto loss = [&](const std::vector<double>& v) {  // Σ g ⊙ rope(v), rope in double
    double sum = 0;
    const int64_t half = d_head / 2;
    for (int64_t t = 0; t < T; ++t)
      for (int64_t h = 0; h < n_head; ++h)
        for (int64_t i = 0; i < half; ++i) {
          const size_t a = size_t((t * n_head + h) * d_head + i), b = a + size_t(half);
          const double angle = float(pos[size_t(t)]) * inv_freq[size_t(i)];  // f32 product, as transformers
          sum += g[a] * (v[a] * std::cos(angle) - v[b] * std::sin(angle)) +
                 g[b] * (v[b] * std::cos(angle) + v[a] * std::sin(angle));
        }
    return sum;
  };
  test::check_gradient(dx, x, loss, "dx");
  EXPECT_THROW(ops::rope_backward(dx.data(), T, n_head, 7, pos.data(), inv_freq.data()), Error);
}

TEST(EmbeddingBackward, ScatterAddsRepeatedTokens) {
  const int64_t T = 41, C = 70, n_vocab = 9;
  std::vector<int32_t> tokens(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t) tokens[size_t(t)] = int32_t((t * 5) % 7);  // rows 7 and 8 get nothing
  auto dx = test::random_normal(size_t(T * C), 1);
  auto table = test::random_normal(size_t(n_vocab * C), 2);
  auto dtable = test::random_normal(table.size(), 3);
  const auto dtable0 = dtable;
  ops::embedding_backward(dx.data(), tokens.data(), T, C, dtable.data());
  for (size_t i = 0; i < dtable.size(); ++i) dtable[i] -= dtable0[i];
  auto loss = [&](const std::vector<double>& v) {  // Σ dx ⊙ table[tokens]
    double sum = 0;
    for (int64_t t = 0; t < T; ++t)
      for (int64_t c = 0; c < C; ++c) sum += dx[size_t(t * C + c)] * v[size_t(tokens[size_t(t)] * C + c)];
    return sum;
  };
  test::check_gradient(dtable, table, loss, "dtable");
  for (size_t i = 7 * C; i < dtable.size(); ++i) ASSERT_EQ(dtable[i], 0.0f) << "untouched row element " << i;
  tokens[3] = -1;
  EXPECT_THROW(ops::embedding_backward(dx.data(), tokens.data(), T, C, dtable.data()), Error);
}
