// llama2.c checkpoints as a Model: HF names for its tensors, and wq/wk rows permuted from
// llama2.c's interleaved-pair RoPE to the rotate-half layout (as HF's Llama converter does).
#include "assemble.h"
#include "tunekit/error.h"
#include "tunekit/io/llama2c.h"
#include "weight_names.h"

namespace tunekit {

namespace {

// Layer l of a stacked [L, ...] tensor, as a view.
Tensor layer_of(const Tensor& stacked, int l) {
  std::vector<int64_t> shape(stacked.shape.begin() + 1, stacked.shape.end());
  Tensor view = Tensor::view(stacked.dtype, shape, nullptr, stacked.keepalive);
  view.data = static_cast<uint8_t*>(stacked.data) + size_t(l) * view.nbytes();
  return view;
}

ModelConfig config_of(const Llama2cCheckpoint& ck) {
  ModelConfig c;
  c.arch = "llama";
  c.n_vocab = ck.vocab_size;
  c.d_model = ck.dim;
  c.d_ff = ck.hidden_dim;
  c.n_layer = ck.n_layers;
  c.n_head = ck.n_heads;
  c.n_head_kv = ck.n_kv_heads;
  c.d_head = ck.head_size();
  c.n_ctx = ck.seq_len;
  c.rms_eps = 1e-5;  // llama2.c's rmsnorm epsilon
  c.rope.theta = 10000.0;
  c.tied_embeddings = ck.shared_classifier;
  c.bos_id = 1;
  c.eos_id = 2;
  return c;
}

}  // namespace

Model load_llama2c_model(const std::filesystem::path& path) {
  Llama2cCheckpoint ck = read_llama2c(path);
  ModelConfig config = config_of(ck);
  config.validate(path.string());
  struct Stacked {
    const char* hf;
    const Tensor* tensor;
    int64_t rope_heads;  // > 0: permute rows to rotate-half
  };
  const Stacked stacked[] = {
      {"input_layernorm.weight", &ck.rms_att, 0},          {"self_attn.q_proj.weight", &ck.wq, config.n_head},
      {"self_attn.k_proj.weight", &ck.wk, config.n_head_kv}, {"self_attn.v_proj.weight", &ck.wv, 0},
      {"self_attn.o_proj.weight", &ck.wo, 0},              {"post_attention_layernorm.weight", &ck.rms_ffn, 0},
      {"mlp.gate_proj.weight", &ck.w1, 0},                 {"mlp.down_proj.weight", &ck.w2, 0},
      {"mlp.up_proj.weight", &ck.w3, 0},
  };
  auto fetch = [&](const std::string& name) -> Tensor {
    if (name == "model.embed_tokens.weight") return ck.token_embedding;
    if (name == "model.norm.weight") return ck.rms_final;
    if (name == "lm_head.weight") return ck.wcls;
    for (int l = 0; l < config.n_layer; ++l)
      for (const Stacked& s : stacked)
        if (name == "model.layers." + std::to_string(l) + "." + s.hf) {
          Tensor t = layer_of(*s.tensor, l);
          return s.rope_heads ? rope_rows_interleaved_to_half(t, s.rope_heads) : t;
        }
    return {};
  };
  return assemble_model(config, WeightNaming::HuggingFace, fetch, path.string());
}

}  // namespace tunekit
