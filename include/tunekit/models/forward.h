// The decoder forward pass for inference: the new tokens of one or several sequences go through
// every layer together, their keys and values are written into a block-structured KV cache, and
// logits come out. One sequence with a contiguous cache (forward) is the batch of one.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "tunekit/models/lora.h"
#include "tunekit/models/model.h"

namespace tunekit {

// Keys and values in fixed-size blocks: per layer, k and v are [n_blocks, block_size, n_head_kv,
// d_head]. A sequence's block table maps its positions to blocks: position p lives in block
// table[p / block_size], row p % block_size (vLLM's paged attention layout).
struct KvBlocks {
  int64_t n_blocks = 0, block_size = 0;
  std::vector<std::vector<float>> k, v;  // [n_layer][n_blocks * block_size * d_kv]

  KvBlocks() = default;
  KvBlocks(const ModelConfig& config, int64_t n_blocks, int64_t block_size);
  // Bytes of one block: k and v of every layer.
  static size_t block_bytes(const ModelConfig& config, int64_t block_size);
};

// A contiguous KV cache for one sequence: one block of n_ctx positions.
struct KvCache : KvBlocks {
  int64_t n_ctx = 0;

  KvCache() = default;
  KvCache(const ModelConfig& config, int64_t n_ctx);
};

// Reusable activation buffers, grown to the largest batch seen; no allocation in steady state.
struct Workspace {
  std::vector<float> x, h, q, k, v, att, gate, up;  // [T, width]
  std::vector<float> lora;                          // [T, r]: x·Aᵀ of the LoRA being applied
  std::vector<int32_t> tokens, positions;           // [T]
};

// One sequence's share of a batched forward pass.
struct SequenceStep {
  std::span<const int32_t> tokens;        // [n] new tokens, at positions pos0 .. pos0 + n - 1
  int64_t pos0 = 0;                       // the cache holds this sequence's positions < pos0
  std::span<const int32_t> blocks;        // its block table, covering positions < pos0 + n
  const LoraAdapter* adapter = nullptr;   // applied unmerged to this sequence's rows only
  int64_t n_logits = 1;                   // logits of the last n_logits new tokens (0 .. n)
};

// Runs the new tokens of every sequence through the model in one pass: their rows are
// concatenated, so each linear layer is one product over all of them, and each sequence's LoRA
// (if any) is added to its own rows (S-LoRA style; sequences with the same adapter should be
// adjacent, each run of them costs one low-rank product per layer). Writes the keys and values at
// the sequences' blocks of cache. logits: [Σ n_logits, n_vocab], sequence by sequence.
// Throws Error naming the sequence when its tokens, positions or blocks do not fit.
void forward_batch(const Model& model, std::span<const SequenceStep> batch, KvBlocks& cache, Workspace& ws,
                   float* logits);

// tokens[T] at positions pos0 .. pos0+T-1 of a contiguous cache (which must hold positions < pos0):
// logits [T, n_vocab] when all_logits, else [1, n_vocab] for the last token only.
// adapter (optional): a LoRA applied unmerged at every linear layer it adapts (see project()).
void forward(const Model& model, const int32_t* tokens, int64_t T, int64_t pos0, KvCache& cache, Workspace& ws,
             float* logits, bool all_logits, const LoraAdapter* adapter = nullptr);

// The same pass without the LM head: hidden[T, d_model] = the final RMSNorm of every token's
// residual stream (what the head reads; mean-pooled, a text embedding).
void forward_hidden(const Model& model, const int32_t* tokens, int64_t T, int64_t pos0, KvCache& cache,
                    Workspace& ws, float* hidden, const LoraAdapter* adapter = nullptr);

}  // namespace tunekit
