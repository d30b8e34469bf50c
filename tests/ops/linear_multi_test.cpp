// linear_multi and linear_swiglu (several weights of one x, with bias and low-rank terms) against
// double-precision references: ref::linear on the dequantized weights, u·Bᵀ and silu(g)·u in double.
// x is made of multiples of 1/128 with 127/128 in every 32-value block, so the 8-bit activation
// quantization of the integer kernels is exact and one f32-rounding tolerance fits every dtype.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "ops/ops_test_util.h"
#include "tunekit/core/parallel.h"
#include "tunekit/error.h"
#include "tunekit/ops/ops.h"
#include "tunekit/ops/reference.h"

using namespace tunekit;

namespace {

Tensor weights(DType dtype, int64_t N, int64_t K, uint32_t seed) {
  auto w = test::random_normal(size_t(N * K), seed, 0.05f);
  Tensor f = Tensor::zeros(DType::F32, {N, K});
  std::memcpy(f.data, w.data(), w.size() * 4);
  return ops::convert(f, dtype);
}

// x[T, K]: k/128 for integers |k| <= 127, one value of each 32 at ±127/128.
std::vector<float> exactly_quantizable_x(int64_t T, int64_t K, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> k(-127, 127);
  std::vector<float> x(size_t(T * K));
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(i % 32 == 7 ? (i % 64 == 7 ? 127 : -127) : k(rng)) / 128.0f;
  return x;
}

// One output with its expected values and per-value tolerance (f32 rounding of the dot products).
struct Case {
  Tensor W, B;
  std::vector<float> bias, u, y, want, tol;
  bool accumulate = false, low_rank = false;
  ops::LinearOutput output() {
    return {&W, y.data(), accumulate, bias.empty() ? nullptr : bias.data(), low_rank ? u.data() : nullptr,
            low_rank ? &B : nullptr};
  }
};

Case make_case(DType dtype, const std::vector<float>& x, int64_t T, int64_t N, int64_t K, bool with_bias,
               bool accumulate, int64_t r, uint32_t seed) {
  Case c;
  c.W = weights(dtype, N, K, seed);
  if (with_bias) c.bias = test::random_normal(size_t(N), seed + 1);
  c.accumulate = accumulate;
  c.y = test::random_normal(size_t(T * N), seed + 2);
  c.want = c.y;
  ops::ref::linear(x.data(), T, c.W, with_bias ? c.bias.data() : nullptr, c.want.data(), accumulate);
  std::vector<float> w(size_t(N * K));
  ops::dequantize(c.W.data, dtype, N * K, w.data());
  c.tol.assign(size_t(T * N), 0.0f);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t n = 0; n < N; ++n) {
      double magnitude = 0;
      for (int64_t k = 0; k < K; ++k) magnitude += std::fabs(double(x[size_t(t * K + k)]) * w[size_t(n * K + k)]);
      c.tol[size_t(t * N + n)] = float(2e-6 * magnitude + 4e-7 * std::fabs(c.want[size_t(t * N + n)]));
    }
  if (r > 0) {
    c.low_rank = true;
    c.u = test::random_normal(size_t(T * r), seed + 3);
    c.B = weights(DType::F32, N, r, seed + 4);
    for (int64_t t = 0; t < T; ++t)
      for (int64_t n = 0; n < N; ++n) {
        double sum = 0, magnitude = 0;
        for (int64_t j = 0; j < r; ++j) {
          const double term = double(c.u[size_t(t * r + j)]) * c.B.as<float>()[n * r + j];
          sum += term;
          magnitude += std::fabs(term);
        }
        c.want[size_t(t * N + n)] = float(c.want[size_t(t * N + n)] + sum);
        c.tol[size_t(t * N + n)] += float(2e-6 * magnitude + 4e-7 * std::fabs(c.want[size_t(t * N + n)]));
      }
  }
  return c;
}

void expect_within(const std::vector<float>& got, const std::vector<float>& want, const std::vector<float>& tol,
                   const std::string& what) {
  int misses = 0;
  for (size_t i = 0; i < got.size() && misses < 5; ++i)
    if (!(std::fabs(double(got[i]) - want[i]) <= tol[i])) {
      ADD_FAILURE() << what << ": value " << i << " got " << got[i] << " want " << want[i] << " (tol " << tol[i] << ")";
      ++misses;
    }
}

const DType kDtypes[] = {DType::F32, DType::F16, DType::BF16, DType::NF4, DType::Q8_0, DType::Q4_0, DType::Q4_K,
                         DType::Q6_K};

}  // namespace

