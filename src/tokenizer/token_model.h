// TokenModel: turns one pre-tokenized word into ids (the "model" stage of an HF tokenizer).
// Implementations: BpeModel (merge ranks), ScoreMergeModel (SentencePiece scores, as llama.cpp and
// llama2.c do), WordPieceModel (greedy longest match).
#pragma once
#include <cstdint>
#include <string_view>
#include <vector>

namespace tunekit {

class TokenModel {
 public:
  virtual ~TokenModel() = default;
  virtual void encode_word(std::string_view word, std::vector<int32_t>& out) const = 0;
};

}  // namespace tunekit
