// Large-T linear: oneDNN's sgemm, directly on f32 weights and on dequantized panels of the others.
#include <oneapi/dnnl/dnnl.h>

#include <algorithm>
#include <vector>

#include "ops/linear_kernels.h"
#include "ops/quant_blocks.h"
#include "tunekit/core/parallel.h"
#include "tunekit/error.h"

namespace tunekit::ops {

namespace {
constexpr int64_t kPanelBytes = 1 << 20;  // a dequantized panel stays in the 2 MiB L2
}

void sgemm_xwt(const float* x, int64_t T, const float* W, int64_t N, int64_t K, float* y, int64_t ldy,
               bool accumulate) {
  num_threads();  // makes sure OpenMP (and so oneDNN) uses our thread count
  dnnl_status_t status = dnnl_sgemm('N', 'T', T, N, K, 1.0f, x, K, W, K, accumulate ? 1.0f : 0.0f, y, ldy);
  check(status == dnnl_success, "linear: dnnl_sgemm failed (status ", int(status), ") for x [", T, ", ", K,
        "] · W [", N, ", ", K, "]ᵀ");
}

void linear_dequantized_panels(const float* x, int64_t T, const Tensor& W, float* y, bool accumulate) {
  const int64_t N = W.dim(0), K = W.dim(1);
  const size_t row_bytes = dtype_bytes(W.dtype, K);
  const DequantizeRow dequantize_row = dequantize_row_fn(W.dtype);
  // Panels of at most kPanelBytes, as many as a multiple of the thread count so all finish together.
  const int64_t threads = num_threads();
  const int64_t panels_per_thread = std::max<int64_t>(1, (N * K * 4 + threads * kPanelBytes - 1) / (threads * kPanelBytes));
  const int64_t panel_rows = (N + threads * panels_per_thread - 1) / (threads * panels_per_thread);
  const int64_t n_panels = (N + panel_rows - 1) / panel_rows;
  parallel_for(n_panels, [&](int64_t begin, int64_t end) {
    thread_local std::vector<float> panel;  // [panel_rows, K]
    panel.resize(size_t(panel_rows * K));
    for (int64_t p = begin; p < end; ++p) {
      const int64_t n0 = p * panel_rows, rows = std::min(panel_rows, N - n0);
      for (int64_t r = 0; r < rows; ++r)
        dequantize_row(static_cast<const char*>(W.data) + (n0 + r) * row_bytes, panel.data() + r * K, K);
      sgemm_xwt(x, T, panel.data(), rows, K, y + n0, N, accumulate);
    }
  });
}

}  // namespace tunekit::ops
