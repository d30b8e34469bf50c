#include "tunekit/models/lora.h"

#include <cmath>

#include "tunekit/error.h"
#include "tunekit/ops/ops.h"

namespace tunekit {

namespace {
constexpr const char* kModuleNames[kNumLinearModules] = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                                          "gate_proj", "up_proj", "down_proj"};
}

const char* module_name(LinearModule m) { return kModuleNames[int(m)]; }

std::optional<LinearModule> module_from_name(const std::string& name) {
  for (int i = 0; i < kNumLinearModules; ++i) {
    std::string full = kModuleNames[i];
    if (name == full || name == full.substr(0, full.size() - 5)) return LinearModule(i);  // "q_proj" or "q"
  }
  return std::nullopt;
}

std::array<int64_t, 2> module_shape(const ModelConfig& c, LinearModule m) {
  switch (m) {
    case LinearModule::q: return {c.d_q(), c.d_model};
    case LinearModule::k:
    case LinearModule::v: return {c.d_kv(), c.d_model};
    case LinearModule::o: return {c.d_model, c.d_q()};
    case LinearModule::gate:
    case LinearModule::up: return {c.d_ff, c.d_model};
    case LinearModule::down: return {c.d_model, c.d_ff};
  }
  fail("module_shape: unknown module ", int(m));
}

Tensor LayerWeights::*module_weight(LinearModule m) {
  switch (m) {
    case LinearModule::q: return &LayerWeights::wq;
    case LinearModule::k: return &LayerWeights::wk;
    case LinearModule::v: return &LayerWeights::wv;
    case LinearModule::o: return &LayerWeights::wo;
    case LinearModule::gate: return &LayerWeights::w_gate;
    case LinearModule::up: return &LayerWeights::w_up;
    case LinearModule::down: return &LayerWeights::w_down;
  }
  fail("module_weight: unknown module ", int(m));
}

const char* module_group(LinearModule m) { return int(m) <= int(LinearModule::o) ? "self_attn" : "mlp"; }

std::string lora_weight_name(int layer, LinearModule m, bool is_b) {
  return "model.layers." + std::to_string(layer) + "." + module_group(m) + "." + module_name(m) +
         (is_b ? ".lora_B.weight" : ".lora_A.weight");
}

float LoraAdapter::scale() const {
  check(rank > 0, "LoRA rank must be positive, got ", rank);
  return float(rslora ? alpha / std::sqrt(double(rank)) : alpha / double(rank));
}

const LoraPair* LoraAdapter::find(int layer, LinearModule m) const {
  if (layer < 0 || size_t(layer) >= layers.size()) return nullptr;
  const LoraPair& p = layers[size_t(layer)][size_t(m)];
  return p.empty() ? nullptr : &p;
}

void LoraAdapter::validate(const ModelConfig& c, const std::string& origin) const {
  check(rank >= 1, origin, ": LoRA rank must be >= 1, got ", rank);
  check(alpha > 0 && std::isfinite(alpha), origin, ": LoRA alpha must be positive, got ", alpha);
  check(dropout >= 0 && dropout < 1, origin, ": LoRA dropout must be in [0, 1), got ", dropout);
  check(int64_t(layers.size()) == c.n_layer, origin, ": the adapter has ", layers.size(),
        " layers, the model has ", c.n_layer);
  for (int l = 0; l < c.n_layer; ++l)
    for (int i = 0; i < kNumLinearModules; ++i) {
      const LinearModule m = LinearModule(i);
      const LoraPair& p = layers[size_t(l)][size_t(i)];
      if (p.empty()) continue;
      const auto [d_out, d_in] = module_shape(c, m);
      check(p.A.dtype == DType::F32 && p.B.dtype == DType::F32, origin, ": ", lora_weight_name(l, m, false),
            " and lora_B must be f32 in memory");
      check(p.A.shape == std::vector<int64_t>{rank, d_in}, origin, ": ", lora_weight_name(l, m, false), " has shape ",
            p.A.shape_str(), ", expected [", rank, ", ", d_in, "] (rank ", rank, ", this model's ", module_name(m),
            " input width)");
      check(p.B.shape == std::vector<int64_t>{d_out, rank}, origin, ": ", lora_weight_name(l, m, true), " has shape ",
            p.B.shape_str(), ", expected [", d_out, ", ", rank, "] (this model's ", module_name(m),
            " output width, rank ", rank, ")");
    }
}

namespace {

// Floats of scratch that p's LoRA term takes: u [T, r].
size_t lora_floats(int64_t T, const Projection& p) { return p.lora ? size_t(T * p.lora->A.dim(0)) : 0; }

// p as an ops output; with a LoRA, u [T, r] = scale · x·Aᵀ is computed here into u.
ops::LinearOutput output_of(const float* x, int64_t T, const Projection& p, float scale, float* u) {
  ops::LinearOutput out{p.W, p.y, p.accumulate, p.bias};
  if (!p.lora) return out;
  const Tensor &W = *p.W, &A = p.lora->A, &B = p.lora->B;
  const int64_t r = A.dim(0);
  if (A.dim(1) != W.dim(1) || B.dim(0) != W.dim(0) || B.dim(1) != r)
    fail("LoRA A ", A.shape_str(), " and B ", B.shape_str(), " do not fit a weight of shape ", W.shape_str());
  ops::lora_project(x, T, A, u);  // u [T, r] = x · Aᵀ
  for (int64_t i = 0; i < T * r; ++i) u[i] *= scale;
  out.u = u;
  out.B = &B;
  return out;
}

// The ops outputs of ps, their LoRA terms' u laid out one after another in scratch.
std::vector<ops::LinearOutput> outputs_of(const float* x, int64_t T, std::span<const Projection> ps, float scale,
                                          std::vector<float>& scratch) {
  size_t floats = 0;
  for (const Projection& p : ps) floats += lora_floats(T, p);
  if (scratch.size() < floats) scratch.resize(floats);
  std::vector<ops::LinearOutput> outs;
  outs.reserve(ps.size());
  size_t at = 0;
  for (const Projection& p : ps) {
    outs.push_back(output_of(x, T, p, scale, scratch.data() + at));
    at += lora_floats(T, p);
  }
  return outs;
}

}  // namespace

void project(const float* x, int64_t T, const Tensor& W, const float* bias, const LoraPair* lora, float scale,
             float* y, bool accumulate, std::vector<float>& scratch) {
  const Projection p{&W, bias, lora, y, accumulate};
  project_all(x, T, {&p, 1}, scale, scratch);
}

void project_all(const float* x, int64_t T, std::span<const Projection> projections, float scale,
                 std::vector<float>& scratch) {
  ops::linear_multi(x, T, outputs_of(x, T, projections, scale, scratch));
}

void project_swiglu(const float* x, int64_t T, const Projection& gate, const Projection& up, float scale,
                    std::vector<float>& scratch) {
  const Projection ps[] = {gate, up};
  const std::vector<ops::LinearOutput> outs = outputs_of(x, T, ps, scale, scratch);
  ops::linear_swiglu(x, T, outs[0], outs[1]);
}

}  // namespace tunekit
