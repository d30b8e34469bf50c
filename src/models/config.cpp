#include "tunekit/models/config.h"

#include "tunekit/error.h"
#include "tunekit/io/gguf.h"

namespace tunekit {

namespace {

struct ArchName {
  const char* hf_class;
  const char* model_type;
};
constexpr ArchName kArchs[] = {
    {"LlamaForCausalLM", "llama"}, {"MistralForCausalLM", "mistral"}, {"Qwen2ForCausalLM", "qwen2"}};

std::string arch_from_hf(const nlohmann::json& j, const std::string& origin) {
  std::string seen;
  if (j.contains("architectures") && j["architectures"].is_array() && !j["architectures"].empty() &&
      j["architectures"][0].is_string()) {
    seen = j["architectures"][0].get<std::string>();
    for (auto a : kArchs)
      if (seen == a.hf_class) return a.model_type;
  }
  if (j.contains("model_type") && j["model_type"].is_string()) {
    std::string type = j["model_type"];
    for (auto a : kArchs)
      if (type == a.model_type) return a.model_type;
    if (seen.empty()) seen = type;
  }
  fail(origin, ": unsupported architecture '", seen.empty() ? "(none given)" : seen,
       "' (supported: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM)");
}

// A required positive integer field.
int64_t get_int(const nlohmann::json& j, const char* key, const std::string& origin) {
  check(j.contains(key), origin, ": missing \"", key, "\"");
  check(j[key].is_number_integer(), origin, ": \"", key, "\" must be an integer, got ", j[key].dump());
  return j[key].get<int64_t>();
}

int64_t get_int_or(const nlohmann::json& j, const char* key, int64_t fallback, const std::string& origin) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  return get_int(j, key, origin);
}

double get_number_or(const nlohmann::json& j, const char* key, double fallback, const std::string& origin) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  check(j[key].is_number(), origin, ": \"", key, "\" must be a number, got ", j[key].dump());
  return j[key].get<double>();
}

bool get_bool_or(const nlohmann::json& j, const char* key, bool fallback, const std::string& origin) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  check(j[key].is_boolean(), origin, ": \"", key, "\" must be true or false, got ", j[key].dump());
  return j[key].get<bool>();
}

std::string get_string_or(const nlohmann::json& j, const char* key, const std::string& fallback,
                          const std::string& origin) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  check(j[key].is_string(), origin, ": \"", key, "\" must be a string, got ", j[key].dump());
  return j[key].get<std::string>();
}

// bos/eos may be an int or a list (Llama 3 lists several EOS ids): take the first.
int32_t get_token_id_or(const nlohmann::json& j, const char* key, int32_t fallback) {
  if (!j.contains(key)) return fallback;
  const auto& v = j[key];
  if (v.is_number_integer()) return v.get<int32_t>();
  if (v.is_array() && !v.empty() && v[0].is_number_integer()) return v[0].get<int32_t>();
  return fallback;
}

ops::RopeConfig rope_from_hf(const nlohmann::json& j, const std::string& origin) {
  ops::RopeConfig rope;
  rope.theta = get_number_or(j, "rope_theta", 10000.0, origin);
  if (!j.contains("rope_scaling") || j["rope_scaling"].is_null()) return rope;
  const auto& s = j["rope_scaling"];
  check(s.is_object(), origin, ": \"rope_scaling\" must be an object or null");
  const std::string type = get_string_or(s, "rope_type", get_string_or(s, "type", "default", origin), origin);
  if (type == "default") return rope;
  check(type == "linear" || type == "llama3", origin, ": rope_scaling type '", type,
        "' is not supported (supported: linear, llama3)");
  rope.scaling = type;
  rope.factor = get_number_or(s, "factor", 1.0, origin);
  if (type == "llama3") {
    rope.low_freq_factor = get_number_or(s, "low_freq_factor", 1.0, origin);
    rope.high_freq_factor = get_number_or(s, "high_freq_factor", 4.0, origin);
    rope.original_max_position = get_int_or(s, "original_max_position_embeddings", 8192, origin);
  }
  return rope;
}

}  // namespace

