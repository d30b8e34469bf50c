// cross_entropy_loss against a direct log-softmax in double: the loss, and central differences of it
// for dh and dW, with chunks that do not divide the rows, masked rows (target -1, weight 0), a frozen
// output matrix (dW null: the online way, over blocks of the vocabulary) and storage dtypes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "ops/backward_test_util.h"
#include "ops/ops_test_util.h"
#include "tunekit/error.h"
#include "tunekit/ops/backward.h"
#include "tunekit/ops/ops.h"

using namespace tunekit;

namespace {

struct Problem {
  int64_t T, V, C;
  std::vector<float> h, w_f32, weights;
  std::vector<int32_t> targets;
  Tensor W;
};

// Rows 2, 5, 8, ... have no target, rows 3, 10, 17, ... weight 0; the others weights in (0.5, 1.5).
Problem make_problem(int64_t T, int64_t V, int64_t C, DType dtype) {
  Problem p{T, V, C, test::random_normal(size_t(T * C), 1), test::random_normal(size_t(V * C), 2, 0.3f), {}, {}, {}};
  Tensor f = Tensor::zeros(DType::F32, {V, C});
  std::memcpy(f.data, p.w_f32.data(), p.w_f32.size() * 4);
  p.W = ops::convert(f, dtype);
  ops::dequantize(p.W.data, dtype, V * C, p.w_f32.data());  // what the kernel multiplies with
  for (int64_t t = 0; t < T; ++t) {
    p.targets.push_back(t % 3 == 2 ? -1 : int32_t((t * 37 + 11) % V));
    p.weights.push_back(t % 7 == 3 ? 0.0f : 0.5f + float((t * 5) % 11) / 10.0f);
  }
  return p;
}

// Σ_t weights[t] · (logsumexp(W h_t) - (W h_t)[target]) over the rows that take part, in double.
double ce_loss(const Problem& p, const std::vector<double>& h, const std::vector<double>& w) {
  double loss = 0;
  std::vector<double> logits(size_t(p.V));
  for (int64_t t = 0; t < p.T; ++t) {
    if (p.targets[size_t(t)] < 0 || p.weights[size_t(t)] == 0.0f) continue;
    double max = -INFINITY, sum = 0;
    for (int64_t v = 0; v < p.V; ++v) {
      double l = 0;
      for (int64_t c = 0; c < p.C; ++c) l += h[size_t(t * p.C + c)] * w[size_t(v * p.C + c)];
      logits[size_t(v)] = l;
      max = std::max(max, l);
    }
    for (double l : logits) sum += std::exp(l - max);
    loss += p.weights[size_t(t)] * (max + std::log(sum) - logits[size_t(p.targets[size_t(t)])]);
  }
  return loss;
}

void check_cross_entropy(int64_t T, int64_t V, int64_t C, int64_t chunk_rows, DType dtype, bool with_dW) {
  SCOPED_TRACE(std::string(dtype_name(dtype)) + " T=" + std::to_string(T) + " V=" + std::to_string(V) + " C=" +
               std::to_string(C) + " chunk " + std::to_string(chunk_rows) + (with_dW ? "" : " frozen W"));
  const Problem p = make_problem(T, V, C, dtype);
  const float grad_scale = 0.37f;
  const auto hd = test::to_double(p.h), wd = test::to_double(p.w_f32);
  const double want = ce_loss(p, hd, wd);

  std::vector<float> dh(p.h.size(), NAN);
  // Accumulated into: values of the gradients' own size, so that f32 keeps their low digits.
  auto dW = test::random_normal(p.w_f32.size(), 3, 1e-3f);
  const auto dW0 = dW;
  const double loss = ops::cross_entropy_loss(p.h.data(), p.W, p.targets.data(), p.weights.data(), T, grad_scale,
                                              dh.data(), with_dW ? dW.data() : nullptr, chunk_rows);
  EXPECT_NEAR(loss, want, 1e-5 * std::fabs(want)) << "loss";
  test::check_gradient(dh, p.h, [&](const std::vector<double>& x) { return grad_scale * ce_loss(p, x, wd); }, "dh");
  for (int64_t t = 0; t < T; ++t) {
    if (p.targets[size_t(t)] >= 0 && p.weights[size_t(t)] != 0.0f) continue;
    for (int64_t c = 0; c < C; ++c) ASSERT_EQ(dh[size_t(t * C + c)], 0.0f) << "masked row " << t;
  }
  if (with_dW) {
    for (size_t i = 0; i < dW.size(); ++i) dW[i] -= dW0[i];
    test::check_gradient(dW, p.w_f32, [&](const std::vector<double>& x) { return grad_scale * ce_loss(p, hd, x); },
                         "dW");
  } else {
    EXPECT_EQ(dW, dW0);
  }
}

}  // namespace

TEST(CrossEntropy, MatchesLogSoftmaxAndFiniteDifferences) {
  check_cross_entropy(11, 101, 24, 4, DType::F32, true);    // chunks of 4 active rows over 11 rows
  check_cross_entropy(11, 101, 24, 256, DType::F32, false);  // one chunk, frozen W
  check_cross_entropy(40, 37, 40, 7, DType::F32, true);     // more rows than the vocabulary
  check_cross_entropy(5, 3000, 16, 2, DType::F32, true);    // a vocabulary that dwarfs the rows
  // Chunks of 40 active rows (of 46): from 33 rows on the logits come from tunekit's packed product,
  // here over 3 panels of 64 columns (the last partial), K off the 16-float blocks; the last 6 rows
  // from oneDNN's.
  check_cross_entropy(80, 130, 40, 40, DType::F32, true);
  // Frozen W (the online way): 3 blocks of the vocabulary (1024, 1024, 52) each rescaling the running
  // sums, chunks of 40 rows through tunekit's packed product and one of 6 through oneDNN's.
  check_cross_entropy(80, 2100, 40, 40, DType::F32, false);
}

TEST(CrossEntropy, StorageDtypes) {
  check_cross_entropy(9, 77, 64, 3, DType::BF16, false);
  check_cross_entropy(9, 77, 64, 3, DType::Q8_0, false);
  check_cross_entropy(4, 20000, 32, 3, DType::Q8_0, false);  // dequantized panels of rows of W
}

TEST(CrossEntropy, LossOnlyLeavesGradientsAlone) {
  const Problem p = make_problem(6, 50, 8, DType::F32);
  std::vector<float> dh(p.h.size(), 5.0f), dW(p.w_f32.size(), 5.0f);
  const double loss =
      ops::cross_entropy_loss(p.h.data(), p.W, p.targets.data(), nullptr, 6, 0.0f, dh.data(), dW.data(), 4);
  Problem unweighted = p;
  unweighted.weights.assign(6, 1.0f);  // null weights: every row with a target counts once
  EXPECT_NEAR(loss, ce_loss(unweighted, test::to_double(p.h), test::to_double(p.w_f32)), 1e-5 * std::fabs(loss));
  EXPECT_EQ(dh, std::vector<float>(p.h.size(), 5.0f));
  EXPECT_EQ(dW, std::vector<float>(p.w_f32.size(), 5.0f));
}

TEST(CrossEntropy, RejectsTargetsOutsideTheVocabulary) {
  Problem p = make_problem(4, 10, 8, DType::F32);
  p.targets[1] = 10;
  EXPECT_THROW(ops::cross_entropy_loss(p.h.data(), p.W, p.targets.data(), nullptr, 4, 1.0f, nullptr, nullptr), Error);
}
