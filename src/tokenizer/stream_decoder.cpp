// StreamDecoder: decodes a window of recent ids rather than the whole history. The text of
// decode(window) grows as ids are pushed; what was already returned is emitted_ bytes of it. When
// the window is long and nothing is held back, it restarts at the last few ids (decoded again, so a
// first-token rule such as SentencePiece's leading-space strip applies to both sides alike).
#include <algorithm>

#include "tokenizer/utf8.h"
#include "tunekit/tokenizer/tokenizer.h"

namespace tunekit {

namespace {
constexpr size_t kWindowMax = 16;  // restart the window past this many ids...
constexpr size_t kWindowKeep = 4;  // ...keeping this many for context
}  // namespace

std::string StreamDecoder::push(int32_t id) {
  ids_.push_back(id);
  const std::string text = tok_.decode(ids_);
  decoded_ = text.size();
  std::string out;
  if (text.size() > emitted_) {
    const std::string_view fresh = std::string_view(text).substr(emitted_);
    out = std::string(fresh.substr(0, utf8::complete_prefix_len(fresh)));
    emitted_ += out.size();
  }
  if (ids_.size() > kWindowMax && emitted_ == text.size()) {
    ids_.erase(ids_.begin(), ids_.end() - kWindowKeep);
    emitted_ = decoded_ = tok_.decode(ids_).size();
  }
  return out;
}

void StreamDecoder::prime(std::span<const int32_t> context) {
  ids_.assign(context.end() - std::min(context.size(), kWindowKeep), context.end());
  emitted_ = decoded_ = tok_.decode(ids_).size();
}

std::string StreamDecoder::peek(int32_t id) const {
  std::vector<int32_t> ids = ids_;
  ids.push_back(id);
  const std::string text = tok_.decode(ids);
  return text.size() > decoded_ ? text.substr(decoded_) : std::string();
}

std::string StreamDecoder::flush() {
  const std::string text = tok_.decode(ids_);
  std::string out = text.size() > emitted_ ? text.substr(emitted_) : std::string();
  ids_.clear();
  emitted_ = decoded_ = 0;
  return out;
}

}  // namespace tunekit