void ModelConfig::validate(const std::string& origin) const {
  auto positive = [&](int64_t v, const char* name) {
    check(v > 0 && v < (int64_t(1) << 31), origin, ": ", name, " must be a positive integer below 2^31, got ", v);
  };
  positive(n_vocab, "vocab_size");
  positive(d_model, "hidden_size");
  positive(d_ff, "intermediate_size");
  positive(n_layer, "num_hidden_layers");
  positive(n_head, "num_attention_heads");
  positive(n_head_kv, "num_key_value_heads");
  positive(d_head, "head_dim");
  positive(n_ctx, "max_position_embeddings");
  check(n_head % n_head_kv == 0, origin, ": num_attention_heads (", n_head, ") must be a multiple of num_key_value_heads (",
        n_head_kv, ")");
  check(d_head % 2 == 0, origin, ": head_dim (", d_head, ") must be even for RoPE");
  check(rms_eps > 0 && rms_eps < 1, origin, ": rms_norm_eps must be in (0, 1), got ", rms_eps);
  check(rope.theta > 0, origin, ": rope_theta must be positive, got ", rope.theta);
  check(rope.factor > 0, origin, ": rope_scaling factor must be positive, got ", rope.factor);
  check(sliding_window >= 0, origin, ": sliding_window must not be negative");
}

ModelConfig ModelConfig::from_hf_json(const nlohmann::json& j, const std::string& origin) {
  check(j.is_object(), origin, ": expected a JSON object");
  ModelConfig c;
  c.arch = arch_from_hf(j, origin);
  c.n_vocab = get_int(j, "vocab_size", origin);
  c.d_model = get_int(j, "hidden_size", origin);
  c.d_ff = get_int(j, "intermediate_size", origin);
  c.n_layer = get_int(j, "num_hidden_layers", origin);
  c.n_head = get_int(j, "num_attention_heads", origin);
  c.n_head_kv = get_int_or(j, "num_key_value_heads", c.n_head, origin);
  check(c.n_head > 0, origin, ": num_attention_heads must be positive");
  c.d_head = get_int_or(j, "head_dim", c.d_model / c.n_head, origin);
  c.n_ctx = get_int_or(j, "max_position_embeddings", 2048, origin);
  c.rms_eps = get_number_or(j, "rms_norm_eps", 1e-6, origin);
  c.rope = rope_from_hf(j, origin);
  c.tied_embeddings = get_bool_or(j, "tie_word_embeddings", false, origin);
  c.qkv_bias = c.arch == "qwen2" || get_bool_or(j, "attention_bias", false, origin);
  if (c.arch == "mistral") c.sliding_window = get_int_or(j, "sliding_window", 0, origin);
  check(!(c.arch == "qwen2" && get_bool_or(j, "use_sliding_window", false, origin)), origin,
        ": Qwen2 use_sliding_window=true is not supported");
  const std::string act = get_string_or(j, "hidden_act", "silu", origin);
  check(act == "silu", origin, ": hidden_act '", act, "' is not supported (Llama-family models use silu)");
  c.bos_id = get_token_id_or(j, "bos_token_id", 1);
  c.eos_id = get_token_id_or(j, "eos_token_id", 2);
  c.validate(origin);
  return c;
}

nlohmann::json ModelConfig::to_hf_json() const {
  static const std::map<std::string, std::string> hf_class = {
      {"llama", "LlamaForCausalLM"}, {"mistral", "MistralForCausalLM"}, {"qwen2", "Qwen2ForCausalLM"}};
  nlohmann::json j;
  j["architectures"] = {hf_class.at(arch)};
  j["model_type"] = arch;
  j["vocab_size"] = n_vocab;
  j["hidden_size"] = d_model;
  j["intermediate_size"] = d_ff;
  j["num_hidden_layers"] = n_layer;
  j["num_attention_heads"] = n_head;
  j["num_key_value_heads"] = n_head_kv;
  j["head_dim"] = d_head;
  j["max_position_embeddings"] = n_ctx;
  j["rms_norm_eps"] = rms_eps;
  j["rope_theta"] = rope.theta;
  if (rope.scaling == "linear") {
    j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", rope.factor}};
  } else if (rope.scaling == "llama3") {
    j["rope_scaling"] = {{"rope_type", "llama3"},
                         {"factor", rope.factor},
                         {"low_freq_factor", rope.low_freq_factor},
                         {"high_freq_factor", rope.high_freq_factor},
                         {"original_max_position_embeddings", rope.original_max_position}};
  } else {
    j["rope_scaling"] = nullptr;
  }
  j["tie_word_embeddings"] = tied_embeddings;
  if (arch == "llama") j["attention_bias"] = qkv_bias;
  if (arch == "mistral") j["sliding_window"] = sliding_window > 0 ? nlohmann::json(sliding_window) : nlohmann::json();
  if (arch == "qwen2") j["use_sliding_window"] = false;
  j["hidden_act"] = "silu";
  j["bos_token_id"] = bos_id;
  j["eos_token_id"] = eos_id;
  j["torch_dtype"] = "float32";
  return j;
}

