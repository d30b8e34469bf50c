// Backward of linear (y[T, N] = x[T, K] · W[N, K]ᵀ): dx = dy · W, dW = dyᵀ · x, dbias = Σ_t dy.
// Each product is one oneDNN sgemm per chunk of the pool (parallel_sgemm); weights stored in other
// dtypes are dequantized a panel of columns at a time, never as a whole f32 copy.
#include <algorithm>
#include <vector>

#include "ops/linear_kernels.h"
#include "ops/quant_blocks.h"
#include "tunekit/core/parallel.h"
#include "tunekit/error.h"
#include "tunekit/ops/backward.h"

namespace tunekit::ops {

namespace {

constexpr int64_t kPanelBytes = 1 << 20;  // a dequantized panel stays in the 2 MiB L2
constexpr int64_t kMinPanelColumns = 64;

// dx[T, K] (+)= dy[T, N] · W[N, K] for W in a block-quantized or half dtype: each task dequantizes the
// columns [k0, k1) of W (whole blocks) into a thread-local panel [N, k1 - k0] and multiplies it
// with dy; tasks own disjoint columns of dx.
void backward_input_dequantized(const float* dy, int64_t T, const Tensor& W, float* dx, bool accumulate) {
  const int64_t N = W.dim(0), K = W.dim(1), block = dtype_info(W.dtype).block_size;
  const size_t row_bytes = dtype_bytes(W.dtype, K);
  const DequantizeRow dequantize_row = dequantize_row_fn(W.dtype);
  // Panel width: whole blocks, at least kMinPanelColumns, at most what fits kPanelBytes, and no
  // wider than gives every thread a share.
  const int64_t fit = std::max(kMinPanelColumns, kPanelBytes / (4 * N));
  const int64_t share = (K + num_threads() - 1) / num_threads();
  const int64_t width = std::max(block, std::min(fit, share) / block * block);
  const int64_t n_panels = (K + width - 1) / width;
  parallel_for(n_panels, [&](int64_t begin, int64_t end) {
    thread_local std::vector<float> panel;  // [N, width]
    panel.resize(size_t(N * width));
    for (int64_t p = begin; p < end; ++p) {
      const int64_t k0 = p * width, cols = std::min(width, K - k0);
      const size_t offset = dtype_bytes(W.dtype, k0);  // k0 is a whole number of blocks
      for (int64_t n = 0; n < N; ++n)
        dequantize_row(static_cast<const char*>(W.data) + n * row_bytes + offset, panel.data() + n * cols, cols);
      sgemm('N', 'N', T, cols, N, 1.0f, dy, N, panel.data(), cols, accumulate ? 1.0f : 0.0f, dx + k0, K);
    }
  });
}

}  // namespace

void linear_backward_input(const float* dy, int64_t T, const Tensor& W, float* dx, bool accumulate) {
  check(W.rank() == 2, "linear_backward_input: W must be [N, K], got ", dtype_name(W.dtype), " ", W.shape_str());
  const int64_t N = W.dim(0), K = W.dim(1);
  check(T >= 0, "linear_backward_input: negative row count T = ", T, " for W ", W.shape_str());
  check(W.dtype != DType::I32, "linear_backward_input: W ", W.shape_str(), " holds i32, not a float storage type");
  check(K % dtype_info(W.dtype).block_size == 0, "linear_backward_input: W ", dtype_name(W.dtype), " ",
        W.shape_str(), ": K is not a multiple of the block size ", dtype_info(W.dtype).block_size);
  check(W.data != nullptr || N * K == 0, "linear_backward_input: W ", W.shape_str(), " has no data");
  if (T == 0 || K == 0) return;
  check(dx != nullptr && (dy != nullptr || N == 0), "linear_backward_input: null dy or dx for dy [", T, ", ", N,
        "] · W ", W.shape_str());
  if (N == 0) {
    if (!accumulate) std::fill(dx, dx + T * K, 0.0f);
  } else if (W.dtype == DType::F32) {
    parallel_sgemm('N', 'N', T, K, N, 1.0f, dy, N, static_cast<const float*>(W.data), K, accumulate ? 1.0f : 0.0f,
                   dx, K);
  } else {
    backward_input_dequantized(dy, T, W, dx, accumulate);
  }
}

void linear_backward_weight(const float* dy, const float* x, int64_t T, int64_t N, int64_t K, float* dW,
                            bool accumulate) {
  check(T >= 0 && N >= 0 && K >= 0, "linear_backward_weight: bad shape dy [", T, ", ", N, "], x [", T, ", ", K, "]");
  if (N == 0 || K == 0) return;
  check(dW != nullptr, "linear_backward_weight: null dW [", N, ", ", K, "]");
  if (T == 0) {
    if (!accumulate) std::fill(dW, dW + N * K, 0.0f);
    return;
  }
  check(dy != nullptr && x != nullptr, "linear_backward_weight: null dy or x for dW [", N, ", ", K, "]");
  // dW[N, K] = dy[T, N]ᵀ · x[T, K]
  parallel_sgemm('T', 'N', N, K, T, 1.0f, dy, N, x, K, accumulate ? 1.0f : 0.0f, dW, K);
}

void bias_backward(const float* dy, int64_t T, int64_t N, float* dbias) {
  check(T >= 0 && N >= 0, "bias_backward: bad shape dy [", T, ", ", N, "]");
  parallel_for(
      N,
      [&](int64_t n0, int64_t n1) {
        for (int64_t t = 0; t < T; ++t)
          for (int64_t n = n0; n < n1; ++n) dbias[n] += dy[t * N + n];
      },
      256);
}

}  // namespace tunekit::ops
