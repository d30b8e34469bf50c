// PEFT LoRA folders: adapter_config.json <-> LoraAdapter's hyper-parameters, and
// adapter_model.safetensors <-> its A/B factors.
#include "tunekit/adapters/peft.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>

#include "tunekit/error.h"
#include "tunekit/io/atomic_file.h"
#include "tunekit/io/file_util.h"
#include "tunekit/io/safetensors.h"
#include "tunekit/ops/ops.h"

namespace tunekit {

namespace {

using nlohmann::json;

constexpr const char* kConfigFile = "adapter_config.json";
constexpr const char* kWeightsFile = "adapter_model.safetensors";
constexpr const char* kPeftPrefix = "base_model.model.";

std::string supported_modules() {
  std::string s;
  for (int i = 0; i < kNumLinearModules; ++i) s += std::string(i ? ", " : "") + module_name(LinearModule(i));
  return s;
}

// ---- adapter_config.json -------------------------------------------------------------------------

// The layers that hold any LoRA factor; empty when every layer holds every target (PEFT's null).
std::vector<int> layers_to_transform(const LoraAdapter& a) {
  std::vector<int> used;
  bool all = true;
  for (size_t l = 0; l < a.layers.size(); ++l) {
    bool any = false;
    for (LinearModule m : a.targets) {
      any = any || a.find(int(l), m);
      all = all && a.find(int(l), m);
    }
    if (any) used.push_back(int(l));
  }
  return all ? std::vector<int>{} : used;
}

json config_json(const LoraAdapter& a) {
  json targets = json::array();
  for (LinearModule m : a.targets) targets.push_back(module_name(m));
  std::vector<int> layers = layers_to_transform(a);
  // The keys PEFT 0.11 writes (newer PEFT reads them; older PEFT rejects keys it does not know).
  return json{{"alpha_pattern", json::object()},
              {"auto_mapping", nullptr},
              {"base_model_name_or_path", a.base_model.empty() ? json(nullptr) : json(a.base_model)},
              {"bias", "none"},
              {"fan_in_fan_out", false},
              {"inference_mode", true},
              {"init_lora_weights", true},
              {"layers_pattern", nullptr},
              {"layers_to_transform", layers.empty() ? json(nullptr) : json(layers)},
              {"loftq_config", json::object()},
              {"lora_alpha", a.alpha},
              {"lora_dropout", a.dropout},
              {"megatron_config", nullptr},
              {"megatron_core", "megatron.core"},
              {"modules_to_save", nullptr},
              {"peft_type", "LORA"},
              {"r", a.rank},
              {"rank_pattern", json::object()},
              {"revision", nullptr},
              {"target_modules", targets},
              {"task_type", "CAUSAL_LM"},
              {"use_dora", false},
              {"use_rslora", a.rslora}};
}

// Typed field access with the file and key in every error.
class ConfigReader {
 public:
  ConfigReader(json j, std::string origin) : j_(std::move(j)), origin_(std::move(origin)) {
    check(j_.is_object(), origin_, ": expected a JSON object");
  }
  bool has(const char* key) const { return j_.contains(key) && !j_[key].is_null(); }
  const json& get(const char* key) const { return j_.at(key); }
  template <class T>
  T value(const char* key, T fallback) const {
    if (!has(key)) return fallback;
    const json& v = j_[key];
    bool ok = std::is_same_v<T, bool> ? v.is_boolean() : std::is_same_v<T, std::string> ? v.is_string()
              : std::is_integral_v<T> ? v.is_number_integer() : v.is_number();
    check(ok, origin_, ": field '", key, "' has the wrong type (", v.dump(), ")");
    return v.get<T>();
  }
  // Refuses a feature we do not implement: the field is present and not its neutral value.
  void refuse_unless(bool neutral, const char* key, const char* why) const {
    if (!neutral) fail(origin_, ": ", key, " = ", j_.at(key).dump(), " is not supported (", why, ")");
  }
  bool empty_or_null(const char* key) const { return !has(key) || j_[key].empty(); }
  const std::string& origin() const { return origin_; }