std::string ModelConfig::gguf_arch() const { return arch == "qwen2" ? "qwen2" : "llama"; }

ModelConfig ModelConfig::from_gguf(const GgufFile& g) {
  const std::string origin = g.path().string();
  ModelConfig c;
  std::string a = g.get_string("general.architecture");
  check(a == "llama" || a == "qwen2" || a == "mistral", origin, ": unsupported GGUF architecture '", a,
        "' (supported: llama, mistral, qwen2)");
  c.arch = a;
  auto key = [&](const std::string& k) { return a + "." + k; };
  c.d_model = g.get_int(key("embedding_length"));
  c.d_ff = g.get_int(key("feed_forward_length"));
  c.n_layer = g.get_int(key("block_count"));
  c.n_head = g.get_int(key("attention.head_count"));
  c.n_head_kv = g.get_int(key("attention.head_count_kv"), c.n_head);
  check(c.n_head > 0, origin, ": ", key("attention.head_count"), " must be positive");
  c.d_head = g.get_int(key("attention.key_length"), c.d_model / c.n_head);
  c.n_ctx = g.get_int(key("context_length"), 2048);
  c.rms_eps = g.get_float(key("attention.layer_norm_rms_epsilon"), 1e-5);
  c.rope.theta = g.get_float(key("rope.freq_base"), 10000.0);
  std::string scaling = g.get_string(key("rope.scaling.type"), "none");
  if (scaling == "linear") {
    c.rope.scaling = "linear";
    c.rope.factor = g.get_float(key("rope.scaling.factor"), 1.0);
  } else {
    check(scaling == "none", origin, ": rope scaling type '", scaling, "' is not supported (supported: none, linear)");
  }
  c.sliding_window = g.get_int(key("attention.sliding_window"), 0);
  c.qkv_bias = g.has_tensor("blk.0.attn_q.bias");
  c.tied_embeddings = !g.has_tensor("output.weight");
  const Tensor& embd = g.tensor("token_embd.weight");
  check(embd.rank() == 2, origin, ": token_embd.weight must be 2-D, is ", embd.shape_str());
  c.n_vocab = g.get_int(key("vocab_size"), embd.dim(0));
  c.bos_id = int32_t(g.get_int("tokenizer.ggml.bos_token_id", 1));
  c.eos_id = int32_t(g.get_int("tokenizer.ggml.eos_token_id", 2));
  c.validate(origin);
  return c;
}

void ModelConfig::write_gguf(GgufWriter& out) const {
  const std::string a = gguf_arch();
  auto key = [&](const std::string& k) { return a + "." + k; };
  out.set_string("general.architecture", a);
  out.set_u32(key("context_length"), uint32_t(n_ctx));
  out.set_u32(key("embedding_length"), uint32_t(d_model));
  out.set_u32(key("feed_forward_length"), uint32_t(d_ff));
  out.set_u32(key("block_count"), uint32_t(n_layer));
  out.set_u32(key("attention.head_count"), uint32_t(n_head));
  out.set_u32(key("attention.head_count_kv"), uint32_t(n_head_kv));
  out.set_u32(key("attention.key_length"), uint32_t(d_head));
  out.set_u32(key("attention.value_length"), uint32_t(d_head));
  out.set_f32(key("attention.layer_norm_rms_epsilon"), float(rms_eps));
  out.set_f32(key("rope.freq_base"), float(rope.theta));
  out.set_u32(key("rope.dimension_count"), uint32_t(d_head));
  out.set_u32(key("vocab_size"), uint32_t(n_vocab));
  if (rope.scaling == "linear") {
    out.set_string(key("rope.scaling.type"), "linear");
    out.set_f32(key("rope.scaling.factor"), float(rope.factor));
  }
  if (sliding_window > 0) out.set_u32(key("attention.sliding_window"), uint32_t(sliding_window));
}

}  // namespace tunekit
