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

float LoraAdapter::scale() const {
  check(rank > 0, "LoRA rank must be positive, got ", rank);
  return float(rslora ? alpha / std::sqrt(double(rank)) : alpha / double(rank));
}

const LoraPair* LoraAdapter::find(int layer, LinearModule m) const {
  if (layer < 0 || size_t(layer) >= layers.size()) return nullptr;
  const LoraPair& p = layers[size_t(layer)][size_t(m)];
  return p.empty() ? nullptr : &p;
}

void project(const float* x, int64_t T, const Tensor& W, const float* bias, const LoraPair* lora, float scale,
             float* y, bool accumulate, std::vector<float>& scratch) {
  ops::linear(x, T, W, bias, y, accumulate);  // y [T, d_out]
  if (!lora) return;
  const int64_t r = lora->A.dim(0);
  check(lora->A.dim(1) == W.dim(1) && lora->B.dim(0) == W.dim(0) && lora->B.dim(1) == r, "LoRA A ",
        lora->A.shape_str(), " and B ", lora->B.shape_str(), " do not fit a weight of shape ", W.shape_str());
  if (scratch.size() < size_t(T * r)) scratch.resize(size_t(T * r));
  ops::linear(x, T, lora->A, nullptr, scratch.data());  // u [T, r] = x · Aᵀ
  for (int64_t i = 0; i < T * r; ++i) scratch[size_t(i)] *= scale;
  ops::linear(scratch.data(), T, lora->B, nullptr, y, /*accumulate=*/true);  // y += scale · u · Bᵀ
}

}  // namespace tunekit
