// The inside of a Trainable: the model (and adapter) whose trained tensors are views into one flat
// f32 values buffer, the gradient buffer, per-layer views for layer_forward/backward, and the
// grow-only activation arena.
#pragma once
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "train/layer.h"
#include "tunekit/train/trainable.h"

namespace tunekit {

struct Trainable::State {
  Model model;
  std::optional<LoraAdapter> adapter;           // LoRA only
  std::shared_ptr<const void> values;           // owns [n_values] floats; trained tensors are views into them
  float* values_data = nullptr;
  std::vector<float> grads;                     // [n_values]
  std::vector<Param> params;

  std::vector<train::TrainLayer> layers;  // [n_layer]
  float* d_embeddings = nullptr;          // [n_vocab, d_model] (+=) or null (frozen)
  float* d_norm = nullptr;                // [d_model]
  float* d_lm_head = nullptr;             // [n_vocab, d_model]; d_embeddings when tied

  // Activation arena, grown to the largest micro-batch seen (nothing is allocated in steady state).
  struct Arena {
    std::vector<float> xs;                  // [n_layer + 1, T, d_model]: the input of each layer, then the last output
    std::vector<train::LayerActs> acts;     // [n_layer] kept for backward; with checkpointing only acts[0] is used
    train::LayerScratch scratch;
    std::vector<float> h, rstd, dh, dx;     // final norm: [T, d_model], [T]; gradients [T, d_model]
  } arena;

  int64_t lora_rank() const { return adapter ? adapter->rank : 0; }
  // What the layers share for this micro-batch (dropout applies to LoRA only).
  train::StepContext context(const Batch& b, double dropout, uint64_t seed) const;
  // Grows the arena for T tokens: every layer's activations (keep_all), or one layer's.
  void reserve(int64_t T, bool keep_all, bool dropout);
  // Embedding, the layers and the final norm: arena.xs gets every layer's input, arena.h the normed
  // output; each layer's activations go to acts[l] (keep_all) or all to acts[0].
  void forward(const train::StepContext& ctx, const int32_t* tokens, bool keep_all);
  // Moves the trained tensors (named, in param order) into the flat buffer: each becomes an f32 view
  // of its slot (any storage dtype is converted); then binds the layers.
  void flatten(const std::vector<std::pair<std::string, Tensor*>>& trained);
  // Fills layers from model/adapter, with the gradient slot of each trained tensor (by address).
  using GradOf = std::unordered_map<const Tensor*, float*>;
  void bind_layers(const GradOf& grad_of);
};

}  // namespace tunekit
