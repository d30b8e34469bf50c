// Trainable: which tensors are trained (LoRA A/B, or every weight for full fine-tuning), laid out in
// one flat f32 values buffer (the model's or adapter's tensors become views into it) with a gradient
// buffer of the same layout. The step itself (forward/backward) is in trainable_step.cpp.
#include <algorithm>
#include <set>
#include <string>

#include "train/trainable_state.h"
#include "tunekit/error.h"
#include "tunekit/ops/ops.h"

namespace tunekit {

namespace {

constexpr const char* kPeftPrefix = "base_model.model.";

// "model.layers.3.self_attn.q_proj.weight" -> 3; -1 for the tensors outside the layers.
int layer_of(const std::string& hf_name) {
  const std::string prefix = "model.layers.";
  return hf_name.rfind(prefix, 0) == 0 ? std::stoi(hf_name.substr(prefix.size())) : -1;
}

// Appends a parameter for tensor t; returns its offset into the flat buffers.
int64_t add_param(std::vector<Param>& params, int64_t& n_values, std::string name, const Tensor& t) {
  Param p;
  p.name = std::move(name);
  p.shape = t.shape;
  p.offset = n_values;
  p.numel = t.numel();
  p.decay = t.rank() == 2;  // matrices decay; norms and biases do not
  n_values += p.numel;
  params.push_back(std::move(p));
  return params.back().offset;
}

}  // namespace

void Trainable::State::flatten(const std::vector<std::pair<std::string, Tensor*>>& trained) {
  int64_t n = 0;
  std::vector<int64_t> offsets;
  for (const auto& [name, t] : trained) offsets.push_back(add_param(params, n, name, *t));
  Tensor flat = Tensor::zeros(DType::F32, {n});  // 64-byte aligned; owns the values
  values = flat.keepalive;
  values_data = flat.as<float>();
  grads.assign(size_t(n), 0.0f);
  for (size_t i = 0; i < trained.size(); ++i) {
    Tensor& t = *trained[i].second;
    float* slot = values_data + offsets[i];
    ops::dequantize(t.data, t.dtype, t.numel(), slot);  // a copy for f32
    t = Tensor::view(DType::F32, t.shape, slot, values);
    grad_offset[&t] = offsets[i];
  }
  if (model.config.tied_embeddings) model.lm_head = model.tok_embeddings;  // the same (possibly new) storage
  bind(whole, grads.data());
}

void Trainable::State::bind(Shard& shard, float* grads_base) const {
  auto grad = [&](const Tensor& t) -> float* {
    auto it = grad_offset.find(&t);
    return it == grad_offset.end() ? nullptr : grads_base + it->second;
  };
  const ModelConfig& c = model.config;
  shard.layers.assign(size_t(c.n_layer), {});
  for (int l = 0; l < c.n_layer; ++l) {
    const LayerWeights& w = model.layers[size_t(l)];
    train::TrainLayer& tl = shard.layers[size_t(l)];
    tl.index = l;
    tl.attn_norm = w.attn_norm.as<float>();
    tl.ffn_norm = w.ffn_norm.as<float>();
    tl.d_attn_norm = grad(w.attn_norm);
    tl.d_ffn_norm = grad(w.ffn_norm);
    const Tensor* biases[kNumLinearModules] = {&w.bq, &w.bk, &w.bv};
    for (int i = 0; i < kNumLinearModules; ++i) {
      train::TrainLinear& lin = tl.lin[size_t(i)];
      lin.W = &(w.*module_weight(LinearModule(i)));
      lin.dW = grad(*lin.W);
      if (biases[i] && !biases[i]->empty()) {
        lin.bias = biases[i]->as<float>();
        lin.dbias = grad(*biases[i]);
      }
      lin.lora = adapter ? adapter->find(l, LinearModule(i)) : nullptr;
      if (lin.lora) {
        lin.dA = grad(lin.lora->A);
        lin.dB = grad(lin.lora->B);
      }
    }
  }
  shard.d_embeddings = grad(model.tok_embeddings);
  shard.d_norm = grad(model.norm);
  shard.d_lm_head = c.tied_embeddings ? shard.d_embeddings : grad(model.lm_head);
}

Trainable::State::Shard& Trainable::State::part(size_t i) {
  if (parts.size() <= i) parts.resize(i + 1);
  Shard& shard = parts[i];
  if (shard.layers.empty()) {
    shard.own_grads.assign(grads.size(), 0.0f);
    bind(shard, shard.own_grads.data());
  }
  return shard;
}

Trainable Trainable::lora(Model base, LoraAdapter adapter) {
  adapter.validate(base.config, "Trainable::lora");
  auto s = std::make_unique<State>();
  s->model = std::move(base);
  s->adapter = std::move(adapter);
  std::vector<std::pair<std::string, Tensor*>> trained;
  for (int l = 0; l < s->model.config.n_layer; ++l)
    for (int i = 0; i < kNumLinearModules; ++i) {
      LoraPair& p = s->adapter->layers[size_t(l)][size_t(i)];
      if (p.empty()) continue;
      trained.emplace_back(kPeftPrefix + lora_weight_name(l, LinearModule(i), false), &p.A);
      trained.emplace_back(kPeftPrefix + lora_weight_name(l, LinearModule(i), true), &p.B);
    }
  check(!trained.empty(), "Trainable::lora: the adapter has no LoRA weights (no target modules?)");
  s->flatten(trained);
  return Trainable(std::move(s));
}

Trainable Trainable::full(Model base, std::vector<int> frozen_layers, bool freeze_embeddings) {
  const int64_t n_layer = base.config.n_layer;
  for (int l : frozen_layers)
    check(l >= 0 && l < n_layer, "Trainable::full: frozen layer ", l, " is not a layer of this model (0..",
          n_layer - 1, ")");
  const std::set<int> frozen(frozen_layers.begin(), frozen_layers.end());
  auto s = std::make_unique<State>();
  s->model = std::move(base);
  Model& m = s->model;
  std::vector<std::pair<std::string, Tensor*>> trained;
  // named_weights() lists every tensor of m (tied lm_head omitted); m is ours, so they are mutable.
  for (const auto& [name, t] : m.named_weights()) {
    if (freeze_embeddings && t == &m.tok_embeddings) continue;
    if (frozen.count(layer_of(name))) continue;
    trained.emplace_back(name, const_cast<Tensor*>(t));
  }
  check(!trained.empty(), "Trainable::full: every weight is frozen; nothing to train");
  s->flatten(trained);
  return Trainable(std::move(s));
}

Trainable::Trainable(std::unique_ptr<State> s) : s_(std::move(s)) {}
Trainable::Trainable(Trainable&&) noexcept = default;
Trainable& Trainable::operator=(Trainable&&) noexcept = default;
Trainable::~Trainable() = default;

const std::vector<Param>& Trainable::params() const { return s_->params; }
float* Trainable::values() { return s_->values_data; }
float* Trainable::grads() { return s_->grads.data(); }
int64_t Trainable::n_values() const { return int64_t(s_->grads.size()); }
void Trainable::zero_grads() { std::fill(s_->grads.begin(), s_->grads.end(), 0.0f); }
const Model& Trainable::model() const { return s_->model; }
const LoraAdapter* Trainable::adapter() const { return s_->adapter ? &*s_->adapter : nullptr; }

}  // namespace tunekit
