// rmsnorm_forward_train and rmsnorm_backward against a double-precision RMSNorm and central
// differences of it.
#include <gtest/gtest.h>

#include <cmath>

#include "ops/backward_test_util.h"
#include "ops/ops_test_util.h"
#include "tunekit/error.h"
#include "tunekit/ops/backward.h"
#include "tunekit/ops/ops.h"

using namespace tunekit;

namespace {

constexpr float kEps = 1e-5f;

// y = x · r · w in double; returns Σ g ⊙ y and fills rstd when asked.
double rmsnorm_loss(const std::vector<double>& x, const std::vector<double>& w, const std::vector<float>& g, int64_t T,
                    int64_t C, std::vector<double>* rstd = nullptr, std::vector<double>* y = nullptr) {
  double loss = 0;
  for (int64_t t = 0; t < T; ++t) {
    double ss = 0;
    for (int64_t c = 0; c < C; ++c) ss += x[size_t(t * C + c)] * x[size_t(t * C + c)];
    const double r = 1.0 / std::sqrt(ss / double(C) + kEps);
    if (rstd) rstd->push_back(r);
    for (int64_t c = 0; c < C; ++c) {
      const double yc = x[size_t(t * C + c)] * r * w[size_t(c)];
      if (y) y->push_back(yc);
      loss += g[size_t(t * C + c)] * yc;
    }
  }
  return loss;
}

void check_rmsnorm(int64_t T, int64_t C, bool with_dw) {
  SCOPED_TRACE("T=" + std::to_string(T) + " C=" + std::to_string(C) + (with_dw ? "" : " frozen w"));
  auto x = test::random_normal(size_t(T * C), 1);
  auto w = test::random_normal(size_t(C), 2);
  auto g = test::random_normal(size_t(T * C), 3);
  std::vector<float> y(x.size()), rstd(static_cast<size_t>(T));
  ops::rmsnorm_forward_train(x.data(), w.data(), y.data(), rstd.data(), T, C, kEps);

  std::vector<double> want_rstd, want_y;
  rmsnorm_loss(test::to_double(x), test::to_double(w), g, T, C, &want_rstd, &want_y);
  test::expect_close(rstd, std::vector<float>(want_rstd.begin(), want_rstd.end()), 0, 1e-6, "rstd");
  test::expect_close(y, std::vector<float>(want_y.begin(), want_y.end()), 1e-6, 1e-5, "y");
  std::vector<float> y_inference(x.size());
  ops::rmsnorm(x.data(), w.data(), y_inference.data(), T, C, kEps);
  test::expect_close(y, y_inference, 1e-6, 1e-6, "y against ops::rmsnorm");

  // dx and dw accumulate into what is there.
  auto dx = test::random_normal(x.size(), 4), dw = test::random_normal(w.size(), 5);
  const auto dx0 = dx, dw0 = dw;
  ops::rmsnorm_backward(g.data(), x.data(), w.data(), rstd.data(), dx.data(), with_dw ? dw.data() : nullptr, T, C);
  for (size_t i = 0; i < dx.size(); ++i) dx[i] -= dx0[i];
  const auto xd = test::to_double(x), wd = test::to_double(w);
  test::check_gradient(dx, x, [&](const std::vector<double>& v) { return rmsnorm_loss(v, wd, g, T, C); }, "dx");
  if (with_dw) {
    for (size_t i = 0; i < dw.size(); ++i) dw[i] -= dw0[i];
    test::check_gradient(dw, w, [&](const std::vector<double>& v) { return rmsnorm_loss(xd, v, g, T, C); }, "dw");
  } else {
    EXPECT_EQ(dw, dw0);
  }
}

}  // namespace

TEST(RmsnormBackward, MatchesFiniteDifferences) {
  check_rmsnorm(1, 8, true);
  check_rmsnorm(7, 33, true);
  check_rmsnorm(400, 200, true);  // several parts of rows, each with its own dw partial
  check_rmsnorm(45, 64, false);
}

TEST(RmsnormBackward, RejectsBadShapes) {
  std::vector<float> buf(16);
  EXPECT_THROW(ops::rmsnorm_forward_train(buf.data(), buf.data(), buf.data(), buf.data(), 2, 0, kEps), Error);
  EXPECT_THROW(ops::rmsnorm_backward(buf.data(), buf.data(), buf.data(), buf.data(), buf.data(), nullptr, -1, 4),
               Error);
}
