// MergeBoundaries: where a long word can be cut without changing how BPE merges it. Every merge
// makes a token, so no merged symbol can span two adjacent characters a|b unless some token holds
// "ab"; cutting there leaves each side's merges (and their order) unchanged. The models use it to
// encode a long unsplit text (SentencePiece-style tokenizers have no pre-tokenizer) as short,
// cacheable chunks instead of one huge merge queue.
#pragma once
#include <cstdint>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "tokenizer/vocab.h"

namespace tunekit {

class MergeBoundaries {
 public:
  explicit MergeBoundaries(const Vocab& vocab);
  // Consecutive pieces of word, cut only where no token crosses and at least one side is itself a
  // token (so runs of unknown characters stay together for UNK fusing).
  std::vector<std::string_view> chunks(std::string_view word) const;

 private:
  std::unordered_set<uint64_t> pairs_;     // adjacent code points inside some token
  std::unordered_set<char32_t> singles_;   // code points that are tokens on their own
};

}  // namespace tunekit
