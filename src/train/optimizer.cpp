// AdamW, gradient clipping and learning-rate schedules (see optimizer.h). Elementwise updates run
// on the pool; the clipping norm sums fixed-size blocks in a fixed order, so every result is the
// same whatever the thread count.
#include "tunekit/train/optimizer.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "tunekit/core/parallel.h"
#include "tunekit/error.h"

namespace tunekit {

namespace {

constexpr int64_t kBlock = int64_t(1) << 15;  // values per block of the norm and the update split

}  // namespace

AdamW::AdamW(int64_t n_values, AdamWConfig config)
    : config_(config), m_(std::size_t(n_values), 0.0f), v_(std::size_t(n_values), 0.0f) {
  check(n_values >= 0, "AdamW: negative number of values (", n_values, ")");
  check(config.beta1 >= 0 && config.beta1 < 1 && config.beta2 >= 0 && config.beta2 < 1,
        "AdamW: betas must lie in [0, 1) (got ", config.beta1, ", ", config.beta2, ")");
  check(config.eps > 0, "AdamW: eps must be positive (got ", config.eps, ")");
  check(config.weight_decay >= 0, "AdamW: weight_decay must be >= 0 (got ", config.weight_decay, ")");
}

void AdamW::step(float* values, const float* grads, const std::vector<Param>& params, double lr) {
  ++t_;
  const double bias1 = 1.0 - std::pow(config_.beta1, double(t_));
  const double bias2_sqrt = std::sqrt(1.0 - std::pow(config_.beta2, double(t_)));
  // torch computes these scalars in double and applies them to float tensors.
  const float b1 = float(config_.beta1), b2 = float(config_.beta2);
  const float one_minus_b1 = float(1.0 - config_.beta1), one_minus_b2 = float(1.0 - config_.beta2);
  const float step_size = float(lr / bias1), bc2 = float(bias2_sqrt), eps = float(config_.eps);
  const float decay = float(1.0 - lr * config_.weight_decay);
  float* m = m_.data();
  float* v = v_.data();
  int64_t end_of_last = 0;
  for (const Param& p : params) {
    check(p.offset >= end_of_last && p.offset + p.numel <= int64_t(m_.size()), "AdamW: parameter '", p.name,
          "' lies outside the optimizer's ", m_.size(), " values or before the one listed before it");
    end_of_last = p.offset + p.numel;
  }
  // One parallel section over all the values (a LoRA has hundreds of small tensors): each chunk
  // updates the parts of the parameters it overlaps.
  parallel_for(
      end_of_last,
      [&](int64_t begin, int64_t end) {
        auto p = std::upper_bound(params.begin(), params.end(), begin,
                                  [](int64_t i, const Param& q) { return i < q.offset + q.numel; });
        for (; p != params.end() && p->offset < end; ++p) {
          const bool decays = p->decay && config_.weight_decay != 0;
          const int64_t first = std::max(begin, p->offset), last = std::min(end, p->offset + p->numel);
          for (int64_t i = first; i < last; ++i) {
            const float g = grads[i];
            if (decays) values[i] *= decay;
            m[i] = m[i] * b1 + g * one_minus_b1;
            v[i] = v[i] * b2 + g * g * one_minus_b2;
            const float denom = std::sqrt(v[i]) / bc2 + eps;
            values[i] -= step_size * (m[i] / denom);
          }
        }
      },
      kBlock);
}

void AdamW::restore(std::vector<float> m, std::vector<float> v, int64_t t) {
  check(m.size() == m_.size() && v.size() == v_.size(), "AdamW state: expected ", m_.size(),
        " values in m and v, got ", m.size(), " and ", v.size(), " (the checkpoint is for a different model or adapter)");
  check(t >= 0, "AdamW state: negative step count ", t);
  m_ = std::move(m);
  v_ = std::move(v);
  t_ = t;
}

double clip_grad_norm(float* grads, int64_t n, double max_norm) {
  const int64_t n_block = (n + kBlock - 1) / kBlock;
  std::vector<double> partial(std::size_t(n_block), 0.0);  // Σ g² per block
  parallel_for(n_block, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      double sum = 0;
      for (int64_t i = b * kBlock; i < std::min(n, (b + 1) * kBlock); ++i) sum += double(grads[i]) * grads[i];
      partial[std::size_t(b)] = sum;
    }
  });
  double sum = 0;
  for (double s : partial) sum += s;
  const double norm = std::sqrt(sum);
  if (!std::isfinite(norm)) return norm;
  const float coef = float(std::min(1.0, max_norm / (norm + 1e-6)));
  if (coef < 1.0f)
    parallel_for(n, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) grads[i] *= coef;
    }, kBlock);
  return norm;
}

double learning_rate(const ScheduleConfig& s, int64_t step) {
  check(s.kind == "constant" || s.kind == "linear" || s.kind == "cosine", "schedule: unknown kind '", s.kind,
        "' (use constant, linear or cosine)");
  if (step < s.warmup_steps) return s.lr * double(step) / double(std::max<int64_t>(1, s.warmup_steps));
  if (s.kind == "constant") return s.lr;
  // Past total_steps the rate stays at the floor (transformers' cosine would rise again).
  const double progress = std::min(
      1.0, double(step - s.warmup_steps) / double(std::max<int64_t>(1, s.total_steps - s.warmup_steps)));
  const double factor = s.kind == "linear" ? 1.0 - progress : 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
  return s.lr * (s.min_lr_ratio + (1.0 - s.min_lr_ratio) * factor);
}

}  // namespace tunekit
