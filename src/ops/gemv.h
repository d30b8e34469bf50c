// Decode-sized linear (few rows of x): kernels that stream W once from memory, dequantizing in
// registers, rows of W split across threads. Used by ops::linear for small T.
#pragma once
#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "tunekit/core/parallel.h"
#include "tunekit/tensor.h"

namespace tunekit::ops {

constexpr int kGemvTokens = 8;  // tokens per pass over W; more tokens take further passes

// Rows of W per pass for NT tokens: as many as the 32 vector registers hold accumulators for.
constexpr int gemv_rows_per_pass(int NT) { return NT <= 4 ? 4 : 2; }

// y[T, N] (+)= x[T, K] · W[N, K]ᵀ. Each returns false (and does nothing) when this CPU or W's
// dtype has no streaming kernel in its family.
bool gemv_float(const float* x, int64_t T, const Tensor& W, float* y, bool accumulate);  // f32 f16 bf16 nf4
bool gemv_int8(const float* x, int64_t T, const Tensor& W, float* y, bool accumulate);   // q8_0 q4_0 q4_k q6_k

// Splits the N rows of W across the threads in multiples of `align` rows and calls
// rows(n0, n1, t0, nt) for each thread's rows and each chunk of up to kGemvTokens tokens.
template <class RowsFn>
void gemv_split(int64_t N, int64_t T, int64_t align, int64_t min_rows_per_thread, const RowsFn& rows) {
  const int64_t groups = (N + align - 1) / align;
  parallel_for(
      groups,
      [&](int64_t g0, int64_t g1) {
        const int64_t n0 = g0 * align, n1 = std::min(N, g1 * align);
        for (int64_t t0 = 0; t0 < T; t0 += kGemvTokens) rows(n0, n1, t0, std::min<int64_t>(kGemvTokens, T - t0));
      },
      std::max<int64_t>(1, min_rows_per_thread / align));
}

// Calls fn(std::integral_constant<int, NT>{}) with NT = nt (1 <= nt <= kGemvTokens): the token count
// becomes a compile-time constant so the kernels keep their accumulators in registers.
template <class Fn>
void with_token_count(int64_t nt, const Fn& fn) {
  [&]<int... I>(std::integer_sequence<int, I...>) {
    ((nt == I + 1 ? fn(std::integral_constant<int, I + 1>{}) : void()), ...);
  }(std::make_integer_sequence<int, kGemvTokens>{});
}

}  // namespace tunekit::ops
