#include "tunekit/infer/model_files.h"

#include "tunekit/error.h"
#include "tunekit/io/file_util.h"
#include "tunekit/io/gguf.h"

namespace tunekit {

namespace {

// A llama2.c tokenizer beside a checkpoint: tokenizer.bin, else the only tok*.bin.
std::optional<std::filesystem::path> llama2c_tokenizer_beside(const std::filesystem::path& model) {
  const auto dir = model.parent_path().empty() ? std::filesystem::path(".") : model.parent_path();
  if (std::filesystem::exists(dir / "tokenizer.bin")) return dir / "tokenizer.bin";
  std::optional<std::filesystem::path> found;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.starts_with("tok") && e.path().extension() == ".bin" && e.path() != model) {
      if (found) return std::nullopt;  // ambiguous
      found = e.path();
    }
  }
  return found;
}

}  // namespace

std::unique_ptr<Tokenizer> load_tokenizer_for_model(const std::filesystem::path& model,
                                                    const std::optional<std::filesystem::path>& explicit_path) {
  if (explicit_path) return load_tokenizer(*explicit_path);
  if (std::filesystem::is_directory(model)) return load_tokenizer(model);
  if (has_gguf_magic(model)) {
    GgufFile gguf = GgufFile::open(model);
    check(gguf.has("tokenizer.ggml.model"), model.string(), ": this GGUF has no tokenizer; pass --tokenizer PATH");
    return load_tokenizer(gguf);
  }
  if (model.extension() == ".safetensors" || model.filename() == "config.json") return load_tokenizer(model.parent_path());
  if (auto beside = llama2c_tokenizer_beside(model)) return load_tokenizer(*beside);
  fail(model.string(), ": no tokenizer found next to the model; pass --tokenizer PATH (tokenizer.json, tokenizer.model, "
       "a llama2.c tokenizer .bin or a .gguf)");
}


int copy_tokenizer_files(const std::filesystem::path& model, const std::optional<std::filesystem::path>& explicit_path,
                         const std::filesystem::path& out_dir) {
  static const char* kFolderFiles[] = {"tokenizer.json",          "tokenizer.model",     "tokenizer.bin",
                                       "tokenizer_config.json",   "special_tokens_map.json", "chat_template.jinja"};
  auto copy = [&](const std::filesystem::path& from, const std::string& name) {
    std::filesystem::copy_file(from, out_dir / name, std::filesystem::copy_options::overwrite_existing);
  };
  std::filesystem::path src = explicit_path ? *explicit_path : model;
  if (!explicit_path && !std::filesystem::is_directory(model) && !has_gguf_magic(model) && model.extension() == ".bin") {
    auto beside = llama2c_tokenizer_beside(model);
    if (!beside) return 0;
    src = *beside;
  }
  int copied = 0;
  if (std::filesystem::is_directory(src)) {
    for (const char* name : kFolderFiles)
      if (std::filesystem::exists(src / name)) copy(src / name, name), ++copied;
    return copied;
  }
  if (has_gguf_magic(src)) return 0;
  const std::string ext = src.extension().string();
  if (ext == ".json") {
    copy(src, "tokenizer.json");
    for (const char* name : {"tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja"})
      if (std::filesystem::exists(src.parent_path() / name)) copy(src.parent_path() / name, name), ++copied;
  } else {
    copy(src, ext == ".model" ? "tokenizer.model" : "tokenizer.bin");
  }
  return copied + 1;
}

std::optional<ChatTemplate> load_chat_template_for_model(const std::filesystem::path& model_path,
                                                         const std::optional<std::filesystem::path>& tokenizer_path) {
  auto template_of = [](const std::filesystem::path& p) -> std::optional<std::string> {
    const std::string ext = p.extension().string();
    if (p.empty() || !(std::filesystem::is_directory(p) || ext == ".gguf" || ext == ".json")) return std::nullopt;
    return find_chat_template(p);
  };
  if (tokenizer_path)
    if (auto source = template_of(*tokenizer_path)) return ChatTemplate::parse(*source, tokenizer_path->string());
  if (auto source = template_of(model_path)) return ChatTemplate::parse(*source, model_path.string());
  return std::nullopt;
}

}  // namespace tunekit
