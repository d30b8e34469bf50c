// Cross-entropy of the output matrix over the vocabulary, a chunk of rows at a time (only rows with a
// target and a non-zero weight take part). Two ways, the same sums:
// * Online (dW not wanted: a frozen head, as in LoRA), flash-attention style: W's rows are taken a
//   block of kVocabBlock at a time, each block read twice while it is in cache, never all logits:
//     S[R, nb] = h[R, C] · W_blockᵀ                     (tunekit's packed product, or sgemm)
//     m' = max(m, max_j S), sum = sum · e^(m - m') + Σ_j e^(S - m'), acc = acc · e^(m - m')
//     acc[R, C] += e^(S - m') · W_block                    (sgemm)
//   then lse = m + log sum, loss_t = w_t · (lse_t - logits[t, target_t]) and
//   dh_t = grad_scale · w_t · (acc_t / sum_t - W[target_t]), which is dlogits · W. W streams from
//   memory once per chunk instead of twice, and the logits never do (SmolLM2's head at 256 rows per
//   chunk on one core: ~230 against ~253 ms per 512 rows the other way, at 128).
// * Materialized (dW wanted), at most [chunk_rows, n_vocab] logits at once:
//     logits[R, V] = h[R, C] · W[V, C]ᵀ                  (as above, on all of W)
//     loss_t = w_t · (lse_t - logits[t, target_t]),  p = softmax(logits) in place
//     dlogits = grad_scale · w_t · (p - onehot(target_t)) in place
//     dh[R, C] = dlogits · W                             (linear_backward_input)
//     dW[V, C] += dlogitsᵀ · h                           (linear_backward_weight)
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

// S[R, N] = h[R, C] · w[N, C]ᵀ for f32 rows of W: tunekit's packed product first, which prefetches
// W as it streams from memory (128 rows of SmolLM2's head: ~128 against oneDNN's ~140 ms per 512
// rows on one core), else oneDNN's.
void f32_logits(const float* h, int64_t R, const float* w, int64_t N, int64_t C, float* S) {
  if (!linear_lora_fused(h, R, w, N, C, nullptr, nullptr, 0, S, false)) sgemm_xwt(h, R, w, N, C, S, N, false);
}

// logits[R, V] = h[R, C] · W[V, C]ᵀ in f32 (not ops::linear, whose streaming kernels for few rows
// of an 8-bit W round h to 8 bits as well).
void logits_gemm(const float* h, int64_t R, const Tensor& W, float* logits) {
  if (W.dtype == DType::F32)
    f32_logits(h, R, static_cast<const float*>(W.data), W.dim(0), W.dim(1), logits);
  else
    linear_dequantized_panels(h, R, W, logits, false);
}

constexpr int64_t kVocabBlock = 1024;  // W's rows per online block: 1024 ran ~2% faster than 512 at 256 rows

// W's rows [v0, v0 + n) as f32 [n, C]: in place for f32 W, else dequantized into buffer.
const float* f32_rows(const Tensor& W, int64_t v0, int64_t n, std::vector<float>& buffer) {
  const int64_t C = W.dim(1);
  if (W.dtype == DType::F32) return static_cast<const float*>(W.data) + v0 * C;
  buffer.resize(size_t(n * C));
  dequantize(static_cast<const uint8_t*>(W.data) + dtype_bytes(W.dtype, v0 * C), W.dtype, n * C, buffer.data());
  return buffer.data();
}

