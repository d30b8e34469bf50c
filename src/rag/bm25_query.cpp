#include "rag/bm25_query.h"

#include <cctype>

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

std::vector<std::string> query_terms(std::string_view text) {
  std::vector<std::string> terms;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && is_space(text[i])) ++i;
    const size_t start = i;
    while (i < text.size() && !is_space(text[i])) ++i;
    const std::string_view term = text.substr(start, i - start);
    if (has_word_char(term)) terms.emplace_back(term);
  }
  return terms;
}

std::string fts5_or_query(const std::vector<std::string>& terms) {
  std::string out;
  for (const std::string& term : terms) {
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

std::string fts5_or_query(std::string_view text) { return fts5_or_query(query_terms(text)); }

std::string vocabulary_form(std::string_view term) {
  auto is_punct = [](unsigned char c) { return c < 0x80 && !std::isalnum(c); };
  size_t b = 0, e = term.size();
  while (b < e && is_punct(term[b])) ++b;
  while (e > b && is_punct(term[e - 1])) --e;
  std::string out(term.substr(b, e - b));
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  return out;
}

}  // namespace tunekit::rag
