// Unicode properties and transforms the normalizers and pre-tokenizers need, backed by ICU
// (Debian's libicu-dev): categories, White_Space, full lowercase mapping, NF(K)C/NF(K)D.
// Text is UTF-8 in and out; invalid bytes become U+FFFD where ICU has to see the text.
#pragma once
#include <string>
#include <string_view>

namespace tunekit::unicode {

enum class Form { NFC, NFD, NFKC, NFKD };

std::string normalize(std::string_view text, Form form);
std::string lowercase(std::string_view text);     // full Unicode lowercase mapping (root locale)
std::string strip_accents(std::string_view text);  // drops nonspacing marks (Mn); apply after NFD

bool is_whitespace(char32_t cp);   // \t \n \r or the White_Space property
bool is_control(char32_t cp);      // categories C* except \t \n \r
bool is_punctuation(char32_t cp);  // ASCII punctuation or categories P*
bool is_chinese_char(char32_t cp); // CJK Unified Ideographs blocks (as BERT defines them)

}  // namespace tunekit::unicode
