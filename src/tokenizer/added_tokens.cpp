#include "tokenizer/added_tokens.h"

#include <algorithm>

namespace tunekit {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

}  // namespace

void AddedTokens::add(AddedToken token) {
  if (token.text.empty()) return;
  auto& bucket = by_first_byte_[static_cast<unsigned char>(token.text[0])];
  const size_t len = token.text.size();
  tokens_.push_back(std::move(token));
  // Keep the bucket longest first; among equal lengths the earlier token stays first.
  auto at = std::find_if(bucket.begin(), bucket.end(), [&](size_t i) { return tokens_[i].text.size() < len; });
  bucket.insert(at, tokens_.size() - 1);
}

const AddedToken* AddedTokens::match_at(std::string_view text, size_t pos) const {
  for (size_t i : by_first_byte_[static_cast<unsigned char>(text[pos])]) {
    const std::string& t = tokens_[i].text;
    if (text.compare(pos, t.size(), t) == 0) return &tokens_[i];
  }
  return nullptr;
}

std::vector<AddedTokens::Piece> AddedTokens::split(std::string_view text) const {
  std::vector<Piece> pieces;
  size_t raw_begin = 0;  // start of the raw stretch not yet emitted
  auto emit_raw = [&](size_t end) {
    if (end > raw_begin) pieces.push_back({text.substr(raw_begin, end - raw_begin), -1, raw_begin});
  };
  for (size_t pos = 0; pos < text.size();) {
    const AddedToken* token = tokens_.empty() ? nullptr : match_at(text, pos);
    if (token == nullptr) {
      ++pos;
      continue;
    }
    size_t raw_end = pos;
    if (token->lstrip)
      while (raw_end > raw_begin && is_space(text[raw_end - 1])) --raw_end;
    emit_raw(raw_end);
    pieces.push_back({text.substr(pos, token->text.size()), token->id, pos});
    pos += token->text.size();
    if (token->rstrip)
      while (pos < text.size() && is_space(text[pos])) ++pos;
    raw_begin = pos;
  }
  emit_raw(text.size());
  return pieces;
}

}  // namespace tunekit
