// AdamW with decoupled weight decay (torch.optim.AdamW semantics), global-norm gradient clipping
// (torch.nn.utils.clip_grad_norm_ semantics) and learning-rate schedules (transformers'
// get_{constant,linear,cosine}_schedule_with_warmup), over the flat buffers of train/trainable.h.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tunekit/train/trainable.h"

namespace tunekit {

struct AdamWConfig {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weight_decay = 0.0;  // decoupled: p -= lr * weight_decay * p, only for Param::decay
};

class AdamW {
 public:
  AdamW(int64_t n_values, AdamWConfig config);
  // One update at learning rate lr (step counter t advances by one):
  //   p -= lr·wd·p (decay params); m = β1·m + (1-β1)·g; v = β2·v + (1-β2)·g²;
  //   p -= (lr / (1-β1^t)) · m / (sqrt(v) / sqrt(1-β2^t) + eps).
  // params in offset order, not overlapping (as Trainable lists them); throws otherwise.
  void step(float* values, const float* grads, const std::vector<Param>& params, double lr);
  int64_t steps_taken() const { return t_; }
  // The state (m, v, t) for checkpoints; restore() checks the sizes.
  const std::vector<float>& m() const { return m_; }
  const std::vector<float>& v() const { return v_; }
  void restore(std::vector<float> m, std::vector<float> v, int64_t t);

 private:
  AdamWConfig config_;
  std::vector<float> m_, v_;
  int64_t t_ = 0;
};

// Scales grads[n] so that their global L2 norm is at most max_norm (coefficient
// max_norm / (norm + 1e-6), capped at 1, as torch does); returns the norm before clipping
// (inf or nan when a gradient is not finite, and then nothing is scaled).
double clip_grad_norm(float* grads, int64_t n, double max_norm);

struct ScheduleConfig {
  std::string kind = "cosine";  // "constant" | "linear" | "cosine"
  double lr = 2e-4;             // peak
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;
  double min_lr_ratio = 0.0;    // floor as a fraction of lr (cosine and linear)
};
// Learning rate for optimizer step `step` (0-based): linear warmup from 0 over warmup_steps
// (lr·step/warmup), then constant, linear decay or half-cosine decay to min_lr_ratio·lr at total_steps.
double learning_rate(const ScheduleConfig& s, int64_t step);

}  // namespace tunekit
