// Python str operations on UTF-8 text, counting characters (code points) as Python does.
// Invalid bytes count as one character each (see tokenizer/utf8.h) and keep their bytes. Character
// properties and case mapping follow Python's definitions, with ICU's Unicode tables
// (text_unicode.cpp); the rest is text.cpp.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tunekit::jinja::text {

// Byte offset of each character start, plus text.size() at the end (so size() - 1 characters).
std::vector<size_t> char_offsets(std::string_view text);
size_t char_count(std::string_view text);
std::vector<std::string> chars(std::string_view text);

// Character classes as Python's str methods define them.
bool is_space(char32_t cp);      // isspace(): bidi class WS, B or S, or category Zs
bool is_digit(char32_t cp);      // isdigit(): Numeric_Type Decimal or Digit
bool is_alpha(char32_t cp);      // isalpha(): categories L*
bool is_alnum(char32_t cp);      // isalnum(): alpha or any Numeric_Type
bool is_printable(char32_t cp);  // isprintable(): not C*, Z* (except the space)

// str.strip/lstrip/rstrip: chars unset strips whitespace, else any of chars' characters.
std::string strip(std::string_view s, const std::optional<std::string>& chars, bool left, bool right);
// str.split / str.rsplit (sep unset: runs of whitespace); maxsplit < 0 means no limit.
std::vector<std::string> split(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit,
                               bool from_right);
std::vector<std::string> splitlines(std::string_view s);  // \n \r \r\n \v \f \x1c-\x1e \x85 U+2028 U+2029
std::string replace(std::string_view s, std::string_view old, std::string_view replacement, int64_t count);
size_t replaced_size(std::string_view s, std::string_view old, std::string_view replacement);  // bytes of replace(..., -1)
int64_t find(std::string_view s, std::string_view sub, bool from_right);  // character index or -1
int64_t count(std::string_view s, std::string_view sub);

// Full Unicode case mappings (ß -> SS, final sigma), as Python's str methods apply them.
std::string upper(std::string_view s);
std::string lower(std::string_view s);
std::string swapcase(std::string_view s);
std::string capitalize(std::string_view s);   // first character titlecased, the rest lower
std::string title(std::string_view s);        // str.title(): titlecase after an uncased character
std::string jinja_title(std::string_view s);  // the |title filter: words split at [-\s({[<]+
bool is_lower(std::string_view s);            // str.islower(): a cased character, none upper or title
bool is_upper(std::string_view s);            // str.isupper()

std::string pad(std::string_view s, int64_t width, std::string_view fill, bool left, bool right);
bool all_chars(std::string_view s, bool (*predicate)(char32_t));  // false for ""

std::string html_escape(std::string_view s);  // markupsafe.escape: & < > " '
std::string repr(std::string_view s);         // Python repr of a str, quotes chosen as Python does

}  // namespace tunekit::jinja::text
