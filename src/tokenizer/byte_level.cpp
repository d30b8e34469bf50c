#include "tokenizer/byte_level.h"

#include <array>

#include "tokenizer/utf8.h"

namespace tunekit::byte_level {

namespace {

struct Tables {
  std::array<std::string, 256> char_of_byte;
  std::array<int, 0x144> byte_of_char;  // the map's image lies below U+0144; -1 elsewhere

  Tables() {
    byte_of_char.fill(-1);
    int next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      const int cp = printable ? b : next++;
      utf8::append(char_of_byte[b], static_cast<char32_t>(cp));
      byte_of_char[cp] = b;
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

const std::string& char_of(unsigned char byte) { return tables().char_of_byte[byte]; }

std::string encode(std::string_view bytes) {
  const Tables& t = tables();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) out += t.char_of_byte[b];
  return out;
}

std::string decode(std::string_view text) {
  const Tables& t = tables();
  std::string out;
  out.reserve(text.size());
  utf8::for_each_char(text, [&](char32_t cp, size_t pos, size_t len) {
    if (cp < t.byte_of_char.size() && t.byte_of_char[cp] >= 0)
      out += static_cast<char>(t.byte_of_char[cp]);
    else
      out.append(text.substr(pos, len));
  });
  return out;
}

}  // namespace tunekit::byte_level
