// rmsnorm, swiglu, softmax and log_sum_exp against the double-precision references.
#include <gtest/gtest.h>

#include "ops/ops_test_util.h"
#include "tunekit/error.h"
#include "tunekit/ops/ops.h"
#include "tunekit/ops/reference.h"

using namespace tunekit;

TEST(Elementwise, RmsNorm) {
  for (int64_t C : {1, 15, 16, 576, 2051})
    for (int64_t T : {1, 3, 40}) {
      auto x = test::random_normal(size_t(T * C), uint32_t(C), 3.0f);
      auto w = test::random_normal(size_t(C), 2);
      std::vector<float> y(x.size()), want(x.size());
      ops::rmsnorm(x.data(), w.data(), y.data(), T, C, 1e-5f);
      ops::ref::rmsnorm(x.data(), w.data(), want.data(), T, C, 1e-5f);
      test::expect_close(y, want, 1e-6, 2e-6, "rmsnorm");
      ops::rmsnorm(x.data(), w.data(), x.data(), T, C, 1e-5f);  // in place
      test::expect_close(x, want, 1e-6, 2e-6, "rmsnorm in place");
    }
}

TEST(Elementwise, SwiGlu) {
  for (int64_t n : {1, 17, 1536, 100003}) {
    auto g = test::random_normal(size_t(n), 1, 4.0f);
    g[0] = -120.0f;  // exp overflow territory for the sigmoid
    auto u = test::random_normal(size_t(n), 2);
    std::vector<float> y(static_cast<size_t>(n)), want(static_cast<size_t>(n));
    ops::swiglu(g.data(), u.data(), y.data(), n);
    ops::ref::swiglu(g.data(), u.data(), want.data(), n);
    test::expect_close(y, want, 1e-7, 1e-6, "swiglu");
  }
}

TEST(Elementwise, Softmax) {
  for (int64_t n : {1, 5, 16, 49152}) {
    auto x = test::random_normal(size_t(n), 4, 10.0f);
    x[0] = 80.0f;
    auto want = x;
    ops::softmax(x.data(), n);
    ops::ref::softmax(want.data(), n);
    test::expect_close(x, want, 1e-9, 1e-5, "softmax");
  }
}

TEST(Elementwise, LogSumExp) {
  for (int64_t n : {1, 5, 16, 17, 49152}) {
    auto x = test::random_normal(size_t(n), 5, 10.0f);
    x[size_t(n) / 2] = 85.0f;  // exp(85) overflows a float: the shift by the maximum must hold
    const float got = ops::log_sum_exp(x.data(), n), want = ops::ref::log_sum_exp(x.data(), n);
    EXPECT_NEAR(got, want, 1e-5 * std::abs(want)) << "n = " << n;
  }
  const float constant[3] = {-2.0f, -2.0f, -2.0f};
  EXPECT_NEAR(ops::log_sum_exp(constant, 3), -2.0f + std::log(3.0f), 1e-6);
  EXPECT_THROW(ops::log_sum_exp(constant, 0), Error);
}
