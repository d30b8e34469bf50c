// Normalizer: the text transforms applied to each stretch of text between added tokens, before
// pre-tokenization (HF "normalizer" steps; the SentencePiece space escaping of llama.cpp/llama2.c).
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/unicode.h"

namespace tunekit {

using NormalizeStep = std::function<std::string(std::string_view)>;

class Normalizer {
 public:
  void add(NormalizeStep step) { steps_.push_back(std::move(step)); }
  std::string apply(std::string_view text) const;

 private:
  std::vector<NormalizeStep> steps_;
};

struct BertNormalizeOptions {
  bool clean_text = true;            // drop NUL, U+FFFD and control characters; whitespace -> ' '
  bool handle_chinese_chars = true;  // put spaces around CJK ideographs
  bool strip_accents = true;
  bool lowercase = true;
};

namespace normalizers {

NormalizeStep prepend(std::string prefix);  // only to non-empty text
NormalizeStep replace(const std::string& pattern, bool is_regex, std::string content);
NormalizeStep unicode_form(unicode::Form form);
NormalizeStep lowercase();
NormalizeStep strip_accents();  // NFD then drop nonspacing marks
NormalizeStep strip(bool left, bool right);
NormalizeStep bert(BertNormalizeOptions options);

}  // namespace normalizers
}  // namespace tunekit
