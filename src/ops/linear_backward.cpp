// Backward of linear (y[T, N] = x[T, K] · W[N, K]ᵀ): dx = dy · W, dW = dyᵀ · x, dbias = Σ_t dy.
// Each product is one oneDNN sgemm per chunk of the pool (parallel_sgemm, or a split of the reduction
// for a vocabulary-sized N); weights stored in other dtypes are dequantized a panel at a time, never
// as a whole f32 copy.
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
constexpr int64_t kPanelsPerThread = 4;
constexpr int64_t kSplitReduction = 8;  // N ≥ this · max(T, K): split the reduction, not dx
constexpr int64_t kNarrowColumns = 16;  // dW [N, K] with K ≤ this < N: computed as dWᵀ

// dx[T, K] (+)= dy[T, N] · W[N, K] for W in a block-quantized or half dtype: each task dequantizes the
// columns [k0, k1) of W (whole blocks) into a thread-local panel [N, k1 - k0] and multiplies it
// with dy; tasks own disjoint columns of dx.
void backward_input_dequantized(const float* dy, int64_t T, const Tensor& W, float* dx, bool accumulate) {
  const int64_t N = W.dim(0), K = W.dim(1), block = dtype_info(W.dtype).block_size;
  const size_t row_bytes = dtype_bytes(W.dtype, K);
  const DequantizeRow dequantize_row = dequantize_row_fn(W.dtype);
  // Panel width: whole blocks, about kPanelsPerThread panels per thread (so that a late thread's
  // share gets picked up), at least kMinPanelColumns and at most what fits kPanelBytes.
  const int64_t blocks = K / block, target = kPanelsPerThread * threads_here();
  const int64_t fit = std::max(kMinPanelColumns, kPanelBytes / (4 * N)) / block;
  const int64_t width = block * std::max<int64_t>(1, std::min(fit, (blocks + target - 1) / target));
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

// dx[T, K] (+)= dy[T, N] · W[N, K] when the reduction N dwarfs T and K (the output matrix of a
// vocabulary): splitting dx would make every task read all of dy or all of W, so instead each task
// takes a range of W's rows (dequantized a panel at a time when not f32) into its own partial
// [T, K], and the partials are added in order at the end.
void backward_input_split_reduction(const float* dy, int64_t T, const Tensor& W, float* dx, bool accumulate) {
  const int64_t N = W.dim(0), K = W.dim(1), parts = threads_here();
  const size_t row_bytes = dtype_bytes(W.dtype, K);
  const bool f32 = W.dtype == DType::F32;
  const DequantizeRow dequantize_row = f32 ? nullptr : dequantize_row_fn(W.dtype);
  const int64_t panel_rows = std::max<int64_t>(1, kPanelBytes / (4 * K));
  thread_local std::vector<float> partials_buf;  // the caller's; the tasks use the pointer
  partials_buf.resize(size_t(parts * T * K));
  float* partials = partials_buf.data();  // [parts, T, K]
  parallel_for(parts, [&](int64_t p0, int64_t p1) {
    thread_local std::vector<float> panel;  // [panel_rows, K]
    for (int64_t p = p0; p < p1; ++p) {
      float* partial = partials + p * T * K;  // [T, K]
      const int64_t n_begin = N * p / parts, n_end = N * (p + 1) / parts;
      if (n_begin == n_end) std::fill(partial, partial + T * K, 0.0f);
      const int64_t step = f32 ? std::max<int64_t>(1, n_end - n_begin) : panel_rows;  // f32: all rows at once
      for (int64_t n0 = n_begin; n0 < n_end; n0 += step) {
        const int64_t rows = std::min(step, n_end - n0);
        const float* w_rows = static_cast<const float*>(W.data) + n0 * K;  // [rows, K]
        if (!f32) {
          panel.resize(size_t(panel_rows * K));
          for (int64_t r = 0; r < rows; ++r)
            dequantize_row(static_cast<const char*>(W.data) + (n0 + r) * row_bytes, panel.data() + r * K, K);
          w_rows = panel.data();
        }
        sgemm('N', 'N', T, K, rows, 1.0f, dy + n0, N, w_rows, K, n0 == n_begin ? 0.0f : 1.0f, partial, K);
      }
    }
  });
  parallel_for(
      T * K,
      [&](int64_t i0, int64_t i1) {
        for (int64_t p = 0; p < parts; ++p) {
          const float* partial = partials + p * T * K;
          if (p == 0 && !accumulate) {
            std::copy(partial + i0, partial + i1, dx + i0);
          } else {
#pragma omp simd
            for (int64_t i = i0; i < i1; ++i) dx[i] += partial[i];
          }
        }
      },
      1 << 14);
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
  } else if (N >= kSplitReduction * std::max(T, K) && threads_here() > 1) {
    backward_input_split_reduction(dy, T, W, dx, accumulate);
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
  if (K <= kNarrowColumns && K < N) {
    // A narrow dW (LoRA's B, K = r): oneDNN is 2.5-3.5x faster on the wide product
    // dWᵀ[K, N] = x[T, K]ᵀ · dy[T, N] (T = 1024, N = 576 or 1536, K = 8), added back transposed.
    thread_local std::vector<float> transposed_buf;  // the caller's
    transposed_buf.resize(size_t(K * N));
    float* dWt = transposed_buf.data();  // [K, N]
    parallel_sgemm('T', 'N', K, N, T, 1.0f, x, K, dy, N, 0.0f, dWt, N);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < K; ++k) dW[n * K + k] = (accumulate ? dW[n * K + k] : 0.0f) + dWt[k * N + n];
    return;
  }
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
