// One decoder layer for training, llm.c style: layer_forward keeps what layer_backward needs
// (LayerActs), layer_backward reads top to bottom in reverse. Linear modules go through
// linear_forward / linear_backward (layer_linear.cpp): base weight, optional bias, optional LoRA with
// inverted dropout on its input, gradients only for what is trained.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

#include "tunekit/models/lora.h"
#include "tunekit/models/model.h"

namespace tunekit::train {

// One linear module y[T, N] = x[T, K]·Wᵀ + bias + scale · (drop(x)·Aᵀ)·Bᵀ and where its gradients go.
struct TrainLinear {
  const Tensor* W = nullptr;       // [N, K], any storage dtype
  const float* bias = nullptr;     // [N] or null
  const LoraPair* lora = nullptr;  // A [r, K], B [N, r] (views into the flat values), or null
  float* dW = nullptr;             // [N, K] (+=) when W is trained, else null
  float* dbias = nullptr;          // [N] (+=) when the bias is trained
  float* dA = nullptr;             // [r, K] (+=) with lora
  float* dB = nullptr;             // [N, r] (+=) with lora
};

// The weights of one layer as training sees them.
struct TrainLayer {
  int index = 0;
  const float* attn_norm = nullptr;  // [d_model]
  const float* ffn_norm = nullptr;   // [d_model]
  float* d_attn_norm = nullptr;      // [d_model] (+=) or null (frozen)
  float* d_ffn_norm = nullptr;
  std::array<TrainLinear, kNumLinearModules> lin;  // by LinearModule
};

// What all layers share for one micro-batch.
struct StepContext {
  const ModelConfig* config = nullptr;
  const float* inv_freq = nullptr;     // [d_head / 2]
  const int32_t* positions = nullptr;  // [T]
  const int32_t* seg_start = nullptr;  // [T]
  int64_t T = 0;
  int64_t first_token = 0;  // index of token 0 in the whole micro-batch (run in parts: not 0)
  float lora_scale = 0;
  double dropout = 0;        // LoRA dropout probability (0: off)
  uint64_t dropout_seed = 0;
};

// LoRA dropout masks: a counter-based hash of (seed, layer, module, flat token, input feature), the
// same in forward, in a checkpointed recompute, in every part of a micro-batch split by rows and in
// scripts/ref/make_train_goldens.py (t counts tokens from the micro-batch's first):
//   key = splitmix64(splitmix64(seed) ^ (layer·7 + module))
//   keep[t, i] = (splitmix64(key ^ (t·K + i)) >> 40) / 2^24 >= p
struct DropoutMask {
  double p = 0;
  uint64_t key = 0;
  int64_t first_token = 0;  // t of row 0 of the inputs it applies to
};
DropoutMask dropout_mask(const StepContext& ctx, int layer, LinearModule m);
// xd[T, K] = x · keep / (1 - p).
void apply_dropout(const float* x, int64_t T, int64_t K, const DropoutMask& mask, float* xd);

// Grow-only buffers (resized only when a larger micro-batch arrives; never shrink).
void grow(std::vector<float>& v, int64_t n);

// What the forward of one layer keeps for its backward.
struct LayerActs {
  std::vector<float> rstd1, rstd2;  // [T]
  std::vector<float> q, att;        // [T, n_head, d_head]: q after RoPE; attention output
  std::vector<float> k, v;          // [T, n_head_kv, d_head]: k after RoPE
  std::vector<float> lse;           // [T, n_head]
  std::vector<float> x_mid;         // [T, d_model]: residual after attention
  std::vector<float> gate, up;      // [T, d_ff]: before SwiGLU
  std::array<std::vector<float>, kNumLinearModules> lora_u;  // [T, r]: scale · drop(x)·Aᵀ per module

  void reserve(const ModelConfig& c, int64_t T, int64_t rank);
};

// Scratch shared by every layer (forward and backward), not kept between them.
struct LayerScratch {
  std::vector<float> h, rstd;        // [T, d_model], [T]: a normed input (recomputed in backward)
  std::vector<float> act;            // [T, d_ff]: silu(gate)·up
  std::vector<float> dh;             // [T, d_model]
  std::vector<float> dq, datt;       // [T, n_head, d_head]
  std::vector<float> dk, dv;         // [T, n_head_kv, d_head]
  std::vector<float> dgate, dup;     // [T, d_ff]
  std::vector<float> xd, dxd;        // [T, max(d_ff, d_q, d_model)]: dropped input of a LoRA, its gradient
  std::vector<float> du;             // [T, r]

  void reserve(const ModelConfig& c, int64_t T, int64_t rank, bool dropout);
};

// x_out[T, d_model] = x_in + attention(x_in), then += MLP; fills acts. x_out null (a checkpointed
// recompute): only what backward reads is computed (the down projection itself is skipped).
void layer_forward(const TrainLayer& w, const StepContext& ctx, const float* x_in, float* x_out, LayerActs& acts,
                   LayerScratch& s);
// On entry dx[T, d_model] = ∂L/∂x_out; on exit ∂L/∂x_in, or, when input_gradient is false (nothing
// below the layer trains), whatever is cheapest: then only the layer's parameter gradients are
// wanted. Accumulates the layer's parameter gradients.
void layer_backward(const TrainLayer& w, const StepContext& ctx, const float* x_in, const LayerActs& acts, float* dx,
                    bool input_gradient, LayerScratch& s);

// y[T, N] (= or += when accumulate) = linear module m of layer `layer` applied to x[T, K]; keeps
// u[T, r] = scale · drop(x)·Aᵀ for backward. Without dropout this is project() itself.
void linear_forward(const TrainLinear& m, const StepContext& ctx, int layer, LinearModule which, const float* x,
                    float* y, bool accumulate, std::vector<float>& u, LayerScratch& s);
// u[T, r] = scale · drop(x)·Aᵀ alone (m has a LoRA): what backward needs of a projection whose
// output is not needed; the same arithmetic as linear_forward's.
void lora_input(const TrainLinear& m, const StepContext& ctx, int layer, LinearModule which, const float* x,
                std::vector<float>& u, LayerScratch& s);
// dx[T, K] (= or += when accumulate) = ∂L/∂x from dy[T, N], not computed when dx is null;
// accumulates dW, dbias, dA, dB. x is the module's input as in forward, u what linear_forward kept.
void linear_backward(const TrainLinear& m, const StepContext& ctx, int layer, LinearModule which, const float* dy,
                     const float* x, const std::vector<float>& u, float* dx, bool accumulate, LayerScratch& s);
// linear_backward in two parts, for a caller that has the module's input x only after dx (the down
// projection's act, recomputed by swiglu_backward): first what needs no x (dx, dbias, dB, and
// s.du = scale · dy·B), then what does (dW += dyᵀ·x, dA += s.duᵀ·drop(x)), with s.du untouched between.
void linear_backward_data(const TrainLinear& m, const StepContext& ctx, int layer, LinearModule which, const float* dy,
                          const std::vector<float>& u, float* dx, bool accumulate, LayerScratch& s);
void linear_backward_input_side(const TrainLinear& m, const StepContext& ctx, int layer, LinearModule which,
                                const float* dy, const float* x, LayerScratch& s);

}  // namespace tunekit::train
