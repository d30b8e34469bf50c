// The text side of a sentence encoder: its WordPiece tokenizer, truncation to max_seq_length, and the
// query/passage prefixes that e5 and bge models were trained with.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tunekit/tokenizer/tokenizer.h"

namespace tunekit::rag {

// tokenizer.json where the folder has one; otherwise vocab.txt read as HF BertTokenizer would (BERT
// normalisation with do_lower_case / strip_accents / tokenize_chinese_chars from tokenizer_config.json,
// [CLS] text [SEP]). Throws Error naming the folder when it has neither.
std::unique_ptr<Tokenizer> load_encoder_tokenizer(const std::filesystem::path& dir);

// [CLS] text [SEP] with the text's pieces cut so that the whole is at most max_tokens (>= 2) long, as
// sentence-transformers truncates.
std::vector<int32_t> encode_truncated(const Tokenizer& tokenizer, std::string_view text, int64_t max_tokens);

struct TextPrefixes {
  std::string query, passage;
};
// style "none", "e5" ("query: " / "passage: "), "bge" (its retrieval instruction on queries only) or
// "auto": e5 or bge when a dash/underscore/dot-separated part of the folder name is "e5" or starts
// with "bge" (e5-small-v2, multilingual-e5-base, bge-small-en-v1.5), otherwise none. Throws Error for
// another style.
TextPrefixes text_prefixes(const std::string& style, const std::string& folder_name);

}  // namespace tunekit::rag
