// ScoreMergeModel: SentencePiece-style BPE driven by token scores, as llama.cpp's SPM tokenizer and
// llama2.c's encode() do. The word starts as one symbol per UTF-8 character; the adjacent pair whose
// concatenation is a token with the highest score (leftmost on ties) merges until none is left.
// Symbols that are not tokens fall back to <0xNN> byte tokens (or UNK).
#pragma once
#include <memory>

#include "tokenizer/merge_boundaries.h"
#include "tokenizer/token_model.h"
#include "tokenizer/vocab.h"

namespace tunekit {

class ScoreMergeModel : public TokenModel {
 public:
  // scores[id] for every token of vocab.
  ScoreMergeModel(std::shared_ptr<const Vocab> vocab, std::vector<float> scores);
  void encode_word(std::string_view word, std::vector<int32_t>& out) const override;

 private:
  void encode_chunk(std::string_view chunk, std::vector<int32_t>& out) const;
  std::shared_ptr<const Vocab> vocab_;
  std::vector<float> scores_;
  MergeBoundaries boundaries_;  // long texts are merged chunk by chunk
};

}  // namespace tunekit
