#include "tokenizer/vocab.h"

#include <algorithm>
#include <cstdio>

namespace tunekit {

void Vocab::set(int32_t id, std::string text, TokenKind kind) {
  if (id >= size()) {
    tokens_.resize(id + 1);
    kinds_.resize(id + 1, TokenKind::Normal);
  }
  max_token_bytes_ = std::max(max_token_bytes_, text.size());
  ids_.emplace(text, id);
  tokens_[id] = std::move(text);
  kinds_[id] = kind;
}

void Vocab::set_kind(int32_t id, TokenKind kind) { kinds_[id] = kind; }

int32_t Vocab::find(std::string_view text) const {
  auto it = ids_.find(text);
  return it == ids_.end() ? -1 : it->second;
}

bool Vocab::index_byte_tokens() {
  bool all = true;
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    byte_tokens_[b] = find(name);
    all = all && byte_tokens_[b] >= 0;
  }
  return all;
}

std::vector<int32_t> Vocab::stop_ids() const {
  static const char* const end_of_turn[] = {"<|eot_id|>", "<|eom_id|>", "<|im_end|>", "<|end|>", "<|endoftext|>",
                                            "<end_of_turn>", "<|end_of_text|>", "</s>", "<|return|>"};
  std::vector<int32_t> ids;
  if (eos >= 0) ids.push_back(eos);
  for (const char* text : end_of_turn) {
    const int32_t id = find(text);
    if (id >= 0 && id != eos && is_special(id)) ids.push_back(id);
  }
  return ids;
}

}  // namespace tunekit
