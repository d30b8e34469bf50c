// Llama-family decoder (Llama, Mistral, Qwen2): pre-norm residual blocks of grouped-query
// attention with rotate-half RoPE and a SwiGLU MLP, as Hugging Face transformers computes them,
// over a batch of sequences whose rows are concatenated ([T, ...] below, T = all new tokens).
#include "tunekit/models/forward.h"

#include <cstring>

#include "models/batch_lora.h"
#include "tunekit/error.h"
#include "tunekit/ops/ops.h"

namespace tunekit {

KvBlocks::KvBlocks(const ModelConfig& c, int64_t n_blocks_, int64_t block_size_)
    : n_blocks(n_blocks_), block_size(block_size_) {
  check(n_blocks > 0 && block_size > 0, "KV cache: blocks and block size must be positive, got ", n_blocks, " x ",
        block_size);
  const size_t per_layer = size_t(n_blocks) * size_t(block_size) * size_t(c.d_kv());
  k.assign(c.n_layer, std::vector<float>(per_layer));
  v.assign(c.n_layer, std::vector<float>(per_layer));
}

size_t KvBlocks::block_bytes(const ModelConfig& c, int64_t block_size) {
  return 2 * size_t(c.n_layer) * size_t(block_size) * size_t(c.d_kv()) * sizeof(float);
}

KvCache::KvCache(const ModelConfig& c, int64_t n_ctx_) : n_ctx(n_ctx_) {
  check(n_ctx > 0, "KvCache: context size must be positive, got ", n_ctx);
  static_cast<KvBlocks&>(*this) = KvBlocks(c, 1, n_ctx);
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

// Checks one sequence of a batch against the model and the cache.
void check_step(const ModelConfig& c, const SequenceStep& s, const KvBlocks& cache, size_t i) {
  const int64_t n = int64_t(s.tokens.size());
  check(n > 0, "forward: sequence ", i, " has no new tokens");
  check(s.pos0 >= 0 && s.pos0 + n <= c.n_ctx, "forward: sequence ", i, " positions ", s.pos0, "..", s.pos0 + n - 1,
        " are outside the model's context of ", c.n_ctx);
  check(s.n_logits >= 0 && s.n_logits <= n, "forward: sequence ", i, " asks for ", s.n_logits, " logits of ", n,
        " tokens");
  const int64_t last_block = (s.pos0 + n - 1) / cache.block_size;
  check(last_block < int64_t(s.blocks.size()), "forward: sequence ", i, " position ", s.pos0 + n - 1,
        " is beyond its ", s.blocks.size(), " KV blocks of ", cache.block_size,
        " positions (raise the context size)");
  for (int64_t b = 0; b <= last_block; ++b)
    check(s.blocks[size_t(b)] >= 0 && s.blocks[size_t(b)] < cache.n_blocks, "forward: sequence ", i, " block ",
          s.blocks[size_t(b)], " is outside the cache's ", cache.n_blocks, " blocks");
  check(!s.adapter || int64_t(s.adapter->layers.size()) == c.n_layer, "forward: sequence ", i, "'s adapter has ",
        s.adapter ? s.adapter->layers.size() : 0, " layers, the model ", c.n_layer);
}

// Writes k, v [n, d_kv] of one sequence's new rows into its blocks of layer l, then
// att[n, n_head, d_head] = its attention (in place when its blocks are consecutive, else paged).
void attend_sequence(const ModelConfig& c, int l, const SequenceStep& s, KvBlocks& cache, const float* q,
                     const float* k, const float* v, const int32_t* pos, float* att) {
  const int64_t n = int64_t(s.tokens.size()), d_kv = c.d_kv(), bs = cache.block_size;
  float* k_pool = cache.k[size_t(l)].data();
  float* v_pool = cache.v[size_t(l)].data();
  for (int64_t t = 0; t < n; ++t) {
    const int64_t row = int64_t(s.blocks[size_t(pos[t] / bs)]) * bs + pos[t] % bs;
    std::memcpy(k_pool + row * d_kv, k + t * d_kv, size_t(d_kv) * sizeof(float));
    std::memcpy(v_pool + row * d_kv, v + t * d_kv, size_t(d_kv) * sizeof(float));
  }
  const int64_t n_blocks = (s.pos0 + n - 1) / bs + 1;
  bool consecutive = true;
  for (int64_t b = 1; b < n_blocks; ++b) consecutive = consecutive && s.blocks[size_t(b)] == s.blocks[0] + b;
  if (consecutive) {
    const int64_t base = int64_t(s.blocks[0]) * bs * d_kv;
    ops::attention(q, k_pool + base, v_pool + base, att, n, pos, c.n_head, c.n_head_kv, c.d_head, c.sliding_window);
  } else {
    ops::attention_paged(q, k_pool, v_pool, s.blocks.data(), bs, att, n, pos, c.n_head, c.n_head_kv, c.d_head,
                         c.sliding_window);
  }
}

// x[T, d_model] += attention block of layer l.
void attention_block(const Model& m, int l, float* x, std::span<const SequenceStep> batch, const BatchLora& lora,
                     KvBlocks& cache, Workspace& ws) {
  const ModelConfig& c = m.config;
  const LayerWeights& w = m.layers[size_t(l)];
  const int64_t T = int64_t(ws.positions.size());
  const int32_t* pos = ws.positions.data();
  ops::rmsnorm(x, w.attn_norm.as<float>(), ws.h.data(), T, c.d_model, float(c.rms_eps));  // h [T, d_model]
  // q [T, n_head, d_head], k and v [T, n_head_kv, d_head]
  lora.project_qkv(ws.h.data(), l, {&w.wq, bias_of(w.bq), nullptr, ws.q.data()},
                   {&w.wk, bias_of(w.bk), nullptr, ws.k.data()}, {&w.wv, bias_of(w.bv), nullptr, ws.v.data()}, ws.lora);
  ops::rope(ws.q.data(), T, c.n_head, c.d_head, pos, m.inv_freq.data());
  ops::rope(ws.k.data(), T, c.n_head_kv, c.d_head, pos, m.inv_freq.data());
  int64_t row0 = 0;
  for (const SequenceStep& s : batch) {  // att [T, n_head, d_head]
    attend_sequence(c, l, s, cache, ws.q.data() + row0 * c.d_q(), ws.k.data() + row0 * c.d_kv(),
                    ws.v.data() + row0 * c.d_kv(), pos + row0, ws.att.data() + row0 * c.d_q());
    row0 += int64_t(s.tokens.size());
  }
  lora.project(ws.att.data(), l, LinearModule::o, {&w.wo, nullptr, nullptr, x, true}, ws.lora);  // x += att · woᵀ
}

// x[T, d_model] += MLP block of layer l.
void mlp_block(const Model& m, int l, float* x, const BatchLora& lora, Workspace& ws) {
  const ModelConfig& c = m.config;
  const LayerWeights& w = m.layers[size_t(l)];
  const int64_t T = int64_t(ws.positions.size());
  ops::rmsnorm(x, w.ffn_norm.as<float>(), ws.h.data(), T, c.d_model, float(c.rms_eps));  // h [T, d_model]
  // gate [T, d_ff] = silu(h · w_gateᵀ) * (h · w_upᵀ), the up projection in ws.up
  lora.project_swiglu(ws.h.data(), l, {&w.w_gate, nullptr, nullptr, ws.gate.data()},
                      {&w.w_up, nullptr, nullptr, ws.up.data()}, ws.lora);
  // x += gate · downᵀ
  lora.project(ws.gate.data(), l, LinearModule::down, {&w.w_down, nullptr, nullptr, x, true}, ws.lora);
}

// x [T, d_model] = the residual stream after every layer (the cache receives the keys and values).
float* run_layers(const Model& m, std::span<const SequenceStep> batch, KvBlocks& cache, Workspace& ws) {
  const ModelConfig& c = m.config;
  check(!batch.empty(), "forward: no sequences");
  int64_t T = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    check_step(c, batch[i], cache, i);
    T += int64_t(batch[i].tokens.size());
  }
  grow(ws.x, T * c.d_model);
  grow(ws.h, T * c.d_model);
  grow(ws.q, T * c.d_q());
  grow(ws.att, T * c.d_q());
  grow(ws.k, T * c.d_kv());
  grow(ws.v, T * c.d_kv());
  grow(ws.gate, T * c.d_ff);
  grow(ws.up, T * c.d_ff);
  ws.tokens.clear();
  ws.positions.clear();
  for (const SequenceStep& s : batch) {
    ws.tokens.insert(ws.tokens.end(), s.tokens.begin(), s.tokens.end());
    for (int64_t t = 0; t < int64_t(s.tokens.size()); ++t) ws.positions.push_back(int32_t(s.pos0 + t));
  }
  const BatchLora lora(batch);

  float* x = ws.x.data();  // the residual stream [T, d_model]
  embed(m.tok_embeddings, ws.tokens.data(), T, x);
  for (int l = 0; l < c.n_layer; ++l) {
    attention_block(m, l, x, batch, lora, cache, ws);
    mlp_block(m, l, x, lora, ws);
  }
  return x;
}

SequenceStep single_sequence(const int32_t* tokens, int64_t T, int64_t pos0, const KvCache& cache,
                             const LoraAdapter* adapter, int64_t n_logits) {
  check(T > 0, "forward: no tokens");
  check(pos0 >= 0 && pos0 + T <= cache.n_ctx, "forward: positions ", pos0, "..", pos0 + T - 1,
        " do not fit the KV cache of ", cache.n_ctx, " positions (raise the context size)");
  static constexpr int32_t kOnlyBlock = 0;
  return {{tokens, size_t(T)}, pos0, {&kOnlyBlock, 1}, adapter, n_logits};
}

}  // namespace

