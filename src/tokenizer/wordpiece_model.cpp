#include "tokenizer/wordpiece_model.h"

#include <algorithm>

#include "tokenizer/utf8.h"
#include "tunekit/error.h"

namespace tunekit {

WordPieceModel::WordPieceModel(std::shared_ptr<const Vocab> vocab, WordPieceOptions options)
    : vocab_(std::move(vocab)), options_(std::move(options)) {
  check(vocab_->unk >= 0, "tokenizer: a WordPiece vocabulary needs an unknown token");
}

void WordPieceModel::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  std::vector<size_t> bounds;  // byte offsets of character starts, then word.size()
  for (size_t pos = 0; pos < word.size(); pos += utf8::char_len(word, pos)) bounds.push_back(pos);
  const size_t n_chars = bounds.size();
  bounds.push_back(word.size());
  if (options_.max_chars > 0 && n_chars > options_.max_chars) {
    out.push_back(vocab_->unk);
    return;
  }
  // No token is longer than the longest vocabulary entry, so longer candidates are never looked up.
  const size_t max_piece = vocab_->max_token_bytes();
  std::vector<int32_t> pieces;
  std::string candidate;
  for (size_t start = 0; start < n_chars;) {
    const std::string& prefix = start == 0 ? options_.word_prefix : options_.continuing_prefix;
    int32_t found = -1;
    const size_t limit = bounds[start] + (max_piece > prefix.size() ? max_piece - prefix.size() : 0);
    size_t end = std::upper_bound(bounds.begin() + start + 1, bounds.end(), limit) - bounds.begin() - 1;
    for (; end > start; --end) {
      const size_t bytes = bounds[end] - bounds[start];
      candidate.assign(prefix);
      candidate.append(word.substr(bounds[start], bytes));
      found = vocab_->find(candidate);
      if (found >= 0) break;
    }
    if (found < 0) {
      out.push_back(vocab_->unk);
      return;
    }
    pieces.push_back(found);
    start = end;
  }
  out.insert(out.end(), pieces.begin(), pieces.end());
}

}  // namespace tunekit
