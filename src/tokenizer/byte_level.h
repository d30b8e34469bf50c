// GPT-2's byte-to-unicode map: every byte becomes a printable character (printable Latin-1 maps to
// itself, the rest to U+0100 onwards), so byte-level BPE vocabularies hold only visible text.
#pragma once
#include <string>
#include <string_view>

namespace tunekit::byte_level {

std::string encode(std::string_view bytes);  // each byte -> its character (UTF-8)
// Inverse: characters of the map become their bytes; any other character is kept as its UTF-8.
std::string decode(std::string_view text);
// The mapped character of one byte, as UTF-8 (e.g. ' ' -> "Ġ").
const std::string& char_of(unsigned char byte);

}  // namespace tunekit::byte_level
