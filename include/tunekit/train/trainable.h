// What is trained, and its gradients: a LoRA adapter on a frozen base, or the whole model.
// Parameters and gradients live in two flat f32 buffers (Param views into them), so the optimizer,
// gradient clipping and checkpoints work on plain arrays. Frozen weights have no gradient buffer.
#pragma once
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "tunekit/models/lora.h"
#include "tunekit/models/model.h"
#include "tunekit/train/batch.h"

namespace tunekit {

struct Param {
  std::string name;             // HF/PEFT name, e.g. "model.layers.0.self_attn.q_proj.lora_A.weight"
  std::vector<int64_t> shape;
  int64_t offset = 0;           // into values()/grads()
  int64_t numel = 0;
  bool decay = true;            // AdamW weight decay applies (false for norms and biases)
};

struct LossSum {
  double loss = 0;    // Σ_t w_t · CE_t
  double weight = 0;  // Σ_t w_t
  int64_t tokens = 0; // tokens processed (inputs)
};

struct StepOptions {
  bool checkpointing = false;  // keep only each layer's input; recompute the layer in backward
  uint64_t dropout_seed = 0;   // LoRA dropout masks come from this seed (and the step)
};

class Trainable {
 public:
  // LoRA: the adapter's A and B move into the flat buffer; the base stays frozen as loaded.
  static Trainable lora(Model base, LoraAdapter adapter);
  // Full fine-tuning: every weight (converted to f32) is trained, except layers listed in
  // frozen_layers and, when freeze_embeddings, the embedding table (and a tied lm_head).
  static Trainable full(Model base, std::vector<int> frozen_layers = {}, bool freeze_embeddings = false);

  const std::vector<Param>& params() const;
  float* values();
  float* grads();
  int64_t n_values() const;
  void zero_grads();

  // Forward and backward of one micro-batch: grads += grad_scale · ∂(Σ w·CE)/∂θ. Returns the sums.
  LossSum forward_backward(const Batch& batch, float grad_scale, const StepOptions& options);
  // Forward only (validation, perplexity).
  LossSum evaluate(const Batch& batch);
  // How many parts both split a micro-batch into, by rows, one per thread, each run start to end on
  // its own thread (1: it runs whole, each product split over the threads). The result is the same
  // either way up to float rounding.
  int64_t parts_of(const Batch& batch) const;

  // The model as trained so far (full: the updated weights; LoRA: the frozen base).
  const Model& model() const;
  // The adapter as trained so far (LoRA only; nullptr for full fine-tuning).
  const LoraAdapter* adapter() const;

  Trainable(Trainable&&) noexcept;
  Trainable& operator=(Trainable&&) noexcept;
  ~Trainable();

 private:
  struct State;
  explicit Trainable(std::unique_ptr<State> s);
  std::unique_ptr<State> s_;
};

}  // namespace tunekit
