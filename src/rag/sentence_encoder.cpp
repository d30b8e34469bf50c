// SentenceEncoder::load and the BERT sentence encoder: tokenize (with the role's prefix), pack a batch
// of texts back to back, run the encoder, pool and normalise.
#include <algorithm>
#include <filesystem>

#include "rag/bert_config.h"
#include "rag/bert_forward.h"
#include "rag/bert_weights.h"
#include "rag/encoder_text.h"
#include "tunekit/core/parallel.h"
#include "tunekit/error.h"
#include "tunekit/io/safetensors.h"
#include "tunekit/rag/encoder.h"

namespace tunekit::rag {

namespace {

namespace fs = std::filesystem;

class BertSentenceEncoder : public SentenceEncoder {
 public:
  BertSentenceEncoder(std::string name, EncoderFolderConfig config, std::unique_ptr<Tokenizer> tokenizer,
                      BertWeights weights, TextPrefixes prefixes, int64_t batch_size)
      : name_(std::move(name)), config_(config), tokenizer_(std::move(tokenizer)), weights_(std::move(weights)),
        prefixes_(std::move(prefixes)), batch_size_(batch_size) {}

  int64_t dim() const override { return config_.bert.d_model; }
  std::string name() const override { return name_; }
  int64_t max_tokens() const override { return config_.max_tokens; }

  std::vector<float> encode(const std::vector<std::string>& texts, EncodeRole role) const override {
    const std::string& prefix = role == EncodeRole::Query ? prefixes_.query : prefixes_.passage;
    const int64_t n_text = int64_t(texts.size()), D = dim();
    std::vector<float> out(size_t(n_text * D));  // [n_text, D]
    std::vector<int32_t> ids;                    // the batch's texts back to back
    std::vector<int64_t> seq_start;              // [batch + 1]
    std::vector<float> hidden;                   // [ids.size(), D]
    for (int64_t first = 0; first < n_text; first += batch_size_) {
      const int64_t n_seq = std::min(batch_size_, n_text - first);
      ids.clear();
      seq_start.assign(1, 0);
      for (int64_t i = first; i < first + n_seq; ++i) {
        const std::vector<int32_t> text_ids = encode_truncated(*tokenizer_, prefix + texts[size_t(i)], max_tokens());
        ids.insert(ids.end(), text_ids.begin(), text_ids.end());
        seq_start.push_back(int64_t(ids.size()));
      }
      hidden.resize(ids.size() * size_t(D));
      bert_forward(config_.bert, weights_, ids.data(), seq_start.data(), n_seq, hidden.data());
      pool_normalize(hidden.data(), seq_start.data(), n_seq, D, config_.pooling, out.data() + first * D);
    }
    return out;
  }

  int64_t count_tokens(const std::string& text, EncodeRole role) const override {
    const std::string& prefix = role == EncodeRole::Query ? prefixes_.query : prefixes_.passage;
    return int64_t(encode_truncated(*tokenizer_, prefix + text, max_tokens()).size());
  }

 private:
  std::string name_;
  EncoderFolderConfig config_;
  std::unique_ptr<Tokenizer> tokenizer_;
  BertWeights weights_;  // views into the mapped weights file, which they keep alive
  TextPrefixes prefixes_;
  int64_t batch_size_;
};

// The weights file; a folder without one (a tokenizer-only download) gets a hint.
TensorFile read_encoder_weights(const fs::path& dir) {
  if (!fs::exists(dir / "model.safetensors") && !fs::exists(dir / "model.safetensors.index.json")) {
    const bool torch_only = fs::exists(dir / "pytorch_model.bin");
    fail("model.safetensors not found in ", dir.string(), ": download the weights (e.g. `huggingface-cli download ",
         "sentence-transformers/all-MiniLM-L6-v2 --local-dir DIR` on a connected machine)",
         torch_only ? "; pytorch_model.bin is not read: fetch the model's safetensors file instead" : "");
  }
  return read_safetensors(dir);
}

}  // namespace

std::unique_ptr<SentenceEncoder> SentenceEncoder::load(const fs::path& dir, const EncoderOptions& options) {
  check(options.batch_size > 0, "encoder: batch_size must be positive, got ", options.batch_size);
  fs::path folder = fs::absolute(dir).lexically_normal();
  if (folder.filename().empty()) folder = folder.parent_path();  // "dir/" names dir
  const std::string name = folder.filename().string();
  TextPrefixes prefixes = text_prefixes(options.prefix_style, name);
  EncoderFolderConfig config = read_encoder_config(dir);
  std::unique_ptr<Tokenizer> tokenizer = load_encoder_tokenizer(dir);
  check(tokenizer->vocab_size() <= config.bert.n_vocab, dir.string(), ": the tokenizer has ", tokenizer->vocab_size(),
        " tokens but config.json's vocab_size is ", config.bert.n_vocab,
        "; hint: the two files are of different models");
  const TensorFile file = read_encoder_weights(dir);
  BertWeights weights = bind_bert_weights(file.tensors, config.bert, file.files.front().string());
  if (options.threads > 0) set_num_threads(options.threads);
  return std::make_unique<BertSentenceEncoder>(name, config, std::move(tokenizer), std::move(weights),
                                               std::move(prefixes), options.batch_size);
}

}  // namespace tunekit::rag