 private:
  json j_;
  std::string origin_;
};

struct PeftConfig {
  LoraAdapter hyper;                        // rank, alpha, dropout, rslora, base_model
  std::optional<std::vector<LinearModule>> targets;  // none when target_modules is a regex
  std::optional<std::vector<int>> layers;   // layers_to_transform; none = every layer
};

PeftConfig parse_config(const std::filesystem::path& path, const ModelConfig& model) {
  const ConfigReader c(read_json_file(path), path.string());
  PeftConfig out;
  LoraAdapter& h = out.hyper;
  const std::string type = c.value<std::string>("peft_type", "LORA");
  check(type == "LORA", c.origin(), ": peft_type '", type, "' is not supported (tunekit reads LORA adapters)");
  h.rank = c.value<int64_t>("r", 8);
  h.alpha = c.value<double>("lora_alpha", 8.0);
  h.dropout = c.value<double>("lora_dropout", 0.0);
  h.rslora = c.value<bool>("use_rslora", false);
  h.base_model = c.value<std::string>("base_model_name_or_path", "");
  c.refuse_unless(!c.value<bool>("use_dora", false), "use_dora", "DoRA adapters are not implemented");
  c.refuse_unless(!c.value<bool>("fan_in_fan_out", false), "fan_in_fan_out",
                  "only torch.nn.Linear layouts, not GPT-2's Conv1D");
  c.refuse_unless(c.value<std::string>("bias", "none") == "none", "bias", "trained biases are not implemented");
  c.refuse_unless(!c.value<bool>("lora_bias", false), "lora_bias", "trained LoRA biases are not implemented");
  c.refuse_unless(c.empty_or_null("rank_pattern"), "rank_pattern", "one rank for every layer only");
  c.refuse_unless(c.empty_or_null("alpha_pattern"), "alpha_pattern", "one alpha for every layer only");
  c.refuse_unless(c.empty_or_null("modules_to_save"), "modules_to_save", "fully trained extra modules are not supported");
  c.refuse_unless(!c.has("layer_replication"), "layer_replication", "layer replication is not implemented");
  c.refuse_unless(c.empty_or_null("target_parameters"), "target_parameters", "LoRA on raw parameters is not implemented");
  check(h.rank >= 1, c.origin(), ": r must be >= 1, got ", h.rank);

  if (c.has("target_modules") && c.get("target_modules").is_array()) {
    std::vector<LinearModule> targets;
    for (const json& v : c.get("target_modules")) {
      check(v.is_string(), c.origin(), ": target_modules holds a non-string ", v.dump());
      const std::string name = v.get<std::string>();
      auto m = module_from_name(name.substr(name.rfind('.') + 1));  // "q_proj" or "self_attn.q_proj"
      check(m.has_value(), c.origin(), ": target module '", name, "' is not supported: tunekit applies LoRA to ",
            supported_modules(), " (not embeddings or lm_head)");
      targets.push_back(*m);
    }
    std::sort(targets.begin(), targets.end());
    targets.erase(std::unique(targets.begin(), targets.end()), targets.end());
    check(!targets.empty(), c.origin(), ": target_modules is empty");
    out.targets = targets;
  } else {  // a regex string (or absent): the tensors present say which modules are adapted
    check(!c.has("target_modules") || c.get("target_modules").is_string(), c.origin(),
          ": target_modules must be a list of names or a regex string");
  }

  if (c.has("layers_to_transform")) {
    const json& v = c.get("layers_to_transform");
    std::vector<int> layers;
    if (v.is_number_integer()) layers.push_back(v.get<int>());
    else {
      check(v.is_array(), c.origin(), ": layers_to_transform must be an integer or a list of integers");
      for (const json& x : v) {
        check(x.is_number_integer(), c.origin(), ": layers_to_transform holds ", x.dump());
        layers.push_back(x.get<int>());
      }
    }
    for (int l : layers)
      check(l >= 0 && l < model.n_layer, c.origin(), ": layers_to_transform names layer ", l, ", the model has ",
            model.n_layer, " layers");
    out.layers = layers;
  }
  return out;
}

// ---- adapter_model.safetensors -------------------------------------------------------------------

struct FactorName {
  int layer;
  LinearModule module;
  bool is_b;
};

// "[base_model.model.]model.layers.{l}.{self_attn|mlp}.{module}.lora_{A|B}[.{adapter}].weight".
std::optional<FactorName> parse_factor_name(std::string name) {
  if (name.starts_with(kPeftPrefix)) name.erase(0, std::strlen(kPeftPrefix));
  const std::string layers = "model.layers.";
  if (!name.starts_with(layers)) return std::nullopt;
  size_t p = layers.size(), dot = name.find('.', p);
  if (dot == std::string::npos || dot == p || dot - p > 6) return std::nullopt;
  const std::string digits = name.substr(p, dot - p);
  if (!std::all_of(digits.begin(), digits.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) return std::nullopt;
  const int layer = std::stoi(digits);
  for (int i = 0; i < kNumLinearModules; ++i) {
    const LinearModule m = LinearModule(i);
    const std::string stem = std::string(module_group(m)) + "." + module_name(m) + ".lora_";
    if (name.compare(dot + 1, stem.size(), stem) != 0) continue;
    std::string rest = name.substr(dot + 1 + stem.size());  // "A.weight" or "A.default.weight"
    if (rest.size() < 2 || (rest[0] != 'A' && rest[0] != 'B') || rest[1] != '.' || !rest.ends_with(".weight"))
      return std::nullopt;
    return FactorName{layer, m, rest[0] == 'B'};
  }
  return std::nullopt;
}

Tensor to_owned_f32(const Tensor& t, const std::string& origin, const std::string& name) {
  check(t.dtype == DType::F32 || t.dtype == DType::F16 || t.dtype == DType::BF16, origin, ": tensor '", name,
        "' is ", dtype_name(t.dtype), " (LoRA factors must be f32, f16 or bf16)");
  return t.dtype == DType::F32 ? t.clone() : ops::convert(t, DType::F32);
}

}  // namespace

void save_peft_adapter(const LoraAdapter& adapter, const ModelConfig& model, const std::filesystem::path& dir) {
  adapter.validate(model, dir.string());
  check(!adapter.targets.empty(), dir.string(), ": the adapter lists no target modules");
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (int l = 0; l < model.n_layer; ++l)
    for (int i = 0; i < kNumLinearModules; ++i)
      if (const LoraPair* p = adapter.find(l, LinearModule(i))) {
        check(std::find(adapter.targets.begin(), adapter.targets.end(), LinearModule(i)) != adapter.targets.end(),
              dir.string(), ": layer ", l, " has a LoRA on ", module_name(LinearModule(i)),
              ", which is not among the adapter's targets");
        tensors.emplace_back(kPeftPrefix + lora_weight_name(l, LinearModule(i), false), p->A);
        tensors.emplace_back(kPeftPrefix + lora_weight_name(l, LinearModule(i), true), p->B);
      }
  check(!tensors.empty(), dir.string(), ": the adapter has no LoRA factors to save");
  // Everything is built before the folder is touched; then both files are written to temp files
  // and renamed only once both are complete.
  const std::string weights = serialize_safetensors(tensors, {{"format", "pt"}}, (dir / kWeightsFile).string());
  const std::string config = config_json(adapter).dump(2) + "\n";
  std::error_code ec;
  const bool created = !std::filesystem::exists(dir, ec);
  std::filesystem::create_directories(dir, ec);
  check(!ec, dir.string(), ": cannot create the adapter folder (", ec.message(), ")");
  try {
    AtomicFile w(dir / kWeightsFile), c(dir / kConfigFile);
    w.write(weights);
    c.write(config);
    w.commit();
    c.commit();
  } catch (...) {
    if (created) std::filesystem::remove_all(dir, ec);
    throw;
  }
}

LoraAdapter load_peft_adapter(const std::filesystem::path& dir, const ModelConfig& model) {
  check(std::filesystem::is_directory(dir), dir.string(), ": not a folder (a PEFT adapter is a folder with ",
        kConfigFile, " and ", kWeightsFile, ")");
  const std::filesystem::path config_path = dir / kConfigFile, weights_path = dir / kWeightsFile;
  check(std::filesystem::exists(config_path), config_path.string(), ": missing (is this a PEFT adapter folder?)");
  check(std::filesystem::exists(weights_path), weights_path.string(),
        ": missing (tunekit reads safetensors adapters; convert adapter_model.bin with PEFT first)");
  PeftConfig cfg = parse_config(config_path, model);
  const std::string origin = weights_path.string();
  TensorFile file = read_safetensors(weights_path);
  for (const auto& [name, dtype] : file.skipped)
    fail(origin, ": tensor '", name, "' has dtype ", dtype, " (LoRA factors must be f32, f16 or bf16)");

  LoraAdapter a = std::move(cfg.hyper);
  a.layers.resize(size_t(model.n_layer));
  std::vector<bool> used(kNumLinearModules, false);
  for (const auto& [name, t] : file.tensors) {
    auto f = parse_factor_name(name);
    check(f.has_value(), origin, ": tensor '", name, "' is not a LoRA factor tunekit can apply (supported: lora_A/lora_B of ",
          supported_modules(), "; no embeddings, lm_head or modules_to_save)");
    check(f->layer < model.n_layer, origin, ": tensor '", name, "' is for layer ", f->layer, ", the model has ",
          model.n_layer, " layers");
    check(!cfg.targets || std::binary_search(cfg.targets->begin(), cfg.targets->end(), f->module), origin,
          ": tensor '", name, "' adapts ", module_name(f->module), ", which target_modules does not list");
    check(!cfg.layers || std::count(cfg.layers->begin(), cfg.layers->end(), f->layer), origin, ": tensor '", name,
          "' is for layer ", f->layer, ", which layers_to_transform does not list");
    LoraPair& p = a.layers[size_t(f->layer)][size_t(f->module)];
    Tensor& slot = f->is_b ? p.B : p.A;
    check(slot.empty(), origin, ": two tensors for ", lora_weight_name(f->layer, f->module, f->is_b),
          " (more than one adapter in the file?)");
    const auto [d_out, d_in] = module_shape(model, f->module);
    const std::vector<int64_t> want = f->is_b ? std::vector<int64_t>{d_out, a.rank} : std::vector<int64_t>{a.rank, d_in};
    check(t.shape == want, origin, ": tensor '", name, "' has shape ", t.shape_str(), ", expected [", want[0], ", ",
          want[1], "] (r = ", a.rank, " from adapter_config.json; this model's ", module_name(f->module), " is [", d_out,
          ", ", d_in, "])");
    slot = to_owned_f32(t, origin, name);
    used[size_t(f->module)] = true;
  }
  for (int i = 0; i < kNumLinearModules; ++i)
    if (cfg.targets ? std::binary_search(cfg.targets->begin(), cfg.targets->end(), LinearModule(i)) : used[size_t(i)])
      a.targets.push_back(LinearModule(i));
  check(!a.targets.empty(), origin, ": no LoRA factors found");

  // Every (layer, target) PEFT would have adapted must be complete.
  for (int l = 0; l < model.n_layer; ++l) {
    const bool layer_adapted = !cfg.layers || std::count(cfg.layers->begin(), cfg.layers->end(), l);
    for (LinearModule m : a.targets) {
      const LoraPair& p = a.layers[size_t(l)][size_t(m)];
      const bool need = layer_adapted && cfg.targets.has_value();
      if (!need && p.A.empty() && p.B.empty()) continue;
      check(!p.A.empty(), origin, ": tensor '", kPeftPrefix, lora_weight_name(l, m, false), "' is missing");
      check(!p.B.empty(), origin, ": tensor '", kPeftPrefix, lora_weight_name(l, m, true), "' is missing");
    }
  }
  a.validate(model, origin);
  return a;
}

}  // namespace tunekit
