// PreTokenizer: splits normalized text into words for the model (HF "pre_tokenizer" steps, and the
// regex presets llama.cpp picks by tokenizer.ggml.pre). Steps run in order, each on every piece the
// previous one produced.
#pragma once
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace tunekit {

// at_text_start: the piece begins the whole input (not after an added token); Metaspace's
// prepend_scheme "first" prefixes only such a piece.
using PreTokenizeStep = std::function<void(std::string_view piece, bool at_text_start, std::vector<std::string>& out)>;

class PreTokenizer {
 public:
  void add(PreTokenizeStep step) { steps_.push_back(std::move(step)); }
  // Words of one stretch of normalized text; with no steps, the text itself.
  std::vector<std::string> split(std::string text, bool at_text_start) const;

 private:
  std::vector<PreTokenizeStep> steps_;
};

// What happens to the matches of a Split pattern (HF's SplitDelimiterBehavior).
enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };
SplitBehavior split_behavior_from_name(const std::string& name);  // throws Error for an unknown name

// Regexes of the usual byte-level BPE pre-tokenizers.
namespace pre_tokenizer_regex {
extern const char* const gpt2;       // GPT-2, also ByteLevel(use_regex=true)
extern const char* const llama3;     // Llama-3 (digits in groups of up to 3)
extern const char* const qwen2;      // Qwen2 (single digits)
}  // namespace pre_tokenizer_regex

namespace pre_tokenizers {

PreTokenizeStep split(const std::string& pattern, bool is_regex, SplitBehavior behavior, bool invert);
// Byte-level: optional prefix space, optional GPT-2 regex split, then each byte -> its character.
PreTokenizeStep byte_level(bool add_prefix_space, bool use_regex);
PreTokenizeStep digits(bool individual);
PreTokenizeStep whitespace();        // \w+|[^\w\s]+
PreTokenizeStep whitespace_split();  // split on whitespace, dropping it
PreTokenizeStep punctuation(SplitBehavior behavior);
PreTokenizeStep bert();  // whitespace split, then every punctuation character on its own
// SentencePiece's Metaspace: ' ' -> replacement, prefix per prepend_scheme ("always", "first",
// "never"), optional split before each replacement character.
PreTokenizeStep metaspace(std::string replacement, std::string prepend_scheme, bool split);

}  // namespace pre_tokenizers
}  // namespace tunekit
