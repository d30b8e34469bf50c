#include "models/batch_lora.h"

#include "tunekit/core/parallel.h"
#include "tunekit/ops/ops.h"

namespace tunekit {

BatchLora::BatchLora(std::span<const SequenceStep> batch) {
  for (const SequenceStep& s : batch) {
    const int64_t n = int64_t(s.tokens.size());
    if (!runs_.empty() && runs_.back().adapter == s.adapter)
      runs_.back().rows += n;
    else
      runs_.push_back({n_rows_, n, s.adapter});
    n_rows_ += n;
  }
}

const LoraPair* BatchLora::only_lora(int layer, LinearModule m) const {
  return runs_[0].adapter ? runs_[0].adapter->find(layer, m) : nullptr;
}

float BatchLora::only_scale() const { return runs_[0].adapter ? runs_[0].adapter->scale() : 0.0f; }

void BatchLora::add_runs(const float* x, int layer, LinearModule m, float* y, std::vector<float>& scratch) const {
  // Each run's u [rows, r] at its own place in scratch, so the runs can go in parallel: one parallel
  // section per module, each run's two small products inline on one thread.
  std::vector<size_t> u_at(runs_.size() + 1, 0);
  for (size_t i = 0; i < runs_.size(); ++i) {
    const LoraPair* pair = runs_[i].adapter ? runs_[i].adapter->find(layer, m) : nullptr;
    u_at[i + 1] = u_at[i] + (pair ? size_t(runs_[i].rows * pair->A.dim(0)) : 0);
  }
  if (u_at.back() == 0) return;
  if (scratch.size() < u_at.back()) scratch.resize(u_at.back());
  parallel_for(int64_t(runs_.size()), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const Run& run = runs_[size_t(i)];
      const LoraPair* pair = run.adapter ? run.adapter->find(layer, m) : nullptr;
      if (!pair) continue;
      const int64_t r = pair->A.dim(0), d_in = pair->A.dim(1), d_out = pair->B.dim(0);
      float* u = scratch.data() + u_at[size_t(i)];                       // [rows, r]
      ops::linear(x + run.row0 * d_in, run.rows, pair->A, nullptr, u);   // u = x·Aᵀ
      const float scale = run.adapter->scale();
      for (int64_t k = 0; k < run.rows * r; ++k) u[k] *= scale;
      ops::linear(u, run.rows, pair->B, nullptr, y + run.row0 * d_out, /*accumulate=*/true);  // y += u·Bᵀ
    }
  });
}

void BatchLora::project(const float* x, int layer, LinearModule m, Projection p, std::vector<float>& scratch) const {
  if (single()) {
    tunekit::project(x, n_rows_, *p.W, p.bias, only_lora(layer, m), only_scale(), p.y, p.accumulate, scratch);
    return;
  }
  tunekit::project(x, n_rows_, *p.W, p.bias, nullptr, 0.0f, p.y, p.accumulate, scratch);
  add_runs(x, layer, m, p.y, scratch);
}

void BatchLora::project_qkv(const float* x, int layer, Projection q, Projection k, Projection v,
                            std::vector<float>& scratch) const {
  if (single()) {
    q.lora = only_lora(layer, LinearModule::q);
    k.lora = only_lora(layer, LinearModule::k);
    v.lora = only_lora(layer, LinearModule::v);
  }
  const Projection qkv[] = {q, k, v};
  project_all(x, n_rows_, qkv, only_scale(), scratch);
  if (single()) return;
  add_runs(x, layer, LinearModule::q, q.y, scratch);
  add_runs(x, layer, LinearModule::k, k.y, scratch);
  add_runs(x, layer, LinearModule::v, v.y, scratch);
}

void BatchLora::project_swiglu(const float* x, int layer, Projection gate, Projection up,
                               std::vector<float>& scratch) const {
  if (single()) {
    gate.lora = only_lora(layer, LinearModule::gate);
    up.lora = only_lora(layer, LinearModule::up);
    tunekit::project_swiglu(x, n_rows_, gate, up, only_scale(), scratch);
    return;
  }
  project(x, layer, LinearModule::gate, gate, scratch);
  project(x, layer, LinearModule::up, up, scratch);
  ops::swiglu(gate.y, up.y, gate.y, n_rows_ * gate.W->dim(0));  // gate = silu(gate) · up
}

}  // namespace tunekit
