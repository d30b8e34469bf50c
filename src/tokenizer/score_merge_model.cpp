#include "tokenizer/score_merge_model.h"

#include <queue>

#include "tokenizer/utf8.h"
#include "tunekit/error.h"

namespace tunekit {

namespace {

struct Symbol {
  size_t begin, len;  // bytes of the word
  int32_t prev, next;
};

struct Candidate {
  float score;
  int32_t left;
  size_t len;  // bytes of the pair when it was proposed; a later merge changes it
  bool operator<(const Candidate& o) const { return score != o.score ? score < o.score : left > o.left; }
};

}  // namespace

ScoreMergeModel::ScoreMergeModel(std::shared_ptr<const Vocab> vocab, std::vector<float> scores)
    : vocab_(std::move(vocab)), scores_(std::move(scores)), boundaries_(*vocab_) {
  check(scores_.size() == static_cast<size_t>(vocab_->size()), "tokenizer: ", scores_.size(), " scores for ",
        vocab_->size(), " tokens");
}

void ScoreMergeModel::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  for (std::string_view chunk : boundaries_.chunks(word)) encode_chunk(chunk, out);
}

void ScoreMergeModel::encode_chunk(std::string_view word, std::vector<int32_t>& out) const {
  const Vocab& v = *vocab_;
  std::vector<Symbol> symbols;
  for (size_t pos = 0; pos < word.size();) {
    const size_t len = utf8::char_len(word, pos);
    const int32_t index = static_cast<int32_t>(symbols.size());
    symbols.push_back({pos, len, index - 1, pos + len < word.size() ? index + 1 : -1});
    pos += len;
  }
  std::priority_queue<Candidate> queue;
  auto consider = [&](int32_t left) {
    if (left < 0 || symbols[left].next < 0) return;
    const Symbol& a = symbols[left];
    const Symbol& b = symbols[a.next];
    const int32_t id = v.find(word.substr(a.begin, a.len + b.len));
    if (id >= 0) queue.push({scores_[id], left, a.len + b.len});
  };
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(symbols.size()); ++i) consider(i);

  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    Symbol& left = symbols[c.left];
    // Stale when either side has merged since (the left symbol died, or the pair's length changed).
    if (left.len == 0 || left.next < 0 || left.len + symbols[left.next].len != c.len) continue;
    Symbol& right = symbols[left.next];
    left.len += right.len;
    right.len = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = c.left;
    consider(left.prev);
    consider(c.left);
  }

  for (int32_t i = symbols.empty() ? -1 : 0; i >= 0; i = symbols[i].next) {
    const std::string_view text = word.substr(symbols[i].begin, symbols[i].len);
    if (const int32_t id = v.find(text); id >= 0) {
      out.push_back(id);
      continue;
    }
    for (unsigned char b : text) {
      const int32_t id = v.byte_token(b) >= 0 ? v.byte_token(b) : v.unk;
      if (id >= 0) out.push_back(id);
    }
  }
}

}  // namespace tunekit
