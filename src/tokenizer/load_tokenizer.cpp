// load_tokenizer(path): picks the format from the path (see tokenizer.h).
#include <fstream>

#include "tokenizer/loaders.h"
#include "tunekit/error.h"
#include "tunekit/io/gguf.h"

namespace tunekit {

namespace {

std::string first_bytes(const std::filesystem::path& path, size_t n) {
  std::ifstream in(path, std::ios::binary);
  check(in.good(), path.string(), ": cannot open");
  std::string s(n, '\0');
  in.read(s.data(), static_cast<std::streamsize>(n));
  s.resize(static_cast<size_t>(in.gcount()));
  return s;
}

}  // namespace

std::unique_ptr<Tokenizer> load_tokenizer(const std::filesystem::path& path) {
  namespace fs = std::filesystem;
  check(fs::exists(path), path.string(), ": no such file or folder");
  if (fs::is_directory(path)) {
    if (fs::exists(path / "tokenizer.json")) return load_hf_json_file(path / "tokenizer.json");
    if (fs::exists(path / "tokenizer.model")) return load_sentencepiece_file(path / "tokenizer.model");
    if (fs::exists(path / "tokenizer.bin")) return load_tokenizer(path / "tokenizer.bin");
    fail(path.string(), ": the folder has no tokenizer.json, tokenizer.model or tokenizer.bin");
  }
  const std::string ext = path.extension().string();
  const std::string head = first_bytes(path, 4);
  if (head == "GGUF" || ext == ".gguf") return load_tokenizer(GgufFile::open(path));
  if (ext == ".json") return load_hf_json_file(path);
  if (ext == ".model") return load_sentencepiece_file(path);
  if (ext == ".bin") return load_llama2c_file(path);
  if (!head.empty() && head[0] == '{') return load_hf_json_file(path);
  fail(path.string(), ": unknown tokenizer format; hint: give a tokenizer.json, a SentencePiece .model, a .gguf, ",
       "a llama2.c tokenizer .bin or a folder holding tokenizer.json/tokenizer.model/tokenizer.bin");
}

}  // namespace tunekit
