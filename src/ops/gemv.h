// Decode-sized linear (few rows of x): kernels that stream W once from memory, dequantizing in
// registers. A kernel computes a range of W's rows; linear_stream.cpp splits the rows of one or
// several weights (q, k and v; gate and up) over the threads as one parallel section.
#pragma once
#include <cstdint>
#include <span>
#include <type_traits>
#include <utility>

#include "tunekit/ops/ops.h"
#include "tunekit/tensor.h"

namespace tunekit::ops {

constexpr int kGemvTokens = 8;  // tokens per pass over W; more tokens take further passes

// Rows of W per pass for NT tokens: as many as the 32 vector registers hold accumulators for.
constexpr int gemv_rows_per_pass(int NT) { return NT <= 4 ? 4 : 2; }

// x[T, K] quantized to int8 per 32 values (d = amax/127, like Q8_0) for the integer kernels; every
// array is row-major over t. Offset-coded weights (q - offset) start their dot products at
// -offset · Σq per 4 values.
struct QuantizedX {
  int64_t K = 0;
  const int8_t* q = nullptr;               // [T, K]
  const uint8_t* q_plus_128 = nullptr;     // [T, K] q + 128, for dot products with signed weights
  const float* d = nullptr;                // [T, K/32] scale of each 32 values
  const float* d_pairs = nullptr;          // [T, pairs(K), 16]: d of blocks 2i and 2i + 1, 8 lanes each
  const float* sum = nullptr;              // [T, K/32] exact Σ x of each 32 values
  const int32_t* minus_8_sum4 = nullptr;   // [T, K/4] -8 · Σ q of each 4 values (Q4_0)
  const int32_t* minus_32_sum4 = nullptr;  // [T, K/4] -32 · Σ q of each 4 values (Q6_K)
  static int64_t pairs(int64_t K) { return (K / 32 + 1) / 2; }
  QuantizedX from_token(int64_t t) const {  // the same view of tokens t, t + 1, ...
    QuantizedX v = *this;
    v.q += t * K, v.q_plus_128 += t * K, v.d += t * K / 32, v.d_pairs += t * pairs(K) * 16, v.sum += t * K / 32;
    v.minus_8_sum4 += t * K / 4, v.minus_32_sum4 += t * K / 4;
    return v;
  }
};
// What the kernels read: x itself, and its quantization where some kernel needs it.
struct GemvX {
  const float* x = nullptr;  // [T, K]
  int64_t T = 0, K = 0;
  QuantizedX q;
};

// Rows [n0, n1) of y[T, N] (+)= x[T, K] · W[N, K]ᵀ for every token (in passes of kGemvTokens);
// N = W.dim(0) is y's row stride.
using GemvRows = void (*)(const GemvX& x, const Tensor& W, int64_t n0, int64_t n1, float* y, bool accumulate);
// Quantizes x[T, K] (K a multiple of 32) into buffers of the calling thread, valid until its next
// call; the kernels may read one 32-value block past the end.
using QuantizeX = QuantizedX (*)(const float* x, int64_t T, int64_t K);
struct GemvKernel {
  GemvRows rows = nullptr;         // null: no streaming kernel for this dtype on this CPU
  QuantizeX quantize_x = nullptr;  // set for kernels that read x.q
};
GemvKernel gemv_float_kernel(DType dtype);  // f32 f16 bf16 nf4 (AVX-512)
GemvKernel gemv_int8_kernel(DType dtype);   // q8_0 q4_0 q4_k q6_k (AVX512-VNNI)
inline GemvKernel gemv_kernel(DType dtype) {
  const GemvKernel k = gemv_float_kernel(dtype);
  return k.rows ? k : gemv_int8_kernel(dtype);
}

// The outputs of one x[T, K] (checked by the caller) as one parallel section over all their rows:
// each output's main product, bias and low-rank term row by row; with swiglu (outputs = {gate, up})
// the gate and up rows of a range together, then gate.y = silu(gate.y) · up.y on that range.
// Returns false, having done nothing, when some weight has no streaming kernel.
bool linear_streaming(const float* x, int64_t T, std::span<const LinearOutput> outputs, bool swiglu);

// y[T, N] (+)= x[T, K] · W[N, K]ᵀ on the pool with W's streaming kernel of the named family; false
// (nothing done) when W's dtype is not in it or this CPU lacks the instructions (bench_kernels).
bool gemv_float(const float* x, int64_t T, const Tensor& W, float* y, bool accumulate);
bool gemv_int8(const float* x, int64_t T, const Tensor& W, float* y, bool accumulate);

// Calls fn(std::integral_constant<int, NT>{}) with NT = nt (1 <= nt <= kGemvTokens): the token count
// becomes a compile-time constant so the kernels keep their accumulators in registers.
template <class Fn>
void with_token_count(int64_t nt, const Fn& fn) {
  [&]<int... I>(std::integer_sequence<int, I...>) {
    ((nt == I + 1 ? fn(std::integral_constant<int, I + 1>{}) : void()), ...);
  }(std::make_integer_sequence<int, kGemvTokens>{});
}

}  // namespace tunekit::ops
