// BERT encoder forward (HF BertModel in eval mode) over packed sequences, and sentence-transformers'
// pooling + normalisation. Packing texts back to back is padding + attention mask without the padding:
// sequence s holds rows [seq_start[s], seq_start[s+1]) and sees only itself.
#pragma once
#include <cstdint>

#include "rag/bert_config.h"
#include "rag/bert_weights.h"

namespace tunekit::rag {

// hidden [T, d_model] = last_hidden_state of ids [T], T = seq_start[n_seq]; positions restart at 0 in
// every sequence; every token has token type 0. Throws Error for an id outside the vocabulary or a
// sequence longer than max_position_embeddings.
void bert_forward(const BertConfig& config, const BertWeights& weights, const int32_t* ids, const int64_t* seq_start,
                  int64_t n_seq, float* hidden);

// out [n_seq, d]: each sequence's mean over its rows (or its first row, [CLS]), scaled to unit L2 norm.
void pool_normalize(const float* hidden, const int64_t* seq_start, int64_t n_seq, int64_t d, Pooling pooling,
                    float* out);

}  // namespace tunekit::rag
