// CPU kernels for inference (f32 compute). Raw pointers for activations, Tensor for weights so a
// kernel can dispatch on the weight's storage dtype. Shapes are written beside each argument.
// Every kernel has a slow scalar reference (tunekit/ops/reference.h) that the tests compare against.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "tunekit/tensor.h"

namespace tunekit::ops {

// y[T, N] = x[T, K] · W[N, K]ᵀ (+ bias[N]); W in any storage dtype (f32, f16, bf16, q8_0, q4_0,
// q4_k, q6_k, nf4), dequantized on the fly. accumulate: y += x·Wᵀ instead of y = x·Wᵀ.
// Throws Error naming the shapes when they do not fit.
void linear(const float* x, int64_t T, const Tensor& W, const float* bias, float* y, bool accumulate = false);

// u[T, r] = x[T, K] · A[r, K]ᵀ for a LoRA's A (f32): for r 4, 8 or 16 and K a multiple of 16
// (AVX-512 builds) by a rank kernel that reads each row of x once (lora_products.cpp), else linear().
void lora_project(const float* x, int64_t T, const Tensor& A, float* u);

// One output of linear_multi / linear_swiglu: y[T, N] (+)= x · Wᵀ + bias + u · Bᵀ, where the
// optional low-rank term is a LoRA's second factor (u = scale · x·Aᵀ, computed beforehand).
struct LinearOutput {
  const Tensor* W = nullptr;    // [N, K], any storage dtype
  float* y = nullptr;           // [T, N]
  bool accumulate = false;      // y += instead of y =
  const float* bias = nullptr;  // [N] or null
  const float* u = nullptr;     // [T, r] or null
  const Tensor* B = nullptr;    // [N, r] f32, with u
};
// Every output of the same x[T, K] (q, k and v of one block): for few rows of x, one parallel
// section that quantizes x once and splits the rows of all the weights over the threads as one range.
void linear_multi(const float* x, int64_t T, std::span<const LinearOutput> outputs);
// gate.y = silu(x·W_gateᵀ + …) · (x·W_upᵀ + …) [T, N]; up.y receives the up projection. For few rows
// of x, one parallel section: each thread computes gate and up of its rows and applies swiglu to them.
void linear_swiglu(const float* x, int64_t T, const LinearOutput& gate, const LinearOutput& up);

// y[T, C] = x / rms(x) * w (y may alias x).
void rmsnorm(const float* x, const float* w, float* y, int64_t T, int64_t C, float eps);

// RoPE frequencies as Hugging Face computes them (rope_type default, linear, llama3).
struct RopeConfig {
  double theta = 10000.0;
  std::string scaling = "none";  // "none" | "linear" | "llama3"
  double factor = 1.0;           // linear and llama3
  double low_freq_factor = 1.0;  // llama3
  double high_freq_factor = 4.0; // llama3
  int64_t original_max_position = 8192;  // llama3
};
std::vector<float> rope_inv_freq(const RopeConfig& cfg, int64_t d_head);  // [d_head / 2]

// In place on x[T, n_head, d_head], HF rotate-half layout: pairs (i, i + d_head/2) rotate by
// positions[t] * inv_freq[i].
void rope(float* x, int64_t T, int64_t n_head, int64_t d_head, const int32_t* positions, const float* inv_freq);

// Causal attention with grouped-query heads over a KV cache.
//   q[T, n_head, d_head]; k_cache, v_cache [n_ctx, n_head_kv, d_head] hold positions 0..n_ctx-1;
//   query t attends to cache positions p <= positions[t] (and p > positions[t] - window if window > 0);
//   out[T, n_head, d_head]. Scale 1/sqrt(d_head).
void attention(const float* q, const float* k_cache, const float* v_cache, float* out, int64_t T,
               const int32_t* positions, int64_t n_head, int64_t n_head_kv, int64_t d_head, int64_t window = 0);
// The same over a paged cache: k_pool, v_pool [n_blocks, block_size, n_head_kv, d_head]; position p
// of this sequence lives in block block_table[p / block_size], row p % block_size.
void attention_paged(const float* q, const float* k_pool, const float* v_pool, const int32_t* block_table,
                     int64_t block_size, float* out, int64_t T, const int32_t* positions, int64_t n_head,
                     int64_t n_head_kv, int64_t d_head, int64_t window = 0);

// out[n] = silu(gate[n]) * up[n] (out may alias gate).
void swiglu(const float* gate, const float* up, float* out, int64_t n);

// In place, numerically stable.
void softmax(float* x, int64_t n);
// log Σ exp(x[0, n)), shifted by the maximum (n >= 1).
float log_sum_exp(const float* x, int64_t n);

// Codecs: n values (a multiple of the block size) between f32 and a storage dtype.
void quantize(const float* src, DType dtype, int64_t n, void* dst);
void dequantize(const void* src, DType dtype, int64_t n, float* dst);
Tensor convert(const Tensor& t, DType dtype);  // new tensor (through f32 where needed)

}  // namespace tunekit::ops
