// A compiled PCRE2 pattern (UTF + UCP, so \p{L}, \s and \w are Unicode-aware; JIT where available)
// used by the pre-tokenizers and Replace normalizers. Invalid UTF-8 in the subject is allowed: it
// never matches a character class, so the caller keeps it in the gaps between matches.
#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace tunekit {

struct Span {
  size_t begin = 0;
  size_t end = 0;
};

class Regex {
 public:
  // literal: match pattern as plain text. Throws Error naming the pattern when it does not compile.
  explicit Regex(const std::string& pattern, bool literal = false);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Non-overlapping, non-empty matches, left to right.
  std::vector<Span> find_all(std::string_view text) const;
  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;
  void* code_ = nullptr;  // pcre2_code_8
};

}  // namespace tunekit
