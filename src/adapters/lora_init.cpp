#include "tunekit/adapters/lora_init.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "tunekit/error.h"

namespace tunekit {

namespace {

std::string valid_module_names() {
  std::string s;
  for (int i = 0; i < kNumLinearModules; ++i) s += std::string(module_name(LinearModule(i))) + ", ";
  return s + "all-linear";
}

// fill t [rows, cols] f32 with draws from dist.
template <class Dist>
void fill(Tensor& t, Dist dist, std::mt19937_64& rng) {
  float* p = t.as<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = float(dist(rng));
}

}  // namespace

std::vector<LinearModule> resolve_lora_targets(const ModelConfig& model, const LoraConfig& cfg) {
  check(!cfg.targets.empty(), "LoRA config: no target modules (choose from ", valid_module_names(), ")");
  std::vector<LinearModule> targets;
  for (const std::string& name : cfg.targets) {
    if (name == "all-linear") {
      for (int i = 0; i < kNumLinearModules; ++i) targets.push_back(LinearModule(i));
      continue;
    }
    auto m = module_from_name(name);
    check(m.has_value(), "LoRA config: unknown target module '", name, "' (valid: ", valid_module_names(), ")");
    targets.push_back(*m);
  }
  std::sort(targets.begin(), targets.end());
  targets.erase(std::unique(targets.begin(), targets.end()), targets.end());

  check(cfg.rank >= 1, "LoRA config: rank must be >= 1, got ", cfg.rank);
  for (LinearModule m : targets) {
    const auto [d_out, d_in] = module_shape(model, m);
    check(cfg.rank <= std::min(d_in, d_out), "LoRA config: rank ", cfg.rank, " is larger than ", module_name(m),
          "'s smaller side (", module_name(m), " is [", d_out, ", ", d_in, "]); use a rank <= ", std::min(d_in, d_out));
  }
  check(cfg.alpha > 0 && std::isfinite(cfg.alpha), "LoRA config: alpha must be positive, got ", cfg.alpha);
  check(cfg.dropout >= 0 && cfg.dropout < 1, "LoRA config: dropout must be in [0, 1), got ", cfg.dropout);
  check(cfg.init == "peft" || cfg.init == "gaussian", "LoRA config: unknown init '", cfg.init,
        "' (choose peft or gaussian)");
  check(cfg.b_std >= 0 && std::isfinite(cfg.b_std), "LoRA config: b_std must be >= 0, got ", cfg.b_std);
  std::vector<int> seen;
  for (int l : cfg.layers) {
    check(l >= 0 && l < model.n_layer, "LoRA config: layer ", l, " is outside the model's layers [0, ", model.n_layer,
          ")");
    check(std::find(seen.begin(), seen.end(), l) == seen.end(), "LoRA config: layer ", l, " is listed twice");
    seen.push_back(l);
  }
  return targets;
}

LoraAdapter init_lora(const ModelConfig& model, const LoraConfig& cfg, uint64_t seed) {
  LoraAdapter a;
  a.targets = resolve_lora_targets(model, cfg);
  a.rank = cfg.rank;
  a.alpha = cfg.alpha;
  a.rslora = cfg.rslora;
  a.dropout = cfg.dropout;
  a.base_model = cfg.base_model;
  a.layers.resize(size_t(model.n_layer));
  std::mt19937_64 rng(seed);
  for (int l = 0; l < model.n_layer; ++l) {
    if (!cfg.layers.empty() && std::find(cfg.layers.begin(), cfg.layers.end(), l) == cfg.layers.end()) continue;
    for (LinearModule m : a.targets) {
      const auto [d_out, d_in] = module_shape(model, m);
      LoraPair& p = a.layers[size_t(l)][size_t(m)];
      p.A = Tensor::zeros(DType::F32, {cfg.rank, d_in});   // [r, d_in]
      p.B = Tensor::zeros(DType::F32, {d_out, cfg.rank});  // [d_out, r]
      if (cfg.init == "peft") {
        const double bound = 1.0 / std::sqrt(double(d_in));
        fill(p.A, std::uniform_real_distribution<double>(-bound, bound), rng);
      } else {
        fill(p.A, std::normal_distribution<double>(0.0, 1.0 / double(cfg.rank)), rng);
      }
      if (cfg.b_std > 0) fill(p.B, std::normal_distribution<double>(0.0, cfg.b_std), rng);
    }
  }
  return a;
}

}  // namespace tunekit
