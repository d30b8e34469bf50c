#include "rag/bert_config.h"

#include <algorithm>

#include "tunekit/error.h"
#include "tunekit/io/file_util.h"

namespace tunekit::rag {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

int64_t positive_int(const json& j, const char* key, const fs::path& file) {
  check(j.contains(key), file.string(), ": missing \"", key, "\"");
  check(j[key].is_number_integer() && j[key].get<int64_t>() > 0, file.string(), ": \"", key,
        "\" must be a positive integer, got ", j[key].dump());
  return j[key].get<int64_t>();
}

std::string string_or(const json& j, const char* key, const std::string& fallback, const fs::path& file) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  check(j[key].is_string(), file.string(), ": \"", key, "\" must be a string, got ", j[key].dump());
  return j[key].get<std::string>();
}

bool flag(const json& j, const char* key, const fs::path& file) {
  if (!j.contains(key) || j[key].is_null()) return false;
  check(j[key].is_boolean(), file.string(), ": \"", key, "\" must be true or false, got ", j[key].dump());
  return j[key].get<bool>();
}

BertConfig read_bert_config(const fs::path& file) {
  check(fs::exists(file), file.string(), ": not found; hint: a sentence encoder folder holds the model's ",
        "config.json, model.safetensors and tokenizer (e.g. sentence-transformers/all-MiniLM-L6-v2)");
  const json j = read_json_file(file);
  check(j.is_object(), file.string(), ": expected a JSON object");
  const std::string type = string_or(j, "model_type", "bert", file);
  check(type == "bert", file.string(), ": model_type '", type, "' is not a BERT encoder (supported: bert)");
  BertConfig c;
  c.n_vocab = positive_int(j, "vocab_size", file);
  c.d_model = positive_int(j, "hidden_size", file);
  c.n_layer = positive_int(j, "num_hidden_layers", file);
  c.n_head = positive_int(j, "num_attention_heads", file);
  c.d_ff = positive_int(j, "intermediate_size", file);
  c.n_position = positive_int(j, "max_position_embeddings", file);
  c.n_token_type = j.contains("type_vocab_size") ? positive_int(j, "type_vocab_size", file) : 2;
  if (j.contains("layer_norm_eps")) {
    check(j["layer_norm_eps"].is_number(), file.string(), ": \"layer_norm_eps\" must be a number");
    c.layer_norm_eps = j["layer_norm_eps"].get<float>();
  }
  check(c.d_model % c.n_head == 0, file.string(), ": hidden_size ", c.d_model, " is not a multiple of ",
        "num_attention_heads ", c.n_head);
  const std::string act = string_or(j, "hidden_act", "gelu", file);
  check(act == "gelu", file.string(), ": hidden_act '", act, "' is not supported (BERT's exact-erf \"gelu\" is)");
  const std::string positions = string_or(j, "position_embedding_type", "absolute", file);
  check(positions == "absolute", file.string(), ": position_embedding_type '", positions,
        "' is not supported (\"absolute\" is)");
  return c;
}

// 1_Pooling/config.json; mean pooling where the folder has none (sentence-transformers' default).
Pooling read_pooling(const fs::path& dir) {
  const fs::path file = dir / "1_Pooling" / "config.json";
  if (!fs::exists(file)) return Pooling::Mean;
  const json j = read_json_file(file);
  check(j.is_object(), file.string(), ": expected a JSON object");
  const bool mean = flag(j, "pooling_mode_mean_tokens", file), cls = flag(j, "pooling_mode_cls_token", file);
  for (const char* other : {"pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens",
                            "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"})
    check(!flag(j, other, file), file.string(), ": ", other, " is not supported (mean and CLS pooling are)");
  check(mean != cls, file.string(), ": exactly one of pooling_mode_mean_tokens and pooling_mode_cls_token must be ",
        "true, got ", mean ? "both" : "neither");
  return cls ? Pooling::Cls : Pooling::Mean;
}

}  // namespace

EncoderFolderConfig read_encoder_config(const fs::path& dir) {
  check(fs::is_directory(dir), dir.string(), ": no such folder; hint: give the folder of a sentence encoder ",
        "(config.json, model.safetensors, tokenizer.json or vocab.txt)");
  EncoderFolderConfig c;
  c.bert = read_bert_config(dir / "config.json");
  c.pooling = read_pooling(dir);
  c.max_tokens = c.bert.n_position;
  const fs::path st_file = dir / "sentence_bert_config.json";
  if (fs::exists(st_file)) {
    const json j = read_json_file(st_file);
    check(j.is_object(), st_file.string(), ": expected a JSON object");
    if (j.contains("max_seq_length")) c.max_tokens = std::min(c.max_tokens, positive_int(j, "max_seq_length", st_file));
  }
  check(c.max_tokens >= 2, dir.string(), ": max_seq_length must leave room for [CLS] and [SEP]");
  return c;
}

}  // namespace tunekit::rag
