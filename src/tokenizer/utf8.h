// UTF-8 helpers shared by the tokenizers. Invalid bytes are never rejected here: a byte that does
// not start a well-formed sequence counts as one character of length 1, so every input can be
// split and every split joins back to the original bytes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tunekit::utf8 {

// Length in bytes of the character starting at text[pos] (1 for an invalid or truncated sequence).
size_t char_len(std::string_view text, size_t pos);

// The code point at text[pos] and its length; an invalid byte gives U+FFFD with length 1.
char32_t decode(std::string_view text, size_t pos, size_t* len);

void append(std::string& out, char32_t cp);

// Bytes of text that form whole characters at its start: a truncated sequence at the end is left
// out (so a stream can hold it back); invalid bytes elsewhere count as whole characters.
size_t complete_prefix_len(std::string_view text);

// Calls fn(code_point, byte_offset, byte_len) for each character of text.
template <class Fn>
void for_each_char(std::string_view text, Fn&& fn) {
  for (size_t pos = 0; pos < text.size();) {
    size_t len = 0;
    char32_t cp = decode(text, pos, &len);
    fn(cp, pos, len);
    pos += len;
  }
}

}  // namespace tunekit::utf8
