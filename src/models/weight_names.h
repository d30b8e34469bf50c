// The weight-name table: where each tensor of a Llama-family model lives in our Model, in a Hugging
// Face checkpoint and in a llama.cpp GGUF, and the shape it must have.
#pragma once
#include <string>
#include <vector>

#include "tunekit/models/model.h"

namespace tunekit {

struct LayerSlot {
  const char* hf;      // after "model.layers.N."
  const char* gguf;    // after "blk.N."
  Tensor LayerWeights::*member;
  bool is_vector;      // norms and biases: 1-D, kept in f32
  bool is_bias;        // present only when config.qkv_bias
};

const std::vector<LayerSlot>& layer_slots();

std::string hf_layer_name(int layer, const LayerSlot& s);
std::string gguf_layer_name(int layer, const LayerSlot& s);
std::vector<int64_t> expected_shape(const ModelConfig& c, const LayerSlot& s);

// Rows of a q or k projection (weight [n_head * d_head, K] or bias [n_head * d_head]) reordered
// between RoPE layouts: interleaved pairs (llama2.c, llama.cpp's GGUF "llama") and rotate-half
// (Hugging Face). Works on any storage dtype since only whole rows move.
Tensor rope_rows_interleaved_to_half(const Tensor& t, int64_t n_head);
Tensor rope_rows_half_to_interleaved(const Tensor& t, int64_t n_head);

}  // namespace tunekit
