#include "tokenizer/merge_boundaries.h"

#include "tokenizer/utf8.h"

namespace tunekit {

namespace {
uint64_t pair_key(char32_t a, char32_t b) { return (static_cast<uint64_t>(a) << 21) | b; }
}  // namespace

MergeBoundaries::MergeBoundaries(const Vocab& vocab) {
  for (int32_t id = 0; id < vocab.size(); ++id) {
    const std::string& text = vocab.text(id);
    char32_t prev = 0;
    size_t n_chars = 0;
    utf8::for_each_char(text, [&](char32_t cp, size_t, size_t) {
      if (n_chars++ > 0) pairs_.insert(pair_key(prev, cp));
      prev = cp;
    });
    if (n_chars == 1) singles_.insert(prev);
  }
}

std::vector<std::string_view> MergeBoundaries::chunks(std::string_view word) const {
  std::vector<std::string_view> out;
  size_t begin = 0;
  char32_t prev = 0;
  utf8::for_each_char(word, [&](char32_t cp, size_t pos, size_t) {
    if (pos > 0 && !pairs_.count(pair_key(prev, cp)) && (singles_.count(prev) || singles_.count(cp))) {
      out.push_back(word.substr(begin, pos - begin));
      begin = pos;
    }
    prev = cp;
  });
  if (begin < word.size()) out.push_back(word.substr(begin));
  return out;
}

}  // namespace tunekit
