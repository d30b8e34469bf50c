// ops::linear: checks shapes and dispatches on the weight dtype and the number of rows.
#include <algorithm>

#include "ops/gemv.h"
#include "ops/linear_kernels.h"
#include "tunekit/error.h"
#include "tunekit/ops/ops.h"

namespace tunekit::ops {

namespace {
// Up to this many rows of x, the streaming kernels (one pass over W per kGemvTokens rows) beat
// sgemm on W or on dequantized panels of it (bench_kernels gemv_vs_gemm, docs/kernels.md): on an
// L2-resident 1536x576 the two are even at ~24 rows for f32 on two threads (~128 on one), ~64 for
// f16/bf16/q8_0/q4_0, ~128 for q4_k, ~16 for q6_k; streaming wins further when W comes from memory.
int64_t max_streaming_rows(DType dtype) {
  switch (dtype) {
    case DType::Q6_K: return 16;
    default: return 32;
  }
}

// y[T, N] (+)= x[T, K] · W[N, K]ᵀ with the fastest kernel for W's dtype and T.
void multiply(const float* x, int64_t T, const Tensor& W, float* y, bool accumulate) {
  if (T <= max_streaming_rows(W.dtype) && (gemv_float(x, T, W, y, accumulate) || gemv_int8(x, T, W, y, accumulate)))
    return;
  if (W.dtype == DType::F32)
    sgemm_xwt(x, T, static_cast<const float*>(W.data), W.dim(0), W.dim(1), y, W.dim(0), accumulate);
  else
    linear_dequantized_panels(x, T, W, y, accumulate);
}
}  // namespace

void linear(const float* x, int64_t T, const Tensor& W, const float* bias, float* y, bool accumulate) {
  check(W.rank() == 2, "linear: W must be [N, K], got ", dtype_name(W.dtype), " ", W.shape_str());
  const int64_t N = W.dim(0), K = W.dim(1);
  check(T >= 0, "linear: negative row count T = ", T, " for W ", W.shape_str());
  check(W.dtype != DType::I32, "linear: W ", W.shape_str(), " holds i32, not a float storage type");
  check(K % dtype_info(W.dtype).block_size == 0, "linear: W ", dtype_name(W.dtype), " ", W.shape_str(),
        ": K is not a multiple of the block size ", dtype_info(W.dtype).block_size);
  check(W.data != nullptr || N * K == 0, "linear: W ", W.shape_str(), " has no data");
  if (T == 0 || N == 0) return;
  check(x != nullptr && y != nullptr, "linear: null input or output for x [", T, ", ", K, "] · W ", W.shape_str());
  if (K == 0) {
    if (!accumulate) std::fill(y, y + T * N, 0.0f);
  } else {
    multiply(x, T, W, y, accumulate);
  }
  if (bias)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t n = 0; n < N; ++n) y[t * N + n] += bias[n];
}

}  // namespace tunekit::ops
