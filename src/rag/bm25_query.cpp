#include "rag/bm25_query.h"

namespace tunekit::rag {

namespace {

// unicode61 splits on ASCII punctuation and keeps every non-ASCII letter; bytes >= 0x80 are taken
// as part of words here (a term of only non-ASCII punctuation is then a harmless empty phrase).
bool has_word_char(std::string_view term) {
  for (unsigned char c : term)
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80) return true;
  return false;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

}  // namespace

std::string fts5_or_query(std::string_view text) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && is_space(text[i])) ++i;
    const size_t start = i;
    while (i < text.size() && !is_space(text[i])) ++i;
    const std::string_view term = text.substr(start, i - start);
    if (!has_word_char(term)) continue;
    if (!out.empty()) out += " OR ";
    out += '"';
    for (char c : term) {
      if (c == '"') out += '"';
      out += c;
    }
    out += '"';
  }
  return out;
}

}  // namespace tunekit::rag
