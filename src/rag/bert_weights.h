// The tensors of an HF BertModel, bound by name and checked against the config. Matrices stay in their
// storage dtype (f32, f16 or bf16; ops::linear converts on the fly); vectors are converted to f32.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "rag/bert_config.h"
#include "tunekit/tensor.h"

namespace tunekit::rag {

struct LayerNormWeights {
  std::vector<float> weight, bias;  // [d_model] each
};

struct BertLayerWeights {
  Tensor q, k, v, attn_out;                                  // [d_model, d_model]
  std::vector<float> q_bias, k_bias, v_bias, attn_out_bias;  // [d_model]
  LayerNormWeights attn_norm;
  Tensor ffn_up;                     // [d_ff, d_model] (intermediate.dense)
  std::vector<float> ffn_up_bias;    // [d_ff]
  Tensor ffn_down;                   // [d_model, d_ff] (output.dense)
  std::vector<float> ffn_down_bias;  // [d_model]
  LayerNormWeights ffn_norm;
};

struct BertWeights {
  Tensor word_emb;                  // [n_vocab, d_model]
  Tensor position_emb;              // [n_position, d_model]
  std::vector<float> token_type_0;  // [d_model]: row 0 of token_type_embeddings (every input is type 0)
  LayerNormWeights emb_norm;
  std::vector<BertLayerWeights> layers;
};

// Names as HF BertModel saves them, with or without a "bert." prefix (BertFor* checkpoints); LayerNorm
// parameters as weight/bias or the original TF names gamma/beta. Other tensors (pooler.*, heads,
// position_ids) are ignored. Throws Error naming `origin`, the tensor and the expected shape.
BertWeights bind_bert_weights(const std::map<std::string, Tensor>& tensors, const BertConfig& config,
                              const std::string& origin);

}  // namespace tunekit::rag
