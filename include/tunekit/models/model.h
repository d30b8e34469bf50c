// Model: the weights of a Llama-family decoder in HF layout (rotate-half RoPE), whatever file they
// came from. Weights stay in their storage dtype (views into memory-mapped files where possible).
#pragma once
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "tunekit/models/config.h"
#include "tunekit/tensor.h"

namespace tunekit {

class GgufWriter;

struct LayerWeights {
  Tensor attn_norm;         // [d_model] f32
  Tensor wq, wk, wv, wo;    // [d_q, d_model], [d_kv, d_model], [d_kv, d_model], [d_model, d_q]
  Tensor bq, bk, bv;        // [d_q], [d_kv], [d_kv] f32, empty unless config.qkv_bias
  Tensor ffn_norm;          // [d_model] f32
  Tensor w_gate, w_up;      // [d_ff, d_model]
  Tensor w_down;            // [d_model, d_ff]
};

struct Model {
  ModelConfig config;
  Tensor tok_embeddings;             // [n_vocab, d_model]
  std::vector<LayerWeights> layers;  // [n_layer]
  Tensor norm;                       // [d_model] f32
  Tensor lm_head;                    // [n_vocab, d_model]; the same storage as tok_embeddings when tied
  std::vector<float> inv_freq;       // [d_head / 2] RoPE frequencies (from config, or a GGUF's rope_freqs)
  std::string source;                // where it was loaded from, for messages

  // Checks every tensor's shape and dtype against config; throws Error naming the tensor.
  void validate() const;
  // Every weight with its HF name (tied lm_head omitted), in a stable order.
  std::vector<std::pair<std::string, const Tensor*>> named_weights() const;
};

// Loads a model from an HF folder (config.json + model.safetensors or sharded index), a .gguf
// file, or a llama2.c checkpoint (.bin). Throws Error naming the file and the problem.
Model load_model(const std::filesystem::path& path);

// Writers. dtype applies to the 2-D matmul weights and embeddings; norms and biases stay f32.
// save_hf: config.json + model.safetensors (f32, f16 or bf16), each written atomically.
void save_hf(const Model& model, const std::filesystem::path& dir, DType dtype = DType::F32);
// save_gguf: a llama.cpp-compatible GGUF (f32, f16, bf16, q8_0, q4_0): llama.cpp's tensor names,
// its q/k row permutation for the "llama" architecture, llama3 RoPE as rope_freqs.weight.
// add_metadata (optional) adds more keys, e.g. the tokenizer's vocabulary.
void save_gguf(const Model& model, const std::filesystem::path& path, DType dtype,
               const std::function<void(GgufWriter&)>& add_metadata = {});

// Converts every 2-D weight to dtype (norms and biases stay f32): f32/f16/bf16/q8_0/q4_0/...
Model convert_weights(const Model& model, DType dtype);

// A model of the given shape with random weights (N(0, 0.02), norms 1), seeded.
Model init_random_model(const ModelConfig& config, uint64_t seed);

}  // namespace tunekit
