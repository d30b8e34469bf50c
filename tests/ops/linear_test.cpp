// linear() for every weight dtype and a spread of shapes against ref::linear (the codec's
// dequantization followed by a double-precision matmul).
#include <gtest/gtest.h>

#include <cstring>

#include "ops/linear_kernels.h"
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

// Tolerance per output: f32 arithmetic stays within 1e-6 of Σ|x_k w_k| (observed <= 2e-7) plus the
// final roundings of y (bias, accumulate). Kernels that dot 8-bit activations (q8_0, q4_0, q4_k,
// q6_k at small T) quantize x per 32 values with d = amax/127, which moves each term by at most
// |w_k| d/2; that worst case is added in full (observed errors reach a quarter of it).
bool quantizes_activations(DType dtype) {
  return dtype == DType::Q8_0 || dtype == DType::Q4_0 || dtype == DType::Q4_K || dtype == DType::Q6_K;
}

void check_linear(DType dtype, int64_t T, int64_t N, int64_t K, bool with_bias, bool accumulate) {
  SCOPED_TRACE(std::string(dtype_name(dtype)) + " T=" + std::to_string(T) + " N=" + std::to_string(N) +
               " K=" + std::to_string(K) + (with_bias ? " bias" : "") + (accumulate ? " accumulate" : ""));
  Tensor W = weights(dtype, N, K, uint32_t(T * 131 + N * 7 + K));
  auto x = test::random_normal(size_t(T * K), uint32_t(K + 1));
  auto bias = test::random_normal(size_t(N), 5);
  auto y0 = test::random_normal(size_t(T * N), 6);
  std::vector<float> y = y0, want = y0;
  ops::linear(x.data(), T, W, with_bias ? bias.data() : nullptr, y.data(), accumulate);
  ops::ref::linear(x.data(), T, W, with_bias ? bias.data() : nullptr, want.data(), accumulate);

  std::vector<float> w(static_cast<size_t>(N * K));
  ops::dequantize(W.data, dtype, N * K, w.data());
  for (int64_t t = 0; t < T; ++t)
    for (int64_t n = 0; n < N; ++n) {
      double magnitude = 0, x_quant = 0;
      for (int64_t k = 0; k < K; ++k) {
        magnitude += std::fabs(double(x[size_t(t * K + k)]) * w[size_t(n * K + k)]);
        if (quantizes_activations(dtype) && k % 32 == 0) {
          double amax = 0;
          for (int64_t j = k; j < k + 32; ++j) amax = std::max(amax, std::fabs(double(x[size_t(t * K + j)])));
          for (int64_t j = k; j < k + 32; ++j) x_quant += std::fabs(w[size_t(n * K + j)]) * amax / 127 / 2;
        }
      }
      double tol = 1e-6 * magnitude + 1.0001 * x_quant + 3e-7 * std::fabs(want[size_t(t * N + n)]);
      ASSERT_NEAR(y[size_t(t * N + n)], want[size_t(t * N + n)], tol) << "row " << t << " col " << n;
    }
}

}  // namespace

// T covers the streaming kernels (1 to 8 rows per pass, several passes) and the GEMM paths (q6_k
// beyond 16 rows, the others beyond 32).
TEST(Linear, F32OddShapes) {
  for (int64_t T : {1, 2, 3, 5, 17, 70})
    for (int64_t N : {1, 7, 33, 130})
      for (int64_t K : {1, 17, 64, 200}) check_linear(DType::F32, T, N, K, N == 7, T == 3);
}

// GEMM-sized f32 products: chunks of 64 to 512 rows go to a oneDNN matmul primitive made per shape
// (written into and added to), others to sgemm; more shapes than a thread's cache of primitives
// keeps. On one thread and on two (chunks of other sizes).
TEST(Linear, F32GemmSizes) {
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (int64_t T : {64, 130, 511, 512, 700, 1100})
      for (int64_t N : {33, 130})
        for (int64_t K : {64, 200})
          for (bool accumulate : {false, true}) check_linear(DType::F32, T, N, K, N == 33, accumulate);
  }
  for (int64_t T = 64; T < 64 + 70; ++T) check_linear(DType::F32, T, 9, 16, false, T % 2 == 0);
  set_num_threads(0);
}

