// The inside of a Trainable: the model (and adapter) whose trained tensors are views into one flat
// f32 values buffer, the gradient buffer, and the shards a micro-batch runs on, whole or split by rows
// (each with per-layer views for layer_forward/backward and a grow-only activation arena).
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
  std::unordered_map<const Tensor*, int64_t> grad_offset;  // each trained tensor's slot in grads

  // Activation arena, grown to the largest micro-batch seen (nothing is allocated in steady state).
  struct Arena {
    std::vector<float> xs;                  // [n_layer + 1, T, d_model]: the input of each layer, then the last output
    std::vector<train::LayerActs> acts;     // [n_layer] kept for backward; with checkpointing only acts[0] is used
    train::LayerScratch scratch;
    std::vector<float> h, rstd, dh, dx;     // final norm: [T, d_model], [T]; gradients [T, d_model]
  };

  // Rows of a micro-batch run start to end on one thread: the layers as it sees them (with the
  // gradient slot of each trained tensor) and its activations.
  struct Shard {
    std::vector<train::TrainLayer> layers;  // [n_layer]
    float* d_embeddings = nullptr;          // [n_vocab, d_model] (+=) or null (frozen)
    float* d_norm = nullptr;                // [d_model]
    float* d_lm_head = nullptr;             // [n_vocab, d_model]; d_embeddings when tied
    std::vector<float> own_grads;           // [n_values]: a part's gradients (whole adds to grads)
    Arena arena;
  };
  Shard whole;               // a micro-batch run whole (its kernels split each product over the threads)
  std::vector<Shard> parts;  // a micro-batch split by rows, one part per thread (made on first use)

  int64_t lora_rank() const { return adapter ? adapter->rank : 0; }
  // What the layers share for this micro-batch (dropout applies to LoRA only).
  train::StepContext context(const Batch& b, double dropout, uint64_t seed) const;
  // How many parts a micro-batch runs as: one per thread when its rows divide evenly among them
  // into parts big enough, and the parts' own gradient buffers stay small; else 1 (whole).
  int64_t part_count(const Batch& b) const;
  // parts[i], made (and bound to its own gradients) on first use.
  Shard& part(size_t i);
  // Forward and loss (grad_scale 0), or forward and backward, of one micro-batch, whole or in parts.
  LossSum step(const Batch& batch, float grad_scale, const StepOptions& options);
  // The same for batch (first_token: the index of its first token in the micro-batch) on one shard.
  LossSum run(Shard& shard, const Batch& batch, float grad_scale, const StepOptions& options, int64_t first_token);
  // Grows the arena for T tokens: every layer's activations (keep_all), or one layer's.
  void reserve(Arena& arena, int64_t T, bool keep_all, bool dropout);
  // Embedding, the layers and the final norm: arena.xs gets every layer's input, arena.h the normed
  // output; each layer's activations go to acts[l] (keep_all) or all to acts[0].
  void forward(Shard& shard, const train::StepContext& ctx, const int32_t* tokens, bool keep_all);
  // Moves the trained tensors (named, in param order) into the flat buffer: each becomes an f32 view
  // of its slot (any storage dtype is converted); then binds whole.
  void flatten(const std::vector<std::pair<std::string, Tensor*>>& trained);
  // Fills shard.layers from model/adapter, each trained tensor's gradient at its slot of grads_base.
  void bind(Shard& shard, float* grads_base) const;
};

}  // namespace tunekit
