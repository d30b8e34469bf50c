#include "rag/bert_forward.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "tunekit/core/parallel.h"
#include "tunekit/error.h"
#include "tunekit/ops/encoder.h"
#include "tunekit/ops/ops.h"

namespace tunekit::rag {

namespace {

// x[T, D] = LayerNorm(word_emb[id] + position_emb[position] + token_type_emb[0]).
void embed(const BertConfig& c, const BertWeights& w, const int32_t* ids, const int64_t* seq_start, int64_t n_seq,
           float* x) {
  const int64_t D = c.d_model;
  for (int64_t s = 0; s < n_seq; ++s) {
    check(seq_start[s + 1] - seq_start[s] <= c.n_position, "bert: a sequence of ", seq_start[s + 1] - seq_start[s],
          " tokens is longer than max_position_embeddings ", c.n_position);
    for (int64_t t = seq_start[s]; t < seq_start[s + 1]; ++t)
      check(ids[t] >= 0 && ids[t] < c.n_vocab, "bert: token id ", ids[t], " is outside the vocabulary of ", c.n_vocab,
            "; hint: the tokenizer does not belong to this model");
  }
  parallel_for(n_seq, [&](int64_t s0, int64_t s1) {
    std::vector<float> position_row(static_cast<size_t>(D));
    for (int64_t s = s0; s < s1; ++s)
      for (int64_t t = seq_start[s]; t < seq_start[s + 1]; ++t) {
        float* row = x + t * D;
        const auto* word = static_cast<const char*>(w.word_emb.data) + dtype_bytes(w.word_emb.dtype, ids[t] * D);
        const auto* position =
            static_cast<const char*>(w.position_emb.data) + dtype_bytes(w.position_emb.dtype, (t - seq_start[s]) * D);
        ops::dequantize(word, w.word_emb.dtype, D, row);
        ops::dequantize(position, w.position_emb.dtype, D, position_row.data());
        for (int64_t i = 0; i < D; ++i) row[i] += position_row[size_t(i)] + w.token_type_0[size_t(i)];
      }
  });
  const int64_t T = seq_start[n_seq];
  ops::layer_norm(x, w.emb_norm.weight.data(), w.emb_norm.bias.data(), x, T, D, c.layer_norm_eps);
}

// Scratch activations of one forward.
struct Activations {
  std::vector<float> q, k, v, context;  // [T, D]
  std::vector<float> ffn;               // [T, F]
  Activations(int64_t T, int64_t D, int64_t F)
      : q(size_t(T * D)), k(size_t(T * D)), v(size_t(T * D)), context(size_t(T * D)), ffn(size_t(T * F)) {}
};

// One post-LN encoder layer, in place on x [T, D]:
//   x = LayerNorm(x + attention(x) · W_outᵀ + b_out)
//   x = LayerNorm(x + gelu(x · W_upᵀ + b_up) · W_downᵀ + b_down)
void layer_forward(const BertConfig& c, const BertLayerWeights& l, const int64_t* seq_start, int64_t n_seq, float* x,
                   Activations& a) {
  const int64_t T = seq_start[n_seq], D = c.d_model;
  ops::linear(x, T, l.q, l.q_bias.data(), a.q.data());  // [T, n_head, d_head]
  ops::linear(x, T, l.k, l.k_bias.data(), a.k.data());
  ops::linear(x, T, l.v, l.v_bias.data(), a.v.data());
  ops::attention_bidirectional(a.q.data(), a.k.data(), a.v.data(), a.context.data(), seq_start, n_seq, c.n_head,
                               c.d_head());
  ops::linear(a.context.data(), T, l.attn_out, l.attn_out_bias.data(), x, /*accumulate=*/true);  // residual
  ops::layer_norm(x, l.attn_norm.weight.data(), l.attn_norm.bias.data(), x, T, D, c.layer_norm_eps);

  ops::linear(x, T, l.ffn_up, l.ffn_up_bias.data(), a.ffn.data());  // [T, F]
  ops::gelu(a.ffn.data(), a.ffn.data(), T * c.d_ff);
  ops::linear(a.ffn.data(), T, l.ffn_down, l.ffn_down_bias.data(), x, /*accumulate=*/true);  // residual
  ops::layer_norm(x, l.ffn_norm.weight.data(), l.ffn_norm.bias.data(), x, T, D, c.layer_norm_eps);
}

}  // namespace

void bert_forward(const BertConfig& config, const BertWeights& weights, const int32_t* ids, const int64_t* seq_start,
                  int64_t n_seq, float* hidden) {
  const int64_t T = seq_start[n_seq];
  if (T == 0) return;
  embed(config, weights, ids, seq_start, n_seq, hidden);
  Activations scratch(T, config.d_model, config.d_ff);
  for (const BertLayerWeights& layer : weights.layers) layer_forward(config, layer, seq_start, n_seq, hidden, scratch);
}

void pool_normalize(const float* hidden, const int64_t* seq_start, int64_t n_seq, int64_t d, Pooling pooling,
                    float* out) {
  std::vector<double> pooled(static_cast<size_t>(d));
  for (int64_t s = 0; s < n_seq; ++s) {
    const int64_t first = seq_start[s], n = seq_start[s + 1] - first;
    check(n > 0, "pool_normalize: sequence ", s, " is empty");
    std::fill(pooled.begin(), pooled.end(), 0.0);
    const int64_t rows = pooling == Pooling::Cls ? 1 : n;  // [CLS] is each sequence's first row
    for (int64_t t = first; t < first + rows; ++t)
      for (int64_t i = 0; i < d; ++i) pooled[size_t(i)] += hidden[t * d + i];
    double norm = 0;
    for (double& v : pooled) {
      v /= double(rows);
      norm += v * v;
    }
    const double scale = 1.0 / std::max(std::sqrt(norm), 1e-12);  // torch.nn.functional.normalize's eps
    for (int64_t i = 0; i < d; ++i) out[s * d + i] = float(pooled[size_t(i)] * scale);
  }
}

}  // namespace tunekit::rag
