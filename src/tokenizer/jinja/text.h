// Python str operations on UTF-8 text, counting characters (code points) as Python does.
// Invalid bytes count as one character each (see tokenizer/utf8.h). Case mapping covers ASCII
// letters only: other characters pass through upper()/lower()/title() unchanged.
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

bool is_space(char32_t cp);  // str.isspace(): Unicode White_Space plus U+001C..U+001F

// str.strip/lstrip/rstrip: chars unset strips whitespace, else any of chars' characters.
std::string strip(std::string_view s, const std::optional<std::string>& chars, bool left, bool right);
// str.split / str.rsplit (sep unset: runs of whitespace); maxsplit < 0 means no limit.
std::vector<std::string> split(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit,
                               bool from_right);
std::vector<std::string> splitlines(std::string_view s);  // \n \r \r\n \v \f \x1c-\x1e \x85 U+2028 U+2029
std::string replace(std::string_view s, std::string_view old, std::string_view replacement, int64_t count);
int64_t find(std::string_view s, std::string_view sub, bool from_right);  // character index or -1
int64_t count(std::string_view s, std::string_view sub);

std::string upper(std::string_view s);
std::string lower(std::string_view s);
std::string swapcase(std::string_view s);
std::string capitalize(std::string_view s);  // first character upper, the rest lower
std::string title(std::string_view s);       // str.title(): a letter after a non-letter is upper
std::string jinja_title(std::string_view s);  // the |title filter: words split at [-\s({[<]+
std::string pad(std::string_view s, int64_t width, std::string_view fill, bool left, bool right);

bool all_chars(std::string_view s, bool (*predicate)(char32_t));  // false for ""
bool is_digit(char32_t cp);
bool is_alpha(char32_t cp);
bool is_alnum(char32_t cp);
bool has_cased(std::string_view s, bool upper_case);  // some cased char and none of the other case

std::string html_escape(std::string_view s);  // markupsafe.escape: & < > " '
std::string repr(std::string_view s);         // Python repr of a str, quotes chosen as Python does

}  // namespace tunekit::jinja::text
