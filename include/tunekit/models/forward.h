// The decoder forward pass for inference: tokens at consecutive positions go through every
// layer, their keys and values are written into a KV cache, and logits come out.
#pragma once
#include <cstdint>
#include <vector>

#include "tunekit/models/lora.h"
#include "tunekit/models/model.h"

namespace tunekit {

// A contiguous KV cache for one sequence: per layer k and v of shape [n_ctx, n_head_kv, d_head].
struct KvCache {
  int64_t n_ctx = 0;
  std::vector<std::vector<float>> k, v;  // [n_layer][n_ctx * n_head_kv * d_head]

  KvCache() = default;
  KvCache(const ModelConfig& config, int64_t n_ctx);
};

// Reusable activation buffers, grown to the largest chunk seen; no allocation in steady state.
struct Workspace {
  std::vector<float> x, h, q, k, v, att, gate, up;  // [T, width]
  std::vector<float> lora;                          // [T, r]: x·Aᵀ of the LoRA being applied
  std::vector<int32_t> positions;                   // [T]
};

// Runs tokens[T] at positions pos0 .. pos0+T-1 (the cache must hold positions < pos0) and writes
// logits: [T, n_vocab] when all_logits, else [1, n_vocab] for the last token only.
// adapter (optional): a LoRA applied unmerged at every linear layer it adapts (see project()).
void forward(const Model& model, const int32_t* tokens, int64_t T, int64_t pos0, KvCache& cache, Workspace& ws,
             float* logits, bool all_logits, const LoraAdapter* adapter = nullptr);

// The same pass without the LM head: hidden[T, d_model] = the final RMSNorm of every token's
// residual stream (what the head reads; mean-pooled, a text embedding).
void forward_hidden(const Model& model, const int32_t* tokens, int64_t T, int64_t pos0, KvCache& cache,
                    Workspace& ws, float* hidden, const LoraAdapter* adapter = nullptr);

}  // namespace tunekit
