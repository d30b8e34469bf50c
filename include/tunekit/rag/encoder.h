// Sentence encoder: a BERT-family model (HF safetensors + WordPiece vocabulary) that turns texts into
// L2-normalised vectors for dense retrieval. Reads a sentence-transformers folder:
//
//   config.json                  BertModel config (hidden_size, num_hidden_layers, num_attention_heads,
//                                intermediate_size, max_position_embeddings, layer_norm_eps, hidden_act)
//   model.safetensors            weights under HF BertModel names (with or without a "bert." prefix)
//   tokenizer.json or vocab.txt  WordPiece vocabulary (lower-casing from tokenizer_config.json)
//   1_Pooling/config.json        pooling_mode_mean_tokens / pooling_mode_cls_token (default: mean)
//   sentence_bert_config.json    max_seq_length (longer texts are truncated)
//
// Configurations in the field: all-MiniLM-L6-v2 (mean pooling), bge-* (CLS pooling; queries get the
// "Represent this sentence for searching relevant passages: " instruction), e5-* (mean pooling;
// "query: " / "passage: " prefixes). EncoderOptions picks the prefixes; "auto" guesses them from
// the folder's name.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace tunekit::rag {

enum class EncodeRole { Query, Passage };

struct EncoderOptions {
  std::string prefix_style = "auto";  // "auto", "none", "e5", "bge"
  int64_t batch_size = 32;            // texts per forward pass
  int threads = 0;                    // 0: one per core
};

class SentenceEncoder {
 public:
  // Throws Error naming the file and the problem (missing weights, unknown pooling, shape mismatch).
  static std::unique_ptr<SentenceEncoder> load(const std::filesystem::path& dir, const EncoderOptions& options = {});
  virtual ~SentenceEncoder() = default;

  virtual int64_t dim() const = 0;             // hidden size of the output vectors
  virtual std::string name() const = 0;        // the folder's name, kept in the knowledge base's meta
  virtual int64_t max_tokens() const = 0;      // max_seq_length

  // [texts.size(), dim()] row-major, every row of unit L2 norm (an empty text gets the encoding of
  // "[CLS] [SEP]"). Role adds the configuration's query/passage prefix.
  virtual std::vector<float> encode(const std::vector<std::string>& texts, EncodeRole role) const = 0;

  // How many tokens encode() runs for this text (prefix, special tokens and truncation included).
  virtual int64_t count_tokens(const std::string& text, EncodeRole role) const = 0;
};

}  // namespace tunekit::rag
