// LoRA weights attached to a model's linear layers, and the one projection every matmul of the
// decoder goes through (llama.cpp's convention): y = x·Wᵀ + b + scale · (x·Aᵀ)·Bᵀ, so the merged
// and unmerged paths share code. File formats (PEFT folders, llama.cpp LoRA GGUF) live in
// src/adapters/; training lives in src/train/.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "tunekit/models/config.h"
#include "tunekit/models/model.h"
#include "tunekit/tensor.h"

namespace tunekit {

// The seven linear layers of a Llama-family block, in HF names q_proj .. down_proj.
enum class LinearModule : int { q = 0, k, v, o, gate, up, down };
constexpr int kNumLinearModules = 7;
const char* module_name(LinearModule m);                         // "q_proj", ..., "down_proj"
std::optional<LinearModule> module_from_name(const std::string& name);  // "q_proj" (or "q") -> q
// {d_out, d_in} of module m for this config (q: {d_q, d_model}, down: {d_model, d_ff}, ...).
std::array<int64_t, 2> module_shape(const ModelConfig& c, LinearModule m);
// The weight of module m in a layer: &LayerWeights::wq for q, ..., &LayerWeights::w_down for down.
Tensor LayerWeights::*module_weight(LinearModule m);
// "self_attn" for q/k/v/o, "mlp" for gate/up/down: the HF submodule that holds m.
const char* module_group(LinearModule m);
// HF/PEFT name of a LoRA factor without PEFT's "base_model.model." prefix:
// "model.layers.3.self_attn.q_proj.lora_A.weight" (is_b: lora_B).
std::string lora_weight_name(int layer, LinearModule m, bool is_b);

struct LoraPair {
  Tensor A;  // [r, d_in] f32
  Tensor B;  // [d_out, r] f32
  bool empty() const { return A.empty(); }
};

struct LoraAdapter {
  int64_t rank = 8;
  double alpha = 16;
  bool rslora = false;     // scale = alpha / sqrt(r) instead of alpha / r
  double dropout = 0.0;    // training only: applied to x before A
  std::vector<LinearModule> targets;
  std::vector<std::array<LoraPair, kNumLinearModules>> layers;  // [n_layer][module]; empty where not targeted
  std::string base_model;  // for adapter_config.json's base_model_name_or_path

  float scale() const;
  const LoraPair* find(int layer, LinearModule m) const;  // nullptr when that module has no LoRA
  // Checks rank, alpha, dropout, the layer count and every A/B shape and dtype against the model;
  // throws Error naming origin and the offending tensor (by its PEFT name).
  void validate(const ModelConfig& config, const std::string& origin) const;
};

// y[T, d_out] (+= when accumulate) = x[T, d_in] · Wᵀ + bias + scale · (x · Aᵀ) · Bᵀ.
// lora may be null (plain linear). scratch holds u = scale · x·Aᵀ [T, r] afterwards (grown as needed).
void project(const float* x, int64_t T, const Tensor& W, const float* bias, const LoraPair* lora, float scale,
             float* y, bool accumulate, std::vector<float>& scratch);

// One linear of a group that reads the same x: y[T, d_out] (+= when accumulate) =
// x · Wᵀ + bias + scale · (x · Aᵀ) · Bᵀ, as project() computes it.
struct Projection {
  const Tensor* W = nullptr;
  const float* bias = nullptr;     // [d_out] or null
  const LoraPair* lora = nullptr;  // null: no LoRA on this linear
  float* y = nullptr;              // [T, d_out]
  bool accumulate = false;
};
// Every projection of x[T, d_in] (q, k and v of a block) in one parallel section over all their
// rows for few rows of x (ops::linear_multi). scratch holds each LoRA's scale · x·Aᵀ in turn.
void project_all(const float* x, int64_t T, std::span<const Projection> projections, float scale,
                 std::vector<float>& scratch);
// gate.y = silu(gate's projection) · up's projection [T, d_ff], both as project() computes them, in
// one parallel section for few rows of x (ops::linear_swiglu); up.y receives up's projection.
void project_swiglu(const float* x, int64_t T, const Projection& gate, const Projection& up, float scale,
                    std::vector<float>& scratch);

}  // namespace tunekit
