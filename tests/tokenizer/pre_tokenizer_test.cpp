// Pre-tokenizer steps against hand-worked expectations: the regex presets (derived by applying the
// published patterns by hand) and HF's documented Split behaviors ("the-final--countdown").
#include <gtest/gtest.h>

#include "tokenizer/pre_tokenizer.h"

namespace tunekit {
namespace {

using Pieces = std::vector<std::string>;

Pieces run(const PreTokenizeStep& step, const std::string& text, bool at_start = true) {
  PreTokenizer p;
  p.add(step);
  return p.split(text, at_start);
}

const std::string kText = "Hello world 12345 it's\n\n  x";

TEST(PreTokenizer, Gpt2Regex) {
  const auto step = pre_tokenizers::split(pre_tokenizer_regex::gpt2, true, SplitBehavior::Isolated, false);
  EXPECT_EQ(run(step, kText), (Pieces{"Hello", " world", " 12345", " it", "'s", "\n\n ", " x"}));
}

TEST(PreTokenizer, Llama3RegexGroupsDigitsByThree) {
  const auto step = pre_tokenizers::split(pre_tokenizer_regex::llama3, true, SplitBehavior::Isolated, false);
  EXPECT_EQ(run(step, kText), (Pieces{"Hello", " world", " ", "123", "45", " it", "'s", "\n\n", " ", " x"}));
  EXPECT_EQ(run(step, "IT'S"), (Pieces{"IT", "'S"}));  // contractions match case-insensitively
}

TEST(PreTokenizer, Qwen2RegexSplitsSingleDigits) {
  const auto step = pre_tokenizers::split(pre_tokenizer_regex::qwen2, true, SplitBehavior::Isolated, false);
  EXPECT_EQ(run(step, "a 123"), (Pieces{"a", " ", "1", "2", "3"}));
}

TEST(PreTokenizer, SplitBehaviorsAsHfDocuments) {
  const std::string t = "the-final--countdown";
  auto split = [&](SplitBehavior b) { return run(pre_tokenizers::split("-", false, b, false), t); };
  EXPECT_EQ(split(SplitBehavior::Removed), (Pieces{"the", "final", "countdown"}));
  EXPECT_EQ(split(SplitBehavior::Isolated), (Pieces{"the", "-", "final", "-", "-", "countdown"}));
  EXPECT_EQ(split(SplitBehavior::MergedWithPrevious), (Pieces{"the-", "final-", "-", "countdown"}));
  EXPECT_EQ(split(SplitBehavior::MergedWithNext), (Pieces{"the", "-final", "-", "-countdown"}));
  EXPECT_EQ(split(SplitBehavior::Contiguous), (Pieces{"the", "-", "final", "--", "countdown"}));
  // invert: the pattern names the pieces to keep, everything between them is the delimiter.
  EXPECT_EQ(run(pre_tokenizers::split("\\w+", true, SplitBehavior::Removed, true), "a, b"), (Pieces{"a", "b"}));
}

TEST(PreTokenizer, DigitsWhitespaceBertMetaspace) {
  EXPECT_EQ(run(pre_tokenizers::digits(true), "ab12c"), (Pieces{"ab", "1", "2", "c"}));
  EXPECT_EQ(run(pre_tokenizers::digits(false), "ab12c"), (Pieces{"ab", "12", "c"}));
  EXPECT_EQ(run(pre_tokenizers::whitespace(), "Hey friend!  How?"), (Pieces{"Hey", "friend", "!", "How", "?"}));
  EXPECT_EQ(run(pre_tokenizers::whitespace_split(), " a\tb\n"), (Pieces{"a", "b"}));
  EXPECT_EQ(run(pre_tokenizers::bert(), "Hello, y'all!"), (Pieces{"Hello", ",", "y", "'", "all", "!"}));
  const auto meta = pre_tokenizers::metaspace("\u2581", "first", true);
  EXPECT_EQ(run(meta, "Hello world"), (Pieces{"\u2581Hello", "\u2581world"}));
  EXPECT_EQ(run(meta, "Hello world", false), (Pieces{"Hello", "\u2581world"}));  // not at the text start
  EXPECT_EQ(run(pre_tokenizers::metaspace("\u2581", "always", false), "a b"), (Pieces{"\u2581a\u2581b"}));
}

TEST(PreTokenizer, ByteLevelMapsBytes) {
  // GPT-2's map: ' ' -> U+0120 'Ġ', '\n' -> U+010A 'Ċ', printable ASCII unchanged.
  EXPECT_EQ(run(pre_tokenizers::byte_level(false, true), "Hi there\n"), (Pieces{"Hi", "\u0120there", "\u010A"}));
  EXPECT_EQ(run(pre_tokenizers::byte_level(true, false), "Hi"), (Pieces{"\u0120Hi"}));
}

}  // namespace
}  // namespace tunekit
