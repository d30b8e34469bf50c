// layer_norm, gelu and attention_bidirectional against the double-precision references.
#include <gtest/gtest.h>

#include <cmath>

#include "ops/ops_test_util.h"
#include "tunekit/ops/encoder.h"

using namespace tunekit;

TEST(EncoderOps, LayerNorm) {
  for (int64_t C : {1, 15, 16, 384, 1030})
    for (int64_t T : {1, 3, 70}) {
      auto x = test::random_normal(size_t(T * C), uint32_t(C), 3.0f);
      for (float& v : x) v += 50.0f;  // a large mean: the variance must not cancel
      auto w = test::random_normal(size_t(C), 2);
      auto b = test::random_normal(size_t(C), 3);
      std::vector<float> y(x.size()), want(x.size());
      ops::layer_norm(x.data(), w.data(), b.data(), y.data(), T, C, 1e-12f);
      ops::ref::layer_norm(x.data(), w.data(), b.data(), want.data(), T, C, 1e-12f);
      test::expect_close(y, want, 2e-6, 2e-6, "layer_norm");
      ops::layer_norm(x.data(), w.data(), b.data(), x.data(), T, C, 1e-12f);  // in place
      test::expect_close(x, want, 2e-6, 2e-6, "layer_norm in place");
    }
}

TEST(EncoderOps, LayerNormOfAConstantRow) {
  std::vector<float> x(8, 2.5f), w(8, 1.0f), b(8, 0.25f), y(8);
  ops::layer_norm(x.data(), w.data(), b.data(), y.data(), 1, 8, 1e-12f);
  for (float v : y) EXPECT_EQ(v, 0.25f);  // zero variance: only the bias remains, no NaN
}

TEST(EncoderOps, GeluIsTheErfForm) {
  for (int64_t n : {1, 17, 1536, 100003}) {
    auto x = test::random_normal(size_t(n), 5, 3.0f);
    x[0] = -12.0f;
    if (n > 2) x[1] = 9.0f;
    std::vector<float> y(static_cast<size_t>(n)), want(static_cast<size_t>(n));
    ops::gelu(x.data(), y.data(), n);
    ops::ref::gelu(x.data(), want.data(), n);
    test::expect_close(y, want, 3e-7, 2e-6, "gelu");
  }
  // The tanh approximation differs from the erf form by ~1e-4 near |x| = 2: far outside the tolerance.
  const float x = 2.0f;
  float y = 0;
  ops::gelu(&x, &y, 1);
  const double tanh_form = 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
  EXPECT_NEAR(y, 2.0 * 0.5 * (1 + std::erf(2.0 / std::sqrt(2.0))), 1e-6);
  EXPECT_GT(std::fabs(y - tanh_form), 1e-5);
}

TEST(EncoderOps, AttentionBidirectionalPackedSequences) {
  const int64_t n_head = 3, d_head = 20;
  // Lengths around the 64-row task blocks, an empty sequence and a single token.
  for (const std::vector<int64_t>& lengths : std::vector<std::vector<int64_t>>{{7}, {1, 65, 0, 130, 12}}) {
    std::vector<int64_t> seq_start{0};
    for (int64_t n : lengths) seq_start.push_back(seq_start.back() + n);
    const int64_t T = seq_start.back(), size = T * n_head * d_head;
    auto q = test::random_normal(size_t(size), 11, 2.0f), k = test::random_normal(size_t(size), 12, 2.0f);
    auto v = test::random_normal(size_t(size), 13);
    std::vector<float> out(static_cast<size_t>(size)), want(static_cast<size_t>(size));
    ops::attention_bidirectional(q.data(), k.data(), v.data(), out.data(), seq_start.data(), int64_t(lengths.size()),
                                 n_head, d_head);
    ops::ref::attention_bidirectional(q.data(), k.data(), v.data(), want.data(), seq_start.data(),
                                      int64_t(lengths.size()), n_head, d_head);
    test::expect_close(out, want, 2e-6, 2e-5, "attention_bidirectional");
  }
}

TEST(EncoderOps, AttentionSeesOnlyItsOwnSequence) {
  // Sequence 1's result must not change when sequence 0's keys and values do.
  const int64_t n_head = 2, d_head = 8, T = 9, size = T * n_head * d_head;
  const int64_t seq_start[] = {0, 4, 9};
  auto q = test::random_normal(size_t(size), 1), k = test::random_normal(size_t(size), 2);
  auto v = test::random_normal(size_t(size), 3);
  std::vector<float> a(static_cast<size_t>(size)), b(static_cast<size_t>(size));
  ops::attention_bidirectional(q.data(), k.data(), v.data(), a.data(), seq_start, 2, n_head, d_head);
  for (int64_t i = 0; i < 4 * n_head * d_head; ++i) k[size_t(i)] = v[size_t(i)] = 100.0f;
  ops::attention_bidirectional(q.data(), k.data(), v.data(), b.data(), seq_start, 2, n_head, d_head);
  for (int64_t i = 4 * n_head * d_head; i < size; ++i) EXPECT_EQ(a[size_t(i)], b[size_t(i)]) << i;
}