// tunekit's packed product without a low-rank term (r = 0: the cross-entropy's vocabulary logits),
// from kLoraFusedMinRows rows on: several column panels (each tile prefetching the next panel's rows
// of W) with a partial last one, partial row tiles, K off the 16-float blocks, written into and added
// to, on 1 and 2 threads; against the double-precision reference. Below that many rows it declines
// and writes nothing.
TEST(Linear, PackedProductWithoutLowRankTerm) {
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (int64_t T : {ops::kLoraFusedMinRows, int64_t(70), int64_t(128)})
      for (int64_t N : {64, 200, 1000})
        for (int64_t K : {40, 64, 576})
          for (bool accumulate : {false, true}) {
            SCOPED_TRACE("T=" + std::to_string(T) + " N=" + std::to_string(N) + " K=" + std::to_string(K) +
                         (accumulate ? " accumulate" : "") + " threads " + std::to_string(threads));
            const Tensor W = weights(DType::F32, N, K, uint32_t(T + N + K));
            const auto x = test::random_normal(size_t(T * K), uint32_t(K + 3));
            const auto y0 = test::random_normal(size_t(T * N), 7);
            std::vector<float> y = y0;
            ASSERT_TRUE(ops::linear_lora_fused(x.data(), T, W.as<float>(), N, K, nullptr, nullptr, 0, y.data(),
                                               accumulate));
            for (int64_t t = 0; t < T; ++t)
              for (int64_t n = 0; n < N; ++n) {
                double want = accumulate ? y0[size_t(t * N + n)] : 0.0, magnitude = 0;
                for (int64_t k = 0; k < K; ++k) {
                  const double term = double(x[size_t(t * K + k)]) * W.as<float>()[n * K + k];
                  want += term;
                  magnitude += std::fabs(term);
                }
                ASSERT_NEAR(y[size_t(t * N + n)], want, 1e-6 * magnitude + 3e-7 * std::fabs(want))
                    << "row " << t << " col " << n;
              }
          }
  }
  set_num_threads(0);
  const Tensor W = weights(DType::F32, 64, 64, 1);
  const auto x = test::random_normal(size_t(32 * 64), 2);
  std::vector<float> y(32 * 64, 5.0f);
  EXPECT_FALSE(ops::linear_lora_fused(x.data(), 32, W.as<float>(), 64, 64, nullptr, nullptr, 0, y.data(), false));
  EXPECT_EQ(y, std::vector<float>(32 * 64, 5.0f));
}

// In AddressSanitizer builds every oneDNN call first checks that its operands lie in addressable
// memory (oneDNN itself is not instrumented): a C one float too short for its rows is caught.
TEST(Linear, AsanBuildsCatchAnOneDnnOperandPastItsBuffer) {
#if !defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "only AddressSanitizer builds check oneDNN's operands";
#else
  std::vector<float> A(4 * 8, 1.0f), B(8 * 3, 1.0f), C(4 * 3);
  ops::sgemm('N', 4, 3, 8, 1.0f, A.data(), 8, B.data(), 3, 0.0f, C.data(), 3);  // fits
  EXPECT_EQ(C[11], 8.0f);
  std::vector<float> short_c(4 * 3 - 1);
  EXPECT_DEATH(ops::sgemm('N', 4, 3, 8, 1.0f, A.data(), 8, B.data(), 3, 0.0f, short_c.data(), 3),
               "oneDNN operand C \\[4 rows x 3, ld 3\\].*unaddressable");
  std::vector<float> short_w(3 * 8 - 1);
  EXPECT_DEATH(ops::matmul_xwt(A.data(), 4, short_w.data(), 3, 8, C.data(), 3, false), "oneDNN operand W");
#endif
}

TEST(Linear, EveryStorageDtype) {
  for (DType dtype : {DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0, DType::NF4, DType::Q4_K, DType::Q6_K}) {
    const int64_t block = std::max<int64_t>(64, dtype_info(dtype).block_size);
    for (int64_t T : {1, 2, 3, 7, 17, 40})
      for (int64_t N : {1, 5, 66})
        for (int64_t K : {block, 3 * block}) check_linear(dtype, T, N, K, N == 5, T == 2);
  }
}

TEST(Linear, OddKForTheSmallBlockTypes) {
  for (DType dtype : {DType::F16, DType::BF16}) check_linear(dtype, 3, 9, 23, true, false);
  for (DType dtype : {DType::Q8_0, DType::Q4_0}) check_linear(dtype, 1, 9, 32 * 7, false, false);
  check_linear(DType::NF4, 1, 9, 64 * 3, false, true);
}

TEST(Linear, RejectsBadShapes) {
  Tensor W = Tensor::zeros(DType::F32, {4, 8});
  std::vector<float> x(8), y(4);
  Tensor W3 = Tensor::zeros(DType::F32, {2, 4, 8});
  EXPECT_THROW(ops::linear(x.data(), 1, W3, nullptr, y.data()), Error);
  EXPECT_THROW(ops::linear(x.data(), -1, W, nullptr, y.data()), Error);
  Tensor bad;
  bad.dtype = DType::Q8_0;
  bad.shape = {4, 40};  // 40 is not a multiple of 32
  std::vector<uint8_t> bytes(4 * 68);
  bad.data = bytes.data();
  try {
    ops::linear(x.data(), 1, bad, nullptr, y.data());
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("[4, 40]"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("linear"), std::string::npos) << e.what();
  }
}
