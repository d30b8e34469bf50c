#include "tokenizer/pre_tokenizer.h"

#include <memory>

#include "tokenizer/byte_level.h"
#include "tokenizer/regex.h"
#include "tokenizer/unicode.h"
#include "tokenizer/utf8.h"
#include "tunekit/error.h"

namespace tunekit {

std::vector<std::string> PreTokenizer::split(std::string text, bool at_text_start) const {
  std::vector<std::string> pieces;
  pieces.push_back(std::move(text));
  for (const auto& step : steps_) {
    std::vector<std::string> next;
    for (size_t i = 0; i < pieces.size(); ++i) step(pieces[i], at_text_start && i == 0, next);
    pieces = std::move(next);
  }
  return pieces;
}

SplitBehavior split_behavior_from_name(const std::string& name) {
  if (name == "Removed") return SplitBehavior::Removed;
  if (name == "Isolated") return SplitBehavior::Isolated;
  if (name == "MergedWithPrevious") return SplitBehavior::MergedWithPrevious;
  if (name == "MergedWithNext") return SplitBehavior::MergedWithNext;
  if (name == "Contiguous") return SplitBehavior::Contiguous;
  fail("unknown split behavior '", name, "' (expected Removed, Isolated, MergedWithPrevious, MergedWithNext or ",
       "Contiguous)");
}

namespace pre_tokenizer_regex {
const char* const gpt2 = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
const char* const llama3 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const qwen2 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
}  // namespace pre_tokenizer_regex

namespace {

// Cuts piece at the given delimiter spans (sorted, non-overlapping) as behavior says.
void split_at(std::string_view piece, const std::vector<Span>& delimiters, SplitBehavior behavior, bool invert,
              std::vector<std::string>& out) {
  struct Part {
    Span span;
    bool delimiter;
  };
  std::vector<Part> parts;
  size_t pos = 0;
  for (const Span& d : delimiters) {
    if (d.begin > pos) parts.push_back({{pos, d.begin}, invert});
    parts.push_back({d, !invert});
    pos = d.end;
  }
  if (pos < piece.size()) parts.push_back({{pos, piece.size()}, invert});

  std::vector<Span> result;
  bool merge_into_next = false;  // MergedWithNext: the last span takes in the following one
  for (size_t i = 0; i < parts.size(); ++i) {
    const Part& p = parts[i];
    switch (behavior) {
      case SplitBehavior::Removed:
        if (!p.delimiter) result.push_back(p.span);
        break;
      case SplitBehavior::Isolated:
        result.push_back(p.span);
        break;
      case SplitBehavior::Contiguous:
        if (p.delimiter && i > 0 && parts[i - 1].delimiter)
          result.back().end = p.span.end;
        else
          result.push_back(p.span);
        break;
      case SplitBehavior::MergedWithPrevious:
        if (p.delimiter && i > 0 && !parts[i - 1].delimiter)
          result.back().end = p.span.end;
        else
          result.push_back(p.span);
        break;
      case SplitBehavior::MergedWithNext:
        if (merge_into_next)
          result.back().end = p.span.end;
        else
          result.push_back(p.span);
        // A delimiter joins the piece after it unless that is a delimiter too (HF's rule).
        merge_into_next = p.delimiter && i + 1 < parts.size() && !parts[i + 1].delimiter;
        break;
    }
  }
  for (const Span& s : result)
    if (s.end > s.begin) out.emplace_back(piece.substr(s.begin, s.end - s.begin));
}

// Spans of single characters (or runs of them, when contiguous) for which pred holds.
template <class Pred>
std::vector<Span> char_spans(std::string_view piece, bool contiguous, Pred pred) {
  std::vector<Span> spans;
  utf8::for_each_char(piece, [&](char32_t cp, size_t pos, size_t len) {
    if (!pred(cp)) return;
    if (contiguous && !spans.empty() && spans.back().end == pos)
      spans.back().end = pos + len;
    else
      spans.push_back({pos, pos + len});
  });
  return spans;
}

PreTokenizeStep regex_step(const std::string& pattern, bool is_regex, SplitBehavior behavior, bool invert) {
  auto regex = std::make_shared<const Regex>(pattern, !is_regex);
  return [regex, behavior, invert](std::string_view piece, bool, std::vector<std::string>& out) {
    split_at(piece, regex->find_all(piece), behavior, invert, out);
  };
}

}  // namespace

namespace pre_tokenizers {

PreTokenizeStep split(const std::string& pattern, bool is_regex, SplitBehavior behavior, bool invert) {
  return regex_step(pattern, is_regex, behavior, invert);
}

PreTokenizeStep byte_level(bool add_prefix_space, bool use_regex) {
  std::shared_ptr<const Regex> regex;
  if (use_regex) regex = std::make_shared<const Regex>(pre_tokenizer_regex::gpt2);
  return [add_prefix_space, regex](std::string_view piece, bool, std::vector<std::string>& out) {
    std::string text(piece);
    if (add_prefix_space && !text.empty() && text[0] != ' ') text.insert(text.begin(), ' ');
    std::vector<std::string> words;
    if (regex)
      split_at(text, regex->find_all(text), SplitBehavior::Isolated, false, words);
    else
      words.push_back(std::move(text));
    for (const std::string& w : words) out.push_back(byte_level::encode(w));
  };
}

PreTokenizeStep digits(bool individual) {
  return [individual](std::string_view piece, bool, std::vector<std::string>& out) {
    const auto spans = char_spans(piece, !individual, [](char32_t cp) { return cp >= '0' && cp <= '9'; });
    split_at(piece, spans, SplitBehavior::Isolated, false, out);
  };
}

PreTokenizeStep whitespace() { return regex_step(R"(\w+|[^\w\s]+)", true, SplitBehavior::Removed, true); }

PreTokenizeStep whitespace_split() {
  return [](std::string_view piece, bool, std::vector<std::string>& out) {
    split_at(piece, char_spans(piece, true, unicode::is_whitespace), SplitBehavior::Removed, false, out);
  };
}

PreTokenizeStep punctuation(SplitBehavior behavior) {
  return [behavior](std::string_view piece, bool, std::vector<std::string>& out) {
    split_at(piece, char_spans(piece, false, unicode::is_punctuation), behavior, false, out);
  };
}

PreTokenizeStep bert() {
  return [](std::string_view piece, bool, std::vector<std::string>& out) {
    std::vector<std::string> words;
    split_at(piece, char_spans(piece, true, unicode::is_whitespace), SplitBehavior::Removed, false, words);
    for (const std::string& w : words)
      split_at(w, char_spans(w, false, unicode::is_punctuation), SplitBehavior::Isolated, false, out);
  };
}

PreTokenizeStep metaspace(std::string replacement, std::string prepend_scheme, bool split) {
  check(prepend_scheme == "always" || prepend_scheme == "first" || prepend_scheme == "never",
        "Metaspace: unknown prepend_scheme '", prepend_scheme, "' (expected always, first or never)");
  return [replacement = std::move(replacement), prepend_scheme = std::move(prepend_scheme), split](
             std::string_view piece, bool at_text_start, std::vector<std::string>& out) {
    std::string text;
    for (char c : piece) {
      if (c == ' ')
        text += replacement;
      else
        text += c;
    }
    const bool prefix = prepend_scheme == "always" || (prepend_scheme == "first" && at_text_start);
    if (prefix && text.compare(0, replacement.size(), replacement) != 0) text.insert(0, replacement);
    if (!split) {
      out.push_back(std::move(text));
      return;
    }
    std::vector<Span> marks;
    for (size_t pos = text.find(replacement); pos != std::string::npos; pos = text.find(replacement, pos + 1))
      marks.push_back({pos, pos + replacement.size()});
    split_at(text, marks, SplitBehavior::MergedWithNext, false, out);
  };
}

}  // namespace pre_tokenizers
}  // namespace tunekit
