// linear_backward_input / linear_backward_weight / bias_backward against central differences of a
// double-precision linear (W dequantized by its codec for the storage dtypes).
#include <gtest/gtest.h>

#include <cstring>

#include "ops/backward_test_util.h"
#include "ops/ops_test_util.h"
#include "tunekit/error.h"
#include "tunekit/ops/backward.h"
#include "tunekit/ops/ops.h"

using namespace tunekit;

namespace {

Tensor weights(DType dtype, int64_t N, int64_t K, uint32_t seed) {
  auto w = test::random_normal(size_t(N * K), seed, 0.1f);
  Tensor f = Tensor::zeros(DType::F32, {N, K});
  if (!w.empty()) std::memcpy(f.data, w.data(), w.size() * 4);
  return ops::convert(f, dtype);
}

// L = Σ g[t, n] · y[t, n] with y = x · Wᵀ (+ bias), in double.
double linear_loss(const std::vector<double>& x, const std::vector<double>& w, const std::vector<double>& bias,
                   const std::vector<float>& g, int64_t T, int64_t N, int64_t K) {
  double loss = 0;
  for (int64_t t = 0; t < T; ++t)
    for (int64_t n = 0; n < N; ++n) {
      double y = bias.empty() ? 0.0 : bias[size_t(n)];
      for (int64_t k = 0; k < K; ++k) y += x[size_t(t * K + k)] * w[size_t(n * K + k)];
      loss += g[size_t(t * N + n)] * y;
    }
  return loss;
}

// The analytic gradient an accumulating call added on top of start.
std::vector<float> added(const std::vector<float>& after, const std::vector<float>& start) {
  std::vector<float> d(after.size());
  for (size_t i = 0; i < d.size(); ++i) d[i] = float(double(after[i]) - start[i]);
  return d;
}

void check_backward_input(DType dtype, int64_t T, int64_t N, int64_t K, bool accumulate) {
  SCOPED_TRACE(std::string(dtype_name(dtype)) + " T=" + std::to_string(T) + " N=" + std::to_string(N) +
               " K=" + std::to_string(K) + (accumulate ? " accumulate" : ""));
  Tensor W = weights(dtype, N, K, uint32_t(N * 7 + K));
  std::vector<float> w(size_t(N * K));
  ops::dequantize(W.data, dtype, N * K, w.data());
  auto x = test::random_normal(size_t(T * K), 1);
  auto g = test::random_normal(size_t(T * N), 2);
  auto start = accumulate ? test::random_normal(size_t(T * K), 3) : std::vector<float>(size_t(T * K), 7.0f);
  auto dx = start;
  ops::linear_backward_input(g.data(), T, W, dx.data(), accumulate);
  const auto wd = test::to_double(w);
  test::check_gradient(accumulate ? added(dx, start) : dx, x,
                       [&](const std::vector<double>& xd) { return linear_loss(xd, wd, {}, g, T, N, K); }, "dx");
}

void check_backward_weight(int64_t T, int64_t N, int64_t K, bool accumulate) {
  SCOPED_TRACE("T=" + std::to_string(T) + " N=" + std::to_string(N) + " K=" + std::to_string(K) +
               (accumulate ? " accumulate" : ""));
  auto x = test::random_normal(size_t(T * K), 4);
  auto w = test::random_normal(size_t(N * K), 5);
  auto g = test::random_normal(size_t(T * N), 6);
  auto start = accumulate ? test::random_normal(size_t(N * K), 7) : std::vector<float>(size_t(N * K), 7.0f);
  auto dW = start;
  ops::linear_backward_weight(g.data(), x.data(), T, N, K, dW.data(), accumulate);
  const auto xd = test::to_double(x);
  test::check_gradient(accumulate ? added(dW, start) : dW, w,
                       [&](const std::vector<double>& wd) { return linear_loss(xd, wd, {}, g, T, N, K); }, "dW");
}

}  // namespace

TEST(LinearBackward, InputF32) {
  check_backward_input(DType::F32, 37, 130, 72, false);  // columns split over the pool
  check_backward_input(DType::F32, 130, 40, 100, true);  // rows split over the pool
  check_backward_input(DType::F32, 1, 5, 3, false);
  check_backward_input(DType::F32, 5, 1, 9, true);
  check_backward_input(DType::F32, 6, 400, 10, true);  // N dwarfs T and K: the reduction is split
  check_backward_input(DType::F32, 3, 300, 7, false);
}

TEST(LinearBackward, InputStorageDtypes) {
  for (DType dtype : {DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0, DType::NF4})
    check_backward_input(dtype, 19, 45, 192, dtype == DType::Q8_0);  // several column panels
  check_backward_input(DType::Q4_K, 9, 33, 512, false);
  check_backward_input(DType::Q6_K, 9, 33, 512, true);
  check_backward_input(DType::NF4, 2, 900, 64, true);  // split reduction over dequantized rows
}

TEST(LinearBackward, Weight) {
  check_backward_weight(37, 130, 72, false);
  check_backward_weight(29, 16, 200, true);   // a LoRA A: few rows, split over columns
  check_backward_weight(29, 150, 16, false);  // a LoRA B: few columns, computed transposed
  check_backward_weight(33, 200, 8, true);
  check_backward_weight(40, 100, 17, true);    // 17 columns: the usual split over rows
  check_backward_weight(1, 3, 5, true);
}

TEST(LinearBackward, Bias) {
  const int64_t T = 23, N = 70;
  auto g = test::random_normal(size_t(T * N), 8);
  auto b = test::random_normal(size_t(N), 9);
  auto start = test::random_normal(size_t(N), 10);
  auto db = start;
  ops::bias_backward(g.data(), T, N, db.data());
  const std::vector<double> none;
  test::check_gradient(added(db, start), b,
                       [&](const std::vector<double>& bd) { return linear_loss(none, none, bd, g, T, N, 0); }, "dbias");
}

TEST(LinearBackward, EmptyShapes) {
  Tensor W = weights(DType::F32, 0, 4, 1);
  std::vector<float> dx(8, 1.0f);
  ops::linear_backward_input(nullptr, 2, W, dx.data(), false);  // N = 0: dx = 0
  EXPECT_EQ(dx, std::vector<float>(8, 0.0f));
  std::vector<float> dW(6, 1.0f);
  ops::linear_backward_weight(nullptr, nullptr, 0, 2, 3, dW.data(), true);  // T = 0, accumulate: unchanged
  EXPECT_EQ(dW, std::vector<float>(6, 1.0f));
}

TEST(LinearBackward, RejectsBadShapes) {
  std::vector<float> buf(1024);
  Tensor v = Tensor::zeros(DType::F32, {8});
  EXPECT_THROW(ops::linear_backward_input(buf.data(), 2, v, buf.data(), false), Error);
  Tensor q = Tensor::zeros(DType::Q8_0, {4, 32});
  q.shape = {4, 16};  // K not a whole number of blocks
  EXPECT_THROW(ops::linear_backward_input(buf.data(), 2, q, buf.data(), false), Error);
  EXPECT_THROW(ops::linear_backward_weight(buf.data(), buf.data(), -1, 2, 2, buf.data(), false), Error);
}
