// Creating a LoRA adapter to train: which linear layers get one, its rank and scale, and how A and
// B start (PEFT's initialisations, so a run started here matches one started in PEFT).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tunekit/models/config.h"
#include "tunekit/models/lora.h"

namespace tunekit {

struct LoraConfig {
  int64_t rank = 8;                                   // r
  double alpha = 16;                                  // lora_alpha: scale = alpha / r (alpha / sqrt(r) with rslora)
  double dropout = 0.0;                               // lora_dropout, in [0, 1)
  bool rslora = false;                                // use_rslora
  std::vector<std::string> targets = {"q_proj", "v_proj"};  // module names (q_proj .. down_proj) or "all-linear"
  // "peft": A ~ U(-1/sqrt(d_in), 1/sqrt(d_in)) (kaiming-uniform with a = sqrt(5)), B = 0.
  // "gaussian": A ~ N(0, (1/r)²) (PEFT's init_lora_weights="gaussian"), B = 0.
  std::string init = "peft";
  double b_std = 0.0;                                 // > 0: B ~ N(0, b_std²) instead of zeros
  std::vector<int> layers;                            // layers_to_transform; empty = every layer
  std::string base_model;                             // recorded as base_model_name_or_path
};

// The modules config.targets names, after checking every field against the model: unknown module
// names (the error lists the valid ones), rank < 1 or above min(d_in, d_out) of a target, alpha <= 0,
// dropout outside [0, 1), an unknown init, b_std < 0, layers outside [0, n_layer) or repeated.
std::vector<LinearModule> resolve_lora_targets(const ModelConfig& model, const LoraConfig& config);

// A new adapter for the model's shape (validated first, nothing allocated on bad input). The same
// seed gives the same weights.
LoraAdapter init_lora(const ModelConfig& model, const LoraConfig& config, uint64_t seed);

}  // namespace tunekit
