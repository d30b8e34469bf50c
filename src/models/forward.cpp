// Llama-family decoder (Llama, Mistral, Qwen2): pre-norm residual blocks of grouped-query
// attention with rotate-half RoPE and a SwiGLU MLP, as Hugging Face transformers computes them.
#include "tunekit/models/forward.h"

#include <cstring>

#include "tunekit/error.h"
#include "tunekit/ops/ops.h"

namespace tunekit {

KvCache::KvCache(const ModelConfig& c, int64_t n_ctx_) : n_ctx(n_ctx_) {
  check(n_ctx > 0, "KvCache: context size must be positive, got ", n_ctx);
  size_t per_layer = size_t(n_ctx) * size_t(c.d_kv());
  k.assign(c.n_layer, std::vector<float>(per_layer));
  v.assign(c.n_layer, std::vector<float>(per_layer));
}

namespace {

void grow(std::vector<float>& buf, size_t n) {
  if (buf.size() < n) buf.resize(n);
}

// x[T, d_model] = rows tokens[t] of the embedding table (any storage dtype).
void embed(const Tensor& table, const int32_t* tokens, int64_t T, float* x) {
  const int64_t n_vocab = table.dim(0), d = table.dim(1);
  const size_t row_bytes = dtype_bytes(table.dtype, d);
  for (int64_t t = 0; t < T; ++t) {
    check(tokens[t] >= 0 && tokens[t] < n_vocab, "token id ", tokens[t], " is outside the vocabulary [0, ", n_vocab, ")");
    const auto* row = static_cast<const uint8_t*>(table.data) + size_t(tokens[t]) * row_bytes;
    ops::dequantize(row, table.dtype, d, x + t * d);
  }
}

const float* bias_of(const Tensor& b) { return b.empty() ? nullptr : b.as<float>(); }

// The LoRA (if any) of module m in layer l, and its scale.
struct LayerLora {
  const LoraAdapter* adapter;
  int layer;
  const LoraPair* operator()(LinearModule m) const { return adapter ? adapter->find(layer, m) : nullptr; }
  float scale() const { return adapter ? adapter->scale() : 0.0f; }
};

// x[T, d_model] += attention block of layer l.
void attention_block(const Model& m, int l, float* x, int64_t T, KvCache& cache, Workspace& ws, LayerLora lora) {
  const ModelConfig& c = m.config;
  const LayerWeights& w = m.layers[l];
  const int32_t* pos = ws.positions.data();
  const float s = lora.scale();
  ops::rmsnorm(x, w.attn_norm.as<float>(), ws.h.data(), T, c.d_model, float(c.rms_eps));  // h [T, d_model]
  // q [T, n_head, d_head], k and v [T, n_head_kv, d_head]: one pass over the three weights
  const Projection qkv[] = {{&w.wq, bias_of(w.bq), lora(LinearModule::q), ws.q.data()},
                            {&w.wk, bias_of(w.bk), lora(LinearModule::k), ws.k.data()},
                            {&w.wv, bias_of(w.bv), lora(LinearModule::v), ws.v.data()}};
  project_all(ws.h.data(), T, qkv, s, ws.lora);
  ops::rope(ws.q.data(), T, c.n_head, c.d_head, pos, m.inv_freq.data());
  ops::rope(ws.k.data(), T, c.n_head_kv, c.d_head, pos, m.inv_freq.data());
  const int64_t d_kv = c.d_kv();
  for (int64_t t = 0; t < T; ++t) {  // cache[pos[t]] = k[t], v[t]
    std::memcpy(cache.k[l].data() + pos[t] * d_kv, ws.k.data() + t * d_kv, d_kv * sizeof(float));
    std::memcpy(cache.v[l].data() + pos[t] * d_kv, ws.v.data() + t * d_kv, d_kv * sizeof(float));
  }
  ops::attention(ws.q.data(), cache.k[l].data(), cache.v[l].data(), ws.att.data(), T, pos, c.n_head, c.n_head_kv,
                 c.d_head, c.sliding_window);                                       // att [T, n_head, d_head]
  project(ws.att.data(), T, w.wo, nullptr, lora(LinearModule::o), s, x, true, ws.lora);  // x += att · woᵀ
}

// x[T, d_model] += MLP block of layer l.
void mlp_block(const Model& m, int l, float* x, int64_t T, Workspace& ws, LayerLora lora) {
  const ModelConfig& c = m.config;
  const LayerWeights& w = m.layers[l];
  const float s = lora.scale();
  ops::rmsnorm(x, w.ffn_norm.as<float>(), ws.h.data(), T, c.d_model, float(c.rms_eps));  // h [T, d_model]
  // gate [T, d_ff] = silu(h · w_gateᵀ) * (h · w_upᵀ), the up projection in ws.up
  project_swiglu(ws.h.data(), T, {&w.w_gate, nullptr, lora(LinearModule::gate), ws.gate.data()},
                 {&w.w_up, nullptr, lora(LinearModule::up), ws.up.data()}, s, ws.lora);
  // x += gate · downᵀ
  project(ws.gate.data(), T, w.w_down, nullptr, lora(LinearModule::down), s, x, true, ws.lora);
}

}  // namespace

namespace {

// x [T, d_model] = the residual stream after every layer (the cache receives the tokens' keys and values).
float* run_layers(const Model& m, const int32_t* tokens, int64_t T, int64_t pos0, KvCache& cache, Workspace& ws,
                  const LoraAdapter* adapter) {
  const ModelConfig& c = m.config;
  check(T > 0, "forward: no tokens");
  check(!adapter || int64_t(adapter->layers.size()) == c.n_layer, "forward: the adapter has ",
        adapter ? adapter->layers.size() : 0, " layers, the model ", c.n_layer);
  check(pos0 >= 0 && pos0 + T <= cache.n_ctx, "forward: positions ", pos0, "..", pos0 + T - 1,
        " do not fit the KV cache of ", cache.n_ctx, " positions (raise the context size)");
  grow(ws.x, T * c.d_model);
  grow(ws.h, T * c.d_model);
  grow(ws.q, T * c.d_q());
  grow(ws.att, T * c.d_q());
  grow(ws.k, T * c.d_kv());
  grow(ws.v, T * c.d_kv());
  grow(ws.gate, T * c.d_ff);
  grow(ws.up, T * c.d_ff);
  ws.positions.resize(T);
  for (int64_t t = 0; t < T; ++t) ws.positions[t] = int32_t(pos0 + t);

  float* x = ws.x.data();  // the residual stream [T, d_model]
  embed(m.tok_embeddings, tokens, T, x);
  for (int l = 0; l < c.n_layer; ++l) {
    attention_block(m, l, x, T, cache, ws, {adapter, l});
    mlp_block(m, l, x, T, ws, {adapter, l});
  }
  return x;
}

}  // namespace

void forward(const Model& m, const int32_t* tokens, int64_t T, int64_t pos0, KvCache& cache, Workspace& ws,
             float* logits, bool all_logits, const LoraAdapter* adapter) {
  const ModelConfig& c = m.config;
  const float* x = run_layers(m, tokens, T, pos0, cache, ws, adapter);
  const int64_t first = all_logits ? 0 : T - 1;
  const int64_t n_out = T - first;
  ops::rmsnorm(x + first * c.d_model, m.norm.as<float>(), ws.h.data(), n_out, c.d_model, float(c.rms_eps));
  ops::linear(ws.h.data(), n_out, m.lm_head, nullptr, logits);  // logits [n_out, n_vocab]
}

void forward_hidden(const Model& m, const int32_t* tokens, int64_t T, int64_t pos0, KvCache& cache, Workspace& ws,
                    float* hidden, const LoraAdapter* adapter) {
  const ModelConfig& c = m.config;
  const float* x = run_layers(m, tokens, T, pos0, cache, ws, adapter);
  ops::rmsnorm(x, m.norm.as<float>(), hidden, T, c.d_model, float(c.rms_eps));  // hidden [T, d_model]
}

}  // namespace tunekit
