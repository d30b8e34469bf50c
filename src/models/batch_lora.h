// The LoRA adapters of a batched forward pass: runs of adjacent sequences that share an adapter
// (or have none). One run over the whole batch (a single sequence, or one adapter for all) goes
// through the fused projections of lora.h; several runs project the base weights over every row
// once and add each run's low-rank term, scale · (x·Aᵀ)·Bᵀ, to its own rows (S-LoRA style).
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "tunekit/models/forward.h"
#include "tunekit/models/lora.h"

namespace tunekit {

class BatchLora {
 public:
  explicit BatchLora(std::span<const SequenceStep> batch);

  // p.y [T, d_out] (+)= x[T, d_in] · Wᵀ + bias + each row's LoRA of module m in layer l (p.lora is set here).
  void project(const float* x, int layer, LinearModule m, Projection p, std::vector<float>& scratch) const;
  // q, k and v of one block from the same x [T, d_model].
  void project_qkv(const float* x, int layer, Projection q, Projection k, Projection v,
                   std::vector<float>& scratch) const;
  // gate.y = silu(gate projection) · up projection [T, d_ff]; up.y receives the up projection.
  void project_swiglu(const float* x, int layer, Projection gate, Projection up, std::vector<float>& scratch) const;

 private:
  struct Run {
    int64_t row0, rows;
    const LoraAdapter* adapter;
  };
  bool single() const { return runs_.size() == 1; }
  // With a single run: its LoRA of module m in layer l (null when none) and its scale.
  const LoraPair* only_lora(int layer, LinearModule m) const;
  float only_scale() const;
  // y [T, d_out] += each run's scale · (x·Aᵀ)·Bᵀ on its rows, for module m of layer l.
  void add_runs(const float* x, int layer, LinearModule m, float* y, std::vector<float>& scratch) const;

  std::vector<Run> runs_;
  int64_t n_rows_ = 0;
};

}  // namespace tunekit
