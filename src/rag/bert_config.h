// What a sentence-transformers folder says about its BERT encoder: the BertModel shape (config.json),
// the pooling (1_Pooling/config.json) and the longest input (sentence_bert_config.json).
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>

namespace tunekit::rag {

enum class Pooling { Mean, Cls };

struct BertConfig {
  int64_t n_vocab = 0;
  int64_t d_model = 0;       // hidden_size
  int64_t n_layer = 0;       // num_hidden_layers
  int64_t n_head = 0;        // num_attention_heads
  int64_t d_ff = 0;          // intermediate_size
  int64_t n_position = 0;    // max_position_embeddings
  int64_t n_token_type = 0;  // type_vocab_size (every input is type 0)
  float layer_norm_eps = 1e-12f;
  int64_t d_head() const { return d_model / n_head; }
};

struct EncoderFolderConfig {
  BertConfig bert;
  Pooling pooling = Pooling::Mean;
  int64_t max_tokens = 0;  // [CLS] + text + [SEP] at most: max_seq_length, never above n_position
};

// Throws Error naming the file and the field: missing or non-positive sizes, heads that do not divide
// hidden_size, an activation other than "gelu", a position_embedding_type other than "absolute", a
// pooling mode other than mean or CLS.
EncoderFolderConfig read_encoder_config(const std::filesystem::path& dir);

}  // namespace tunekit::rag
