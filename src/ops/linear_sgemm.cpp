// Large-T linear: oneDNN's sgemm or matmul primitive (one thread per call, our pool around it),
// directly on f32 weights and on dequantized panels of the others.
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>

#include <algorithm>
#include <vector>

#include "ops/linear_kernels.h"
#include "ops/onednn_operands.h"
#include "ops/quant_blocks.h"
#include "tunekit/core/parallel.h"
#include "tunekit/error.h"

namespace tunekit::ops {

namespace {
constexpr int64_t kPanelBytes = 1 << 20;  // a dequantized panel stays in the 2 MiB L2
constexpr int64_t kMinColumns = 64;       // columns (or rows) per sgemm call when C is split

constexpr int64_t kMatmulMinRows = 64, kMatmulMaxRows = 512;

// y[M, N] (+)= x[M, K] · W[N, K]ᵀ on the calling thread: one chunk of sgemm_xwt. From 64 to 512 rows
// oneDNN's matmul primitive (brgemm kernels reading W as the transposed [K, N] it is) beat sgemm's
// 'T' path on SmolLM2's shapes (bench_train_ops --threads 1 --T 512, GFLOP/s: forward q/o 252
// against 232, gate/up 251 against 244, down 249 against 220, the vocabulary's logits 221 against
// 208); at 1024 rows sgemm was as fast or faster, and below 64 a new shape's primitive (0.2-0.6 ms
// to make) costs more than it saves.
void xwt_chunk(const float* x, int64_t M, const float* W, int64_t N, int64_t K, float* y, int64_t ldy,
               bool accumulate) {
  if (M >= kMatmulMinRows && M <= kMatmulMaxRows)
    matmul_xwt(x, M, W, N, K, y, ldy, accumulate);
  else
    sgemm('T', M, N, K, 1.0f, x, K, W, K, accumulate ? 1.0f : 0.0f, y, ldy);
}

// The pool's grain for splitting n rows or columns of a product: at least kMinColumns, and at least
// n / (2 · threads), so that 2 threads cut it into 3 chunks (n/2, n/4, n/4) rather than 5 (each chunk
// re-packs the whole operand it does not split: 1-3% more CPU per product at T = 1024 with 5).
int64_t split_grain(int64_t n) { return std::max<int64_t>(kMinColumns, n / (2 * int64_t(threads_here()))); }
}

void single_threaded_onednn() {
  thread_local bool single_threaded = false;  // oneDNN sizes its OpenMP team from this thread's setting
  if (!single_threaded) {
    omp_set_num_threads(1);
    single_threaded = true;
  }
}

void sgemm(char transa, char transb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  single_threaded_onednn();
  expect_operand(A, transa == 'T' ? K : M, transa == 'T' ? M : K, lda, "A");
  expect_operand(B, transb == 'T' ? N : K, transb == 'T' ? K : N, ldb, "B");
  expect_operand(C, M, N, ldc, "C");
  dnnl_status_t status = dnnl_sgemm(transa, transb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  check(status == dnnl_success, "sgemm: oneDNN failed (status ", int(status), ") on op(A) [", M, ", ", K,
        "] x op(B) with N = ", N, ", transa ", transa, ", transb ", transb);
}

void parallel_sgemm(char transa, char transb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                    int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M < N && M < 8 * kMinColumns) {  // columns of C: columns of op(B)
    parallel_for(
        N,
        [&](int64_t n0, int64_t n1) {
          const float* Bn = transb == 'T' ? B + n0 * ldb : B + n0;
          sgemm(transa, transb, M, n1 - n0, K, alpha, A, lda, Bn, ldb, beta, C + n0, ldc);
        },
        split_grain(N));
  } else {  // rows of C: rows of op(A)
    parallel_for(
        M,
        [&](int64_t m0, int64_t m1) {
          const float* Am = transa == 'T' ? A + m0 : A + m0 * lda;
          sgemm(transa, transb, m1 - m0, N, K, alpha, Am, lda, B, ldb, beta, C + m0 * ldc, ldc);
        },
        split_grain(M));
  }
}

void sgemm_xwt(const float* x, int64_t T, const float* W, int64_t N, int64_t K, float* y, int64_t ldy,
               bool accumulate) {
  if (T >= N) {  // rows of y: each chunk packs all of W
    parallel_for(
        T,
        [&](int64_t t0, int64_t t1) {
          xwt_chunk(x + t0 * K, t1 - t0, W, N, K, y + t0 * ldy, ldy, accumulate);
        },
        split_grain(T));
  } else {  // columns of y: each chunk packs all of x
    parallel_for(
        N,
        [&](int64_t n0, int64_t n1) { xwt_chunk(x, T, W + n0 * K, n1 - n0, K, y + n0, ldy, accumulate); },
        split_grain(N));
  }
}

void linear_dequantized_panels(const float* x, int64_t T, const Tensor& W, float* y, bool accumulate) {
  const int64_t N = W.dim(0), K = W.dim(1);
  const size_t row_bytes = dtype_bytes(W.dtype, K);
  const DequantizeRow dequantize_row = dequantize_row_fn(W.dtype);
  // Panels of at most kPanelBytes, as many as a multiple of the thread count so all finish together.
  const int64_t threads = threads_here();
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
      sgemm('T', T, rows, K, 1.0f, x, K, panel.data(), K, accumulate ? 1.0f : 0.0f, y + n0, N);
    }
  });
}

}  // namespace tunekit::ops
