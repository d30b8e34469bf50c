// ModelConfig: the shape and hyper-parameters of a Llama-family decoder (Llama, Mistral, Qwen2,
// SmolLM2, TinyLlama), read from / written to HF config.json and GGUF metadata.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tunekit/ops/ops.h"

namespace tunekit {

class GgufFile;
class GgufWriter;

struct ModelConfig {
  std::string arch = "llama";  // "llama" | "mistral" | "qwen2"
  int64_t n_vocab = 0;
  int64_t d_model = 0;         // hidden_size
  int64_t d_ff = 0;            // intermediate_size
  int64_t n_layer = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t d_head = 0;          // head_dim (hidden_size / heads unless given)
  int64_t n_ctx = 2048;        // max_position_embeddings
  double rms_eps = 1e-5;
  ops::RopeConfig rope;
  bool tied_embeddings = false;
  bool qkv_bias = false;       // Qwen2, or Llama's attention_bias
  int64_t sliding_window = 0;  // 0 = full attention (Mistral sets it)
  int32_t bos_id = 1;
  int32_t eos_id = 2;

  int64_t d_q() const { return n_head * d_head; }      // width of q and of attention output
  int64_t d_kv() const { return n_head_kv * d_head; }  // width of k and v

  // Throws Error naming origin and the inconsistent field.
  void validate(const std::string& origin) const;

  // HF config.json. origin names the file in error messages.
  static ModelConfig from_hf_json(const nlohmann::json& j, const std::string& origin);
  nlohmann::json to_hf_json() const;

  // GGUF metadata (llama.cpp keys: general.architecture, <arch>.embedding_length, ...).
  static ModelConfig from_gguf(const GgufFile& gguf);
  void write_gguf(GgufWriter& out) const;
  // The GGUF architecture name llama.cpp uses for this model ("llama" for llama and mistral).
  std::string gguf_arch() const;
};

}  // namespace tunekit
