// A LoRA's rank-r products (lora_project, lora_b_backward) against double-precision references: the
// rank kernels (r 4, 8, 16 with the wide dimension a multiple of 16) over partial row blocks, several
// tasks and column blocks (on 1 and 2 threads, bit for bit the same), and the fallbacks elsewhere.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>

#include "ops/ops_test_util.h"
#include "tunekit/core/parallel.h"
#include "tunekit/error.h"
#include "tunekit/ops/backward.h"
#include "tunekit/ops/ops.h"

using namespace tunekit;

namespace {

Tensor f32_tensor(const std::vector<float>& values, int64_t rows, int64_t cols) {
  Tensor t = Tensor::zeros(DType::F32, {rows, cols});
  std::memcpy(t.data, values.data(), values.size() * sizeof(float));
  return t;
}

// got[i·cols + j] against scale · (start(i, j) + Σ_k term(i, j, k)) in double, within f32 rounding of
// the terms (1e-6 of the sum of their magnitudes, plus 1e-7).
template <class Start, class Term>
void expect_sums(const std::vector<float>& got, int64_t rows, int64_t cols, int64_t inner, double scale, Start start,
                 Term term, const std::string& name) {
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) {
      double want = start(i, j), magnitude = std::fabs(want);
      for (int64_t k = 0; k < inner; ++k) {
        const double t = term(i, j, k);
        want += t;
        magnitude += std::fabs(t);
      }
      ASSERT_NEAR(got[size_t(i * cols + j)], scale * want, scale * (1e-6 * magnitude + 1e-7))
          << name << "[" << i << ", " << j << "]";
    }
}

double zero(int64_t, int64_t) { return 0.0; }

}  // namespace

TEST(LoraProducts, ProjectMatchesTheReference) {
  for (int64_t r : {3, 4, 8, 16})
    for (int64_t T : {1, 2, 7, 64, 65, 130})
      for (int64_t K : {16, 40, 576}) {
        SCOPED_TRACE("r=" + std::to_string(r) + " T=" + std::to_string(T) + " K=" + std::to_string(K));
        const auto x = test::random_normal(size_t(T * K), uint32_t(T + K));
        const auto a = test::random_normal(size_t(r * K), uint32_t(r), 0.05f);
        const Tensor A = f32_tensor(a, r, K);
        std::vector<float> by_threads[2];
        for (int threads : {1, 2}) {
          set_num_threads(threads);
          std::vector<float>& u = by_threads[threads - 1];
          u.assign(size_t(T * r), NAN);
          ops::lora_project(x.data(), T, A, u.data());
        }
        set_num_threads(0);
        if (r != 3 && K % 16 == 0) {
          EXPECT_EQ(by_threads[0], by_threads[1]) << "rank kernel: 1 and 2 threads differ";
        }
        expect_sums(by_threads[0], T, r, K, 1.0, zero,
                    [&](int64_t t, int64_t j, int64_t k) { return double(x[size_t(t * K + k)]) * a[size_t(j * K + k)]; },
                    "u");
      }
}

TEST(LoraProducts, BBackwardMatchesTheReference) {
  const float scale = 0.7f;
  for (int64_t r : {2, 4, 8, 16})
    for (int64_t T : {1, 9, 17})
      for (int64_t N : {16, 20, 272, 576}) {
        SCOPED_TRACE("r=" + std::to_string(r) + " T=" + std::to_string(T) + " N=" + std::to_string(N));
        const auto dy = test::random_normal(size_t(T * N), uint32_t(T * N));
        const auto b = test::random_normal(size_t(N * r), uint32_t(N + r), 0.05f);
        const auto u = test::random_normal(size_t(T * r), uint32_t(T + r));
        const auto dB0 = test::random_normal(size_t(N * r), 7, 0.01f);
        const Tensor B = f32_tensor(b, N, r);
        std::vector<float> du[2], dB[2];
        for (int threads : {1, 2}) {
          set_num_threads(threads);
          du[threads - 1].assign(size_t(T * r), NAN);
          dB[threads - 1] = dB0;
          ops::lora_b_backward(dy.data(), T, B, u.data(), scale, du[threads - 1].data(), dB[threads - 1].data());
        }
        set_num_threads(0);
        if (r != 2 && N % 16 == 0) {
          EXPECT_EQ(du[0], du[1]) << "rank kernel, du: 1 and 2 threads differ";
          EXPECT_EQ(dB[0], dB[1]) << "rank kernel, dB: 1 and 2 threads differ";
        }
        expect_sums(du[0], T, r, N, scale, zero,
                    [&](int64_t t, int64_t j, int64_t n) { return double(dy[size_t(t * N + n)]) * b[size_t(n * r + j)]; },
                    "du");
        expect_sums(
            dB[0], N, r, T, 1.0, [&](int64_t n, int64_t j) { return double(dB0[size_t(n * r + j)]); },
            [&](int64_t n, int64_t j, int64_t t) { return double(dy[size_t(t * N + n)]) * u[size_t(t * r + j)]; }, "dB");
      }
}

TEST(LoraProducts, RejectsAQuantizedOrMisshapenFactor) {
  const Tensor q8 = Tensor::zeros(DType::Q8_0, {8, 64});
  std::vector<float> x(64), u(8), dB(64 * 8);
  EXPECT_THROW(ops::lora_project(x.data(), 1, q8, u.data()), Error);
  const Tensor three_d = Tensor::zeros(DType::F32, {2, 8, 8});
  EXPECT_THROW(ops::lora_b_backward(x.data(), 1, three_d, u.data(), 1.0f, u.data(), dB.data()), Error);
}