void forward_batch(const Model& m, std::span<const SequenceStep> batch, KvBlocks& cache, Workspace& ws,
                   float* logits) {
  const ModelConfig& c = m.config;
  const float* x = run_layers(m, batch, cache, ws);
  // h [n_out, d_model] = the rows that want logits, in order
  int64_t n_out = 0, row0 = 0;
  for (const SequenceStep& s : batch) {
    const int64_t n = int64_t(s.tokens.size());
    std::memcpy(ws.h.data() + n_out * c.d_model, x + (row0 + n - s.n_logits) * c.d_model,
                size_t(s.n_logits * c.d_model) * sizeof(float));
    n_out += s.n_logits;
    row0 += n;
  }
  if (n_out == 0) return;
  ops::rmsnorm(ws.h.data(), m.norm.as<float>(), ws.h.data(), n_out, c.d_model, float(c.rms_eps));
  ops::linear(ws.h.data(), n_out, m.lm_head, nullptr, logits);  // logits [n_out, n_vocab]
}

void forward(const Model& m, const int32_t* tokens, int64_t T, int64_t pos0, KvCache& cache, Workspace& ws,
             float* logits, bool all_logits, const LoraAdapter* adapter) {
  const SequenceStep step = single_sequence(tokens, T, pos0, cache, adapter, all_logits ? T : 1);
  forward_batch(m, {&step, 1}, cache, ws, logits);
}

void forward_hidden(const Model& m, const int32_t* tokens, int64_t T, int64_t pos0, KvCache& cache, Workspace& ws,
                    float* hidden, const LoraAdapter* adapter) {
  const ModelConfig& c = m.config;
  const SequenceStep step = single_sequence(tokens, T, pos0, cache, adapter, 0);
  const float* x = run_layers(m, {&step, 1}, cache, ws);
  ops::rmsnorm(x, m.norm.as<float>(), hidden, T, c.d_model, float(c.rms_eps));  // hidden [T, d_model]
}

}  // namespace tunekit
