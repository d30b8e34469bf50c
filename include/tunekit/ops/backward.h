// CPU kernels for training: forward variants that keep what backward needs, and the backward of
// every op the Llama family uses. f32 throughout; raw pointers for activations, Tensor for weights.
// Convention: a gradient output named d* is ACCUMULATED (+=) when the argument says "+=", else
// written. Each kernel is finite-difference checked in double (tests/ops/*_backward_test.cpp).
#pragma once
#include <cstdint>

#include "tunekit/tensor.h"

namespace tunekit::ops {

// ---- linear: y[T, N] = x[T, K] · W[N, K]ᵀ -------------------------------------------------------
// dx[T, K] (+= when accumulate) = dy[T, N] · W[N, K]; W in any storage dtype (dequantized panels).
void linear_backward_input(const float* dy, int64_t T, const Tensor& W, float* dx, bool accumulate);
// dW[N, K] (+= when accumulate) = dy[T, N]ᵀ · x[T, K].
void linear_backward_weight(const float* dy, const float* x, int64_t T, int64_t N, int64_t K, float* dW,
                            bool accumulate);
// dbias[N] += Σ_t dy[t, :].
void bias_backward(const float* dy, int64_t T, int64_t N, float* dbias);

// ---- RMSNorm: y = x · rstd · w, rstd = 1 / sqrt(mean(x²) + eps) --------------------------------
// As ops::rmsnorm, and also stores rstd[T].
void rmsnorm_forward_train(const float* x, const float* w, float* y, float* rstd, int64_t T, int64_t C, float eps);
// dx[T, C] += ∂/∂x; dw[C] += ∂/∂w (dw may be null: frozen weight).
void rmsnorm_backward(const float* dy, const float* x, const float* w, const float* rstd, float* dx, float* dw,
                      int64_t T, int64_t C);

// ---- RoPE (rotate-half) -------------------------------------------------------------------------
// In place on dx[T, n_head, d_head]: the transpose of ops::rope (a rotation by -angle).
void rope_backward(float* dx, int64_t T, int64_t n_head, int64_t d_head, const int32_t* positions,
                   const float* inv_freq);

// ---- attention over packed rows -----------------------------------------------------------------
// q[T, n_head, d_head], k/v[T, n_head_kv, d_head] for T tokens laid out as packed samples: token t
// attends to tokens s with seg_start[t] <= s <= t (and s > t - window when window > 0), where
// seg_start[t] is the flat index of the first token of t's sample (so nothing crosses a sample or
// row boundary). Scale 1/sqrt(d_head). Writes out[T, n_head, d_head] and lse[T, n_head] (the
// log-sum-exp of the scaled scores, for backward). Throws unless every seg_start[t] is t or
// seg_start[t - 1] (samples are contiguous runs of tokens).
void attention_train_forward(const float* q, const float* k, const float* v, const int32_t* seg_start, float* out,
                             float* lse, int64_t T, int64_t n_head, int64_t n_head_kv, int64_t d_head,
                             int64_t window = 0);
// Writes dq[T, n_head, d_head], dk/dv[T, n_head_kv, d_head] (GQA: summed over the heads sharing
// a kv head) from dout[T, n_head, d_head] and the forward's q, k, v, out, lse.
void attention_train_backward(const float* dout, const float* q, const float* k, const float* v, const float* out,
                              const float* lse, const int32_t* seg_start, float* dq, float* dk, float* dv, int64_t T,
                              int64_t n_head, int64_t n_head_kv, int64_t d_head, int64_t window = 0);

// ---- SwiGLU: out = silu(gate) * up --------------------------------------------------------------
// Writes dgate[n], dup[n] (dgate may alias dout), and with out given, the forward's out[n] too, bit for
// bit what swiglu writes (one pass over gate and up where backward needs both).
void swiglu_backward(const float* dout, const float* gate, const float* up, float* dgate, float* dup, int64_t n,
                     float* out = nullptr);

// ---- a LoRA's B side ------------------------------------------------------------------------------
// du[T, r] = scale · dy[T, N] · B[N, r] and dB[N, r] += dyᵀ · u[T, r] (B f32). For r 4, 8 or 16 and
// N a multiple of 16 (AVX-512 builds) in one pass over dy (lora_products.cpp), with the same results
// whatever the thread count; else as two products.
void lora_b_backward(const float* dy, int64_t T, const Tensor& B, const float* u, float scale, float* du, float* dB);

// ---- embedding ----------------------------------------------------------------------------------
// dtable[n_vocab, C] += dx[T, C] scattered to rows tokens[t].
void embedding_backward(const float* dx, const int32_t* tokens, int64_t T, int64_t C, float* dtable);

// ---- cross-entropy over the vocabulary, chunked -------------------------------------------------
// For the final hidden states h[T, C] (after the last norm) and the output matrix W[n_vocab, C]:
// loss = Σ_t weights[t] · (logsumexp(logits_t) - logits_t[targets[t]]), logits_t = W · h_t,
// computed over chunks of chunk_rows rows; each chunk streams all of W, so larger chunks are faster.
// Without dW (a frozen output matrix, or the loss alone) the logits of a chunk are taken a block of
// the vocabulary at a time and never all held (chunk_rows · 1024 floats per thread); with dW at most
// [chunk_rows, n_vocab] logits exist at a time (96 MiB at the default for SmolLM2's vocabulary).
// Rows with targets[t] < 0 or weights[t] == 0 contribute nothing. With grad_scale != 0 it also
// writes dh[T, C] = grad_scale · ∂loss/∂h and adds grad_scale · ∂loss/∂W into dW (dW may be null:
// frozen output matrix). weights may be null (every row weighs 1). Returns the weighted loss sum
// (double). Throws on a target ≥ n_vocab.
double cross_entropy_loss(const float* h, const Tensor& W, const int32_t* targets, const float* weights, int64_t T,
                          float grad_scale, float* dh, float* dW, int64_t chunk_rows = 512);

}  // namespace tunekit::ops
