// load_model: picks the reader from the path (HF folder, GGUF, llama2.c checkpoint).
#include "assemble.h"
#include "tunekit/error.h"
#include "tunekit/io/file_util.h"
#include "tunekit/io/gguf.h"
#include "tunekit/io/safetensors.h"
#include "tunekit/models/model.h"
#include "tunekit/ops/ops.h"
#include "weight_names.h"

namespace tunekit {

Model load_llama2c_model(const std::filesystem::path& path);  // load_llama2c.cpp

namespace {

Model load_hf(const std::filesystem::path& dir) {
  const auto config_path = dir / "config.json";
  check(std::filesystem::exists(config_path), dir.string(), ": no config.json (is this a Hugging Face model folder?)");
  ModelConfig config = ModelConfig::from_hf_json(read_json_file(config_path), config_path.string());
  TensorFile weights = read_safetensors(dir);
  auto fetch = [&](const std::string& name) { return weights.has(name) ? weights.get(name) : Tensor{}; };
  // Some tied checkpoints carry an lm_head.weight copy anyway; the embeddings win, as in HF.
  return assemble_model(config, WeightNaming::HuggingFace, fetch, dir.string());
}

Model load_gguf(const std::filesystem::path& path) {
  GgufFile gguf = GgufFile::open(path);
  ModelConfig config = ModelConfig::from_gguf(gguf);
  const bool interleaved = config.gguf_arch() == "llama";  // llama.cpp permutes q/k for its "llama" RoPE
  auto fetch = [&](const std::string& name) -> Tensor {
    if (!gguf.has_tensor(name)) return {};
    const Tensor& t = gguf.tensor(name);
    bool is_q = name.find(".attn_q.") != std::string::npos, is_k = name.find(".attn_k.") != std::string::npos;
    if (interleaved && (is_q || is_k)) return rope_rows_interleaved_to_half(t, is_q ? config.n_head : config.n_head_kv);
    return t;
  };
  Model m = assemble_model(config, WeightNaming::Gguf, fetch, path.string());
  if (gguf.has_tensor("rope_freqs.weight")) {  // llama3-style scaling, stored as per-frequency divisors
    Tensor factors = ops::convert(gguf.tensor("rope_freqs.weight"), DType::F32);
    check(factors.numel() == int64_t(m.inv_freq.size()), path.string(), ": rope_freqs.weight has ", factors.numel(),
          " values, expected ", m.inv_freq.size());
    for (size_t i = 0; i < m.inv_freq.size(); ++i) m.inv_freq[i] /= factors.as<float>()[i];
  }
  return m;
}

}  // namespace

Model load_model(const std::filesystem::path& path) {
  check(std::filesystem::exists(path), path.string(), ": no such file or folder");
  if (std::filesystem::is_directory(path)) return load_hf(path);
  if (path.filename() == "config.json" || path.extension() == ".safetensors") return load_hf(path.parent_path());
  if (has_gguf_magic(path)) return load_gguf(path);
  if (path.extension() == ".bin") return load_llama2c_model(path);
  fail(path.string(), ": unknown model format (expected a Hugging Face folder, a .gguf file or a llama2.c .bin)");
}

}  // namespace tunekit
