#include "tokenizer/utf8.h"

namespace tunekit::utf8 {

namespace {

// Expected length from the lead byte; 0 for a byte that cannot start a character.
size_t lead_len(uint8_t b) {
  if (b < 0x80) return 1;
  if (b >= 0xC2 && b <= 0xDF) return 2;
  if (b >= 0xE0 && b <= 0xEF) return 3;
  if (b >= 0xF0 && b <= 0xF4) return 4;
  return 0;
}

bool is_continuation(uint8_t b) { return (b & 0xC0) == 0x80; }

}  // namespace

char32_t decode(std::string_view text, size_t pos, size_t* len) {
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  const size_t n = lead_len(s[pos]);
  *len = 1;
  if (n == 0) return 0xFFFD;
  if (n == 1) return s[pos];
  if (pos + n > text.size()) return 0xFFFD;
  char32_t cp = s[pos] & (0x7F >> n);
  for (size_t i = 1; i < n; ++i) {
    if (!is_continuation(s[pos + i])) return 0xFFFD;
    cp = (cp << 6) | (s[pos + i] & 0x3F);
  }
  // Reject overlong forms, surrogates and values past U+10FFFF (the lead-byte ranges catch most).
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))
    return 0xFFFD;
  *len = n;
  return cp;
}

size_t char_len(std::string_view text, size_t pos) {
  size_t len = 0;
  decode(text, pos, &len);
  return len;
}

void append(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

size_t complete_prefix_len(std::string_view text) {
  // Look at most 3 bytes back for the lead byte of a sequence that the text cuts short.
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  const size_t n = text.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    const uint8_t b = s[n - back];
    if (is_continuation(b)) continue;
    const size_t want = lead_len(b);
    if (want > back) {
      // Held back only if every byte after the lead is a continuation byte (a sequence in progress).
      return n - back;
    }
    return n;
  }
  return n;
}

}  // namespace tunekit::utf8