// Three outputs of mixed dtypes and heights (rows split across outputs at every boundary), with and
// without bias, accumulate and a low-rank term; T covers one pass, several passes and the GEMM path.
TEST(LinearMulti, MixedOutputsMatchTheReference) {
  const int64_t K = 256;
  int seed = 0;
  for (int64_t T : {1, 3, 9, 40})
    for (size_t d = 0; d < std::size(kDtypes); ++d) {
      const DType a = kDtypes[d], b = kDtypes[(d + 3) % std::size(kDtypes)];
      const auto x = exactly_quantizable_x(T, K, uint32_t(T));
      Case cases[] = {make_case(a, x, T, 66, K, true, false, 0, uint32_t(++seed * 10)),
                      make_case(b, x, T, 7, K, false, true, 4, uint32_t(++seed * 10)),
                      make_case(a, x, T, 130, K, true, true, 8, uint32_t(++seed * 10))};
      const ops::LinearOutput outs[] = {cases[0].output(), cases[1].output(), cases[2].output()};
      ops::linear_multi(x.data(), T, outs);
      for (size_t i = 0; i < std::size(cases); ++i)
        expect_within(cases[i].y, cases[i].want, cases[i].tol,
                      std::string(dtype_name(i == 1 ? b : a)) + " output " + std::to_string(i) + " T=" +
                          std::to_string(T));
    }
}

// f32 weights with a low-rank term and no bias, from kLoraFusedMinRows rows on: the term is added in
// the product's own tiles (linear_lora_fused). Partial tiles of rows (T % 6) and of columns (N % 64),
// K off the 16-float blocks, ranks 1 to 16, accumulate or not, on 1 and 2 threads (rows split or
// column panels split), each against the double-precision reference.
TEST(LinearMulti, LowRankTermInsideTheProductMatchesTheReference) {
  struct Shape {
    int64_t T, N, K, r;
  };
  int seed = 300;
  const int before = num_threads();
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (Shape s : {Shape{64, 64, 64, 8}, Shape{70, 200, 100, 3}, Shape{131, 40, 48, 16}, Shape{96, 576, 40, 1},
                    Shape{256, 1100, 33, 8}})
      for (bool accumulate : {false, true}) {
        const auto x = exactly_quantizable_x(s.T, s.K, uint32_t(s.T + s.K));
        Case c = make_case(DType::F32, x, s.T, s.N, s.K, false, accumulate, s.r, uint32_t(++seed * 10));
        const ops::LinearOutput out = c.output();
        ops::linear_multi(x.data(), s.T, {&out, 1});
        expect_within(c.y, c.want, c.tol,
                      "T=" + std::to_string(s.T) + " N=" + std::to_string(s.N) + " K=" + std::to_string(s.K) +
                          " r=" + std::to_string(s.r) + (accumulate ? " accumulate" : "") + " threads " +
                          std::to_string(threads));
      }
  }
  set_num_threads(before);
}

TEST(LinearSwiglu, MatchesSiluOfGateTimesUp) {
  const int64_t K = 256, N = 70;
  int seed = 100;
  for (int64_t T : {1, 5, 40})
    for (DType dtype : kDtypes) {
      const auto x = exactly_quantizable_x(T, K, uint32_t(T + 7));
      Case gate = make_case(dtype, x, T, N, K, false, false, T == 5 ? 0 : 4, uint32_t(++seed * 10));
      Case up = make_case(dtype, x, T, N, K, false, false, 4, uint32_t(++seed * 10));
      ops::linear_swiglu(x.data(), T, gate.output(), up.output());
      std::vector<float> want(size_t(T * N)), tol(size_t(T * N));
      for (size_t i = 0; i < want.size(); ++i) {
        const double g = gate.want[i], u = up.want[i], sigmoid = 1.0 / (1.0 + std::exp(-g));
        const double silu = g * sigmoid;
        want[i] = float(silu * u);
        // silu' = sigmoid · (1 + g · (1 - sigmoid)) lies in [-0.1, 1.1]; exp is good to ~1e-6 relative.
        tol[i] = float(1.1 * std::fabs(u) * gate.tol[i] + std::fabs(silu) * up.tol[i] + 2e-6 * std::fabs(want[i]) + 1e-7);
      }
      const std::string what = std::string(dtype_name(dtype)) + " T=" + std::to_string(T);
      expect_within(up.y, up.want, up.tol, what + " up");
      expect_within(gate.y, want, tol, what + " swiglu");
    }
}

TEST(LinearMulti, RejectsOutputsThatDoNotFit) {
  Tensor W = Tensor::zeros(DType::F32, {4, 8}), W2 = Tensor::zeros(DType::F32, {3, 16}),
         W3 = Tensor::zeros(DType::F32, {3, 8}), B = Tensor::zeros(DType::F32, {5, 2});
  std::vector<float> x(16), y(8), u(2);
  const ops::LinearOutput mismatched[] = {{&W, y.data()}, {&W2, y.data()}};
  try {
    ops::linear_multi(x.data(), 1, mismatched);
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("linear_multi: W [3, 16]"), std::string::npos) << e.what();
  }
  const ops::LinearOutput bad_low_rank[] = {{&W, y.data(), false, nullptr, u.data(), &B}};
  EXPECT_THROW(ops::linear_multi(x.data(), 1, bad_low_rank), Error);
  const ops::LinearOutput no_u[] = {{&W, y.data(), false, nullptr, nullptr, &B}};
  EXPECT_THROW(ops::linear_multi(x.data(), 1, no_u), Error);
  EXPECT_THROW(ops::linear_swiglu(x.data(), 1, {&W, y.data()}, {&W3, y.data()}), Error);  // 4 and 3 rows
  EXPECT_THROW(ops::linear_swiglu(x.data(), 1, {&W, y.data(), true}, {&W, y.data()}), Error);
}
