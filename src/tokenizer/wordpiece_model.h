// WordPieceModel: BERT's greedy longest-match-first subwords. The first piece of a word is looked up
// as word_prefix + text and later pieces as continuing_prefix + text: HF vocabularies use ("", "##"),
// llama.cpp's GGUF bert vocabularies ("▁", ""). A word that cannot be covered, or that has more
// than max_chars characters, becomes a single UNK.
#pragma once
#include <memory>
#include <string>

#include "tokenizer/token_model.h"
#include "tokenizer/vocab.h"

namespace tunekit {

struct WordPieceOptions {
  std::string word_prefix;
  std::string continuing_prefix = "##";
  size_t max_chars = 100;  // 0: no limit
};

class WordPieceModel : public TokenModel {
 public:
  WordPieceModel(std::shared_ptr<const Vocab> vocab, WordPieceOptions options);
  void encode_word(std::string_view word, std::vector<int32_t>& out) const override;

 private:
  std::shared_ptr<const Vocab> vocab_;
  WordPieceOptions options_;
};

}  // namespace tunekit
