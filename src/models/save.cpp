// Model writers: Hugging Face folder (config.json + model.safetensors) and llama.cpp GGUF.
#include "tunekit/error.h"
#include "tunekit/io/atomic_file.h"
#include "tunekit/io/gguf.h"
#include "tunekit/io/safetensors.h"
#include "tunekit/models/model.h"
#include "tunekit/ops/ops.h"
#include "weight_names.h"

namespace tunekit {

namespace {

Tensor as_dtype(const Tensor& t, DType dtype) { return t.dtype == dtype ? t : ops::convert(t, dtype); }

}  // namespace

void save_hf(const Model& model, const std::filesystem::path& dir, DType dtype) {
  check(dtype == DType::F32 || dtype == DType::F16 || dtype == DType::BF16, dir.string(),
        ": safetensors output supports f32, f16 or bf16, not ", dtype_name(dtype), " (use GGUF for quantized types)");
  std::filesystem::create_directories(dir);
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const auto& [name, t] : model.named_weights()) tensors.emplace_back(name, as_dtype(*t, t->rank() == 1 ? DType::F32 : dtype));
  write_safetensors(dir / "model.safetensors", tensors, {{"format", "pt"}});
  nlohmann::json config = model.config.to_hf_json();
  config["torch_dtype"] = dtype == DType::F32 ? "float32" : dtype == DType::F16 ? "float16" : "bfloat16";
  write_file_atomic(dir / "config.json", config.dump(2) + "\n");
}

void save_gguf(const Model& model, const std::filesystem::path& path, DType dtype,
               const std::function<void(GgufWriter&)>& add_metadata) {
  const ModelConfig& c = model.config;
  GgufWriter out;
  c.write_gguf(out);
  out.set_string("general.name", std::filesystem::path(model.source).filename().string());
  out.set_u32("general.quantization_version", 2);
  out.set_u32("tokenizer.ggml.bos_token_id", uint32_t(c.bos_id));
  out.set_u32("tokenizer.ggml.eos_token_id", uint32_t(c.eos_id));
  if (add_metadata) add_metadata(out);

  const bool interleaved = c.gguf_arch() == "llama";
  // Rows that do not split into whole quant blocks (stories260K's ffn_down: 172) are written as f16,
  // the fallback llama.cpp's convert_hf_to_gguf.py and llama-quantize use.
  auto matrix = [&](const Tensor& t) {
    const bool whole_blocks = t.rank() == 0 || t.dim(-1) % dtype_info(dtype).block_size == 0;
    return as_dtype(t, whole_blocks ? dtype : DType::F16);
  };
  out.add_tensor("token_embd.weight", matrix(model.tok_embeddings));
  // llama.cpp applies llama3-style scaling as per-frequency divisors of the base frequencies.
  ops::RopeConfig base = c.rope;
  if (base.scaling != "linear") base.scaling = "none";
  std::vector<float> plain = ops::rope_inv_freq(base, c.d_head);
  if (plain != model.inv_freq) {
    Tensor factors = Tensor::zeros(DType::F32, {int64_t(plain.size())});
    for (size_t i = 0; i < plain.size(); ++i) factors.as<float>()[i] = plain[i] / model.inv_freq[i];
    out.add_tensor("rope_freqs.weight", factors);
  }
  for (int l = 0; l < c.n_layer; ++l)
    for (const LayerSlot& s : layer_slots()) {
      if (s.is_bias && !c.qkv_bias) continue;
      Tensor t = model.layers[l].*s.member;
      bool is_q = s.member == &LayerWeights::wq || s.member == &LayerWeights::bq;
      bool is_k = s.member == &LayerWeights::wk || s.member == &LayerWeights::bk;
      if (interleaved && (is_q || is_k)) t = rope_rows_half_to_interleaved(t, is_q ? c.n_head : c.n_head_kv);
      out.add_tensor(gguf_layer_name(l, s), s.is_vector ? t : matrix(t));
    }
  out.add_tensor("output_norm.weight", model.norm);
  if (!c.tied_embeddings) out.add_tensor("output.weight", matrix(model.lm_head));
  out.write(path);
}

}  // namespace tunekit
