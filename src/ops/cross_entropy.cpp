// Cross-entropy of the output matrix over the vocabulary, a chunk of rows at a time (only rows with a
// target and a non-zero weight take part), so at most [chunk_rows, n_vocab] logits exist at once:
//   logits[R, V] = h[R, C] · W[V, C]ᵀ                  (sgemm, on dequantized panels for other dtypes)
//   loss_t = w_t · (lse_t - logits[t, target_t]),  p = softmax(logits) in place
//   dlogits = grad_scale · w_t · (p - onehot(target_t)) in place
//   dh[R, C] = dlogits · W                             (linear_backward_input)
//   dW[V, C] += dlogitsᵀ · h                           (linear_backward_weight)
#include <cmath>
#include <vector>

#include "ops/linear_kernels.h"
#include "ops/simd_math.h"
#include "tunekit/core/parallel.h"
#include "tunekit/error.h"
#include "tunekit/ops/backward.h"
#include "tunekit/ops/ops.h"

namespace tunekit::ops {

namespace {

// In place on logits[0, V): the row's loss term lse - logits[target] (unweighted), and with
// grad != 0 the row becomes grad · (softmax - onehot(target)).
double softmax_row(float* logits, int64_t V, int32_t target, float grad) {
  const float lse = log_sum_exp(logits, V);
  const double loss = double(lse) - double(logits[target]);
  if (grad != 0.0f) {
    int64_t j = 0;
#ifdef __AVX512F__
    const __m512 vlse = _mm512_set1_ps(lse), vgrad = _mm512_set1_ps(grad);
    for (; j + 16 <= V; j += 16)
      _mm512_storeu_ps(logits + j, _mm512_mul_ps(vgrad, exp512(_mm512_sub_ps(_mm512_loadu_ps(logits + j), vlse))));
#endif
    for (; j < V; ++j) logits[j] = grad * std::exp(logits[j] - lse);
    logits[target] -= grad;
  }
  return loss;
}

// logits[R, V] = h[R, C] · W[V, C]ᵀ in f32 (not ops::linear, whose streaming kernels for few rows
// of an 8-bit W round h to 8 bits as well). For f32 W, tunekit's packed product first: it prefetches
// W, which streams from memory once per chunk (128 rows of SmolLM2's: ~128 against oneDNN's
// ~140 ms per 512 rows on one core).
void logits_gemm(const float* h, int64_t R, const Tensor& W, float* logits) {
  if (W.dtype == DType::F32) {
    const float* w = static_cast<const float*>(W.data);
    if (!linear_lora_fused(h, R, w, W.dim(0), W.dim(1), nullptr, nullptr, 0, logits, false))
      sgemm_xwt(h, R, w, W.dim(0), W.dim(1), logits, W.dim(0), false);
  } else
    linear_dequantized_panels(h, R, W, logits, false);
}

}  // namespace

double cross_entropy_loss(const float* h, const Tensor& W, const int32_t* targets, const float* weights, int64_t T,
                          float grad_scale, float* dh, float* dW, int64_t chunk_rows) {
  check(W.rank() == 2, "cross_entropy_loss: W must be [n_vocab, C], got ", W.shape_str());
  const int64_t V = W.dim(0), C = W.dim(1);
  check(T >= 0 && V > 0 && C > 0 && chunk_rows > 0, "cross_entropy_loss: bad shape h [", T, ", ", C, "], W ",
        W.shape_str(), ", chunk_rows ", chunk_rows);
  check(W.dtype != DType::I32 && C % dtype_info(W.dtype).block_size == 0 && W.data != nullptr,
        "cross_entropy_loss: W ", dtype_name(W.dtype), " ", W.shape_str(),
        " must hold floats in whole blocks along C, and data");
  const bool grad = grad_scale != 0.0f && (dh || dW);
  // The rows that take part, in order.
  thread_local std::vector<int64_t> active;
  active.clear();
  for (int64_t t = 0; t < T; ++t) {
    check(targets[t] < V, "cross_entropy_loss: target ", targets[t], " at row ", t, " is outside the vocabulary of ",
          V, " (W ", W.shape_str(), ")");
    if (targets[t] >= 0 && (!weights || weights[t] != 0.0f)) active.push_back(t);
  }
  if (grad && dh) std::fill(dh, dh + T * C, 0.0f);

  // The caller's buffers (the tasks below use the pointers, not their own thread's).
  thread_local std::vector<float> h_buf, dh_buf, logits_buf;
  thread_local std::vector<double> loss_buf;
  const int64_t R_max = std::min<int64_t>(chunk_rows, int64_t(active.size()));
  h_buf.resize(size_t(R_max * C));
  logits_buf.resize(size_t(R_max * V));
  loss_buf.resize(size_t(R_max));
  if (grad && dh) dh_buf.resize(size_t(R_max * C));
  float *h_rows = h_buf.data(), *dh_rows = dh_buf.data(), *logits = logits_buf.data();  // [R_max, C|C|V]
  double* row_loss = loss_buf.data();                                                  // [R_max]
  double loss = 0;
  for (int64_t c0 = 0; c0 < int64_t(active.size()); c0 += R_max) {
    const int64_t R = std::min<int64_t>(R_max, int64_t(active.size()) - c0);
    const int64_t* rows = active.data() + c0;  // [R] row indices
    for (int64_t r = 0; r < R; ++r) std::copy(h + rows[r] * C, h + (rows[r] + 1) * C, h_rows + r * C);
    logits_gemm(h_rows, R, W, logits);  // [R, V]
    parallel_for(R, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const float w = weights ? weights[rows[r]] : 1.0f;
        row_loss[r] = w * softmax_row(logits + r * V, V, targets[rows[r]], grad ? grad_scale * w : 0.0f);
      }
    });
    for (int64_t r = 0; r < R; ++r) loss += row_loss[r];  // in row order: deterministic
    if (!grad) continue;
    if (dh) {
      linear_backward_input(logits, R, W, dh_rows, false);  // [R, C]
      for (int64_t r = 0; r < R; ++r)
        std::copy(dh_rows + r * C, dh_rows + (r + 1) * C, dh + rows[r] * C);
    }
    if (dW) linear_backward_weight(logits, h_rows, R, V, C, dW, true);  // [V, C]
  }
  return loss;
}

}  // namespace tunekit::ops
