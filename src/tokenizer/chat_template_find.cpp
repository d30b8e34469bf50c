// Where a model keeps its chat template and special tokens: HF folders and config files, GGUF.

#include "tunekit/error.h"
#include "tunekit/io/file_util.h"
#include "tunekit/io/gguf.h"
#include "tunekit/tokenizer/chat_template.h"

namespace tunekit {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

json read_json(const fs::path& path) {
  try {
    return json::parse(read_text_file(path));
  } catch (const json::exception& e) {
    fail(path.string(), ": not valid JSON (", e.what(), ")");
  }
}

bool is_gguf(const fs::path& path) { return path.extension() == ".gguf"; }

// "chat_template" of a tokenizer_config.json / chat_template.json: a string, or a list of
// {"name": ..., "template": ...}.
std::optional<std::string> template_from_config(const fs::path& path, const std::string& name) {
  json config = read_json(path);
  if (!config.is_object() || !config.contains("chat_template") || config["chat_template"].is_null()) return std::nullopt;
  const json& field = config["chat_template"];
  if (field.is_string()) {
    if (name == "default") return field.get<std::string>();
    return std::nullopt;
  }
  check(field.is_array(), path.string(), ": \"chat_template\" must be a string or a list of {name, template}");
  std::string names;
  for (const json& entry : field) {
    check(entry.is_object() && entry.contains("name") && entry["name"].is_string() && entry.contains("template") &&
              entry["template"].is_string(),
          path.string(), ": each \"chat_template\" entry needs a string \"name\" and \"template\"");
    if (entry["name"].get<std::string>() == name) return entry["template"].get<std::string>();
    names += (names.empty() ? "" : ", ") + entry["name"].get<std::string>();
  }
  fail(path.string(), ": has chat templates named ", names, " but none named '", name, "'");
}

std::optional<std::string> template_from_gguf(const fs::path& path, const std::string& name) {
  GgufFile gguf = GgufFile::open(path);
  std::string key = name == "default" ? "tokenizer.chat_template" : "tokenizer.chat_template." + name;
  if (!gguf.has(key)) return std::nullopt;
  return gguf.get_string(key);
}

std::optional<std::string> template_from_folder(const fs::path& dir, const std::string& name) {
  if (name == "default" && fs::exists(dir / "chat_template.jinja")) return read_text_file(dir / "chat_template.jinja");
  fs::path named = dir / "additional_chat_templates" / (name + ".jinja");
  if (name != "default" && fs::exists(named)) return read_text_file(named);
  for (const char* config : {"chat_template.json", "tokenizer_config.json"})
    if (fs::exists(dir / config))
      if (auto found = template_from_config(dir / config, name)) return found;
  return std::nullopt;
}

// A special token in tokenizer_config.json: "<s>" or {"content": "<s>", ...} (an AddedToken).
std::optional<std::string> token_text(const json& config, const char* key) {
  if (!config.contains(key)) return std::nullopt;
  const json& v = config[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return std::nullopt;
}

std::optional<std::string> gguf_token(const GgufFile& gguf, const char* id_key) {
  if (!gguf.has(id_key) || !gguf.has("tokenizer.ggml.tokens")) return std::nullopt;
  int64_t id = gguf.get_int(id_key);
  const auto& tokens = gguf.get_string_array("tokenizer.ggml.tokens");
  if (id < 0 || static_cast<size_t>(id) >= tokens.size()) return std::nullopt;
  return tokens[static_cast<size_t>(id)];
}

}  // namespace

std::optional<std::string> find_chat_template(const fs::path& path, const std::string& name) {
  if (fs::is_directory(path)) return template_from_folder(path, name);
  check(fs::exists(path), path.string(), ": no such file or folder");
  if (is_gguf(path)) return template_from_gguf(path, name);
  if (path.extension() == ".json") return template_from_config(path, name);
  return read_text_file(path);
}

ChatSpecialTokens find_chat_special_tokens(const fs::path& path) {
  ChatSpecialTokens tokens;
  if (is_gguf(path)) {
    GgufFile gguf = GgufFile::open(path);
    tokens.bos_token = gguf_token(gguf, "tokenizer.ggml.bos_token_id");
    tokens.eos_token = gguf_token(gguf, "tokenizer.ggml.eos_token_id");
    return tokens;
  }
  fs::path config = fs::is_directory(path) ? path / "tokenizer_config.json" : path;
  if (config.extension() != ".json" || !fs::exists(config)) return tokens;
  json j = read_json(config);
  if (!j.is_object()) return tokens;
  tokens.bos_token = token_text(j, "bos_token");
  tokens.eos_token = token_text(j, "eos_token");
  return tokens;
}

}  // namespace tunekit
