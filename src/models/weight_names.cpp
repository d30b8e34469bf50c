#include "weight_names.h"

#include <cstring>

#include "tunekit/error.h"

namespace tunekit {

const std::vector<LayerSlot>& layer_slots() {
  static const std::vector<LayerSlot> slots = {
      {"input_layernorm.weight", "attn_norm.weight", &LayerWeights::attn_norm, true, false},
      {"self_attn.q_proj.weight", "attn_q.weight", &LayerWeights::wq, false, false},
      {"self_attn.k_proj.weight", "attn_k.weight", &LayerWeights::wk, false, false},
      {"self_attn.v_proj.weight", "attn_v.weight", &LayerWeights::wv, false, false},
      {"self_attn.q_proj.bias", "attn_q.bias", &LayerWeights::bq, true, true},
      {"self_attn.k_proj.bias", "attn_k.bias", &LayerWeights::bk, true, true},
      {"self_attn.v_proj.bias", "attn_v.bias", &LayerWeights::bv, true, true},
      {"self_attn.o_proj.weight", "attn_output.weight", &LayerWeights::wo, false, false},
      {"post_attention_layernorm.weight", "ffn_norm.weight", &LayerWeights::ffn_norm, true, false},
      {"mlp.gate_proj.weight", "ffn_gate.weight", &LayerWeights::w_gate, false, false},
      {"mlp.up_proj.weight", "ffn_up.weight", &LayerWeights::w_up, false, false},
      {"mlp.down_proj.weight", "ffn_down.weight", &LayerWeights::w_down, false, false},
  };
  return slots;
}

std::string hf_layer_name(int layer, const LayerSlot& s) {
  return "model.layers." + std::to_string(layer) + "." + s.hf;
}

std::string gguf_layer_name(int layer, const LayerSlot& s) { return "blk." + std::to_string(layer) + "." + s.gguf; }

std::vector<int64_t> expected_shape(const ModelConfig& c, const LayerSlot& s) {
  auto m = s.member;
  if (m == &LayerWeights::attn_norm || m == &LayerWeights::ffn_norm) return {c.d_model};
  if (m == &LayerWeights::wq) return {c.d_q(), c.d_model};
  if (m == &LayerWeights::wk || m == &LayerWeights::wv) return {c.d_kv(), c.d_model};
  if (m == &LayerWeights::bq) return {c.d_q()};
  if (m == &LayerWeights::bk || m == &LayerWeights::bv) return {c.d_kv()};
  if (m == &LayerWeights::wo) return {c.d_model, c.d_q()};
  if (m == &LayerWeights::w_gate || m == &LayerWeights::w_up) return {c.d_ff, c.d_model};
  return {c.d_model, c.d_ff};  // w_down
}

namespace {

// out row (h, j, i) <- in row (h, i, j) for interleaved_to_half, the reverse otherwise, where a
// head's d_head rows are indexed as i in [0, d_head/2) and j in {0, 1}.
Tensor permute_rope_rows(const Tensor& t, int64_t n_head, bool to_half) {
  const int64_t rows = t.dim(0);
  check(n_head > 0 && rows % (2 * n_head) == 0, "RoPE row permutation: ", rows, " rows do not split into ", n_head,
        " heads of even size");
  const int64_t d_head = rows / n_head, half = d_head / 2;
  const size_t row_bytes = t.rank() == 1 ? dtype_bytes(t.dtype, 1) : dtype_bytes(t.dtype, t.numel() / rows);
  Tensor out = Tensor::zeros(t.dtype, t.shape);
  const auto* src = static_cast<const uint8_t*>(t.data);
  auto* dst = static_cast<uint8_t*>(out.data);
  for (int64_t h = 0; h < n_head; ++h)
    for (int64_t i = 0; i < half; ++i)
      for (int64_t j = 0; j < 2; ++j) {
        int64_t interleaved = h * d_head + 2 * i + j;
        int64_t rotate_half = h * d_head + j * half + i;
        int64_t from = to_half ? interleaved : rotate_half;
        int64_t to = to_half ? rotate_half : interleaved;
        std::memcpy(dst + to * row_bytes, src + from * row_bytes, row_bytes);
      }
  return out;
}

}  // namespace

Tensor rope_rows_interleaved_to_half(const Tensor& t, int64_t n_head) { return permute_rope_rows(t, n_head, true); }
Tensor rope_rows_half_to_interleaved(const Tensor& t, int64_t n_head) { return permute_rope_rows(t, n_head, false); }

}  // namespace tunekit