// The online way for R rows h_rows[R, C] with their targets: row_loss[r] = lse - logits[target]
// (unweighted); with grad_rows (grad_rows[r] = grad_scale · w_r) dh_rows[R, C] = grad_rows[r] ·
// ∂(row r's loss)/∂h. On the calling thread.
void online_chunk(const float* h_rows, int64_t R, const Tensor& W, const int32_t* row_targets, const float* grad_rows,
                  float* dh_rows, double* row_loss) {
  thread_local std::vector<float> s_buf, acc_buf, w_buf, max_buf, sum_buf, target_buf;
  const int64_t V = W.dim(0), C = W.dim(1);
  s_buf.resize(size_t(R * std::min(V, kVocabBlock)));
  max_buf.assign(size_t(R), -INFINITY);
  sum_buf.assign(size_t(R), 0.0f);
  target_buf.resize(size_t(R));
  if (grad_rows) acc_buf.assign(size_t(R * C), 0.0f);
  float *S = s_buf.data(), *acc = acc_buf.data();                                       // [R, nb], [R, C]
  float *row_max = max_buf.data(), *row_sum = sum_buf.data(), *target_logit = target_buf.data();  // [R]
  for (int64_t v0 = 0; v0 < V; v0 += kVocabBlock) {
    const int64_t nb = std::min(kVocabBlock, V - v0);
    const float* w = f32_rows(W, v0, nb, w_buf);  // [nb, C]
    f32_logits(h_rows, R, w, nb, C, S);           // S [R, nb]
    for (int64_t r = 0; r < R; ++r) {
      float* s = S + r * nb;
      const int64_t target = row_targets[r] - v0;
      if (target >= 0 && target < nb) target_logit[r] = s[target];
      const float max = std::max(row_max[r], max_of(s, nb));
      const float rescale = std::exp(row_max[r] - max);  // 0 for the first block
      row_sum[r] = row_sum[r] * rescale + exp_shifted_sum(s, nb, max);
      row_max[r] = max;
      if (grad_rows && rescale != 1.0f)
        for (int64_t c = 0; c < C; ++c) acc[r * C + c] *= rescale;
    }
    if (grad_rows) sgemm('N', 'N', R, C, nb, 1.0f, S, nb, w, C, 1.0f, acc, C);  // acc += e^(S - m) · W_block
  }
  for (int64_t r = 0; r < R; ++r) {
    row_loss[r] = double(row_max[r]) + std::log(double(row_sum[r])) - double(target_logit[r]);
    if (!grad_rows) continue;
    const float* w_target = f32_rows(W, row_targets[r], 1, w_buf);
    const float a = grad_rows[r] / row_sum[r], b = grad_rows[r];
    for (int64_t c = 0; c < C; ++c) dh_rows[r * C + c] = a * acc[r * C + c] - b * w_target[c];
  }
}

// The online way over the rows `active` of h, chunk_rows at a time, chunks split over the pool;
// grad_scale 0: loss only. dh's rows that take part are written (the caller zeroed the others).
double online_loss(const float* h, const Tensor& W, const int32_t* targets, const float* weights,
                   const std::vector<int64_t>& active, float grad_scale, float* dh, int64_t chunk_rows) {
  const int64_t n = int64_t(active.size()), C = W.dim(1);
  // The caller's buffers (the tasks below use the pointers, not their own thread's).
  thread_local std::vector<float> h_buf, dh_buf, grad_buf;
  thread_local std::vector<int32_t> target_buf;
  thread_local std::vector<double> loss_buf;
  h_buf.resize(size_t(n * C));
  target_buf.resize(size_t(n));
  loss_buf.resize(size_t(n));
  if (grad_scale != 0.0f) {
    dh_buf.resize(size_t(n * C));
    grad_buf.resize(size_t(n));
  }
  float *h_rows = h_buf.data(), *dh_rows = dh_buf.data(), *grad_rows = grad_buf.data();  // [n, C], [n, C], [n]
  int32_t* row_targets = target_buf.data();                                             // [n]
  double* row_loss = loss_buf.data();                                                   // [n]
  for (int64_t i = 0; i < n; ++i) {
    const int64_t t = active[size_t(i)];
    std::copy(h + t * C, h + (t + 1) * C, h_rows + i * C);
    row_targets[i] = targets[t];
    if (grad_scale != 0.0f) grad_rows[i] = grad_scale * (weights ? weights[t] : 1.0f);
  }
  parallel_for(
      (n + chunk_rows - 1) / chunk_rows,
      [&](int64_t begin, int64_t end) {
        for (int64_t chunk = begin; chunk < end; ++chunk) {
          const int64_t i = chunk * chunk_rows, R = std::min(chunk_rows, n - i);
          online_chunk(h_rows + i * C, R, W, row_targets + i, grad_scale != 0.0f ? grad_rows + i : nullptr,
                       dh_rows + i * C, row_loss + i);
        }
      },
      1);
  double loss = 0;
  for (int64_t i = 0; i < n; ++i) {  // in row order: deterministic
    const int64_t t = active[size_t(i)];
    loss += (weights ? weights[t] : 1.0f) * row_loss[i];
    if (grad_scale != 0.0f) std::copy(dh_rows + i * C, dh_rows + (i + 1) * C, dh + t * C);
  }
  return loss;
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
  if (!grad || !dW) return online_loss(h, W, targets, weights, active, grad ? grad_scale : 0.0f, dh, chunk_rows);

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
