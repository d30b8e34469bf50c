// SampleEncoder: the token layout of plain text, prompt/completion pairs and raw documents
// (chat renderings are in data_chat.cpp).
#include <algorithm>

#include "tunekit/error.h"
#include "tunekit/tokenizer/tokenizer.h"
#include "train/data_records.h"

namespace tunekit {

SampleEncoder::SampleEncoder(const Tokenizer& tok, const ChatTemplate* chat, double prompt_loss_weight)
    : tok_(tok), chat_(chat), prompt_weight_(float(prompt_loss_weight)), bos_(tok.bos_id()), eos_(tok.eos_id()) {
  // The model expects BOS where its own tokenizer adds one (HF add_bos_token, GGUF add_bos).
  std::vector<int32_t> probe = tok.encode("a", true);
  add_bos_ = bos_ >= 0 && !probe.empty() && probe.front() == bos_;
  stop_ids_ = tok.stop_ids();
  if (eos_ >= 0) stop_ids_.push_back(eos_);
}

std::vector<int32_t> SampleEncoder::encode(std::string_view text) const { return tok_.encode(text, false); }

SampleEncoder::Boundary SampleEncoder::token_boundary(const std::string& full_text, size_t chars,
                                                      const std::vector<int32_t>& full_tokens) const {
  if (chars == 0) return {0, 0};
  if (chars >= full_text.size()) return {full_tokens.size(), full_tokens.size()};
  std::vector<int32_t> prefix = encode(std::string_view(full_text).substr(0, chars));
  // The common tokens spell a prefix of full_text[0, chars): each lies wholly before the boundary.
  // Where the prefix's own encoding goes on, the next full token starts before the boundary too.
  auto p = std::mismatch(prefix.begin(), prefix.end(), full_tokens.begin(), full_tokens.end()).first;
  const size_t before = size_t(p - prefix.begin());
  return {before, std::min(full_tokens.size(), before + (p != prefix.end()))};
}

bool SampleEncoder::is_stop(int32_t id) const {
  return std::find(stop_ids_.begin(), stop_ids_.end(), id) != stop_ids_.end();
}

void SampleEncoder::add_bos(Sample& s) const {
  if (!add_bos_ || (!s.tokens.empty() && s.tokens.front() == bos_)) return;
  s.tokens.insert(s.tokens.begin(), bos_);
  s.weights.insert(s.weights.begin(), 0.0f);  // nothing predicts the first token
}

Sample SampleEncoder::text(std::string_view text) const {
  Sample s;
  s.tokens = encode(text);
  if (eos_ >= 0) s.tokens.push_back(eos_);
  s.weights.assign(s.tokens.size(), 1.0f);
  add_bos(s);
  return s;
}

Sample SampleEncoder::completion(const std::string& prompt, const std::string& completion) const {
  const std::string full = prompt + completion;
  Sample s;
  s.tokens = encode(full);
  const size_t boundary = token_boundary(full, prompt.size(), s.tokens).before;
  s.weights.assign(s.tokens.size(), 1.0f);
  std::fill(s.weights.begin(), s.weights.begin() + std::ptrdiff_t(boundary), prompt_weight_);
  if (eos_ >= 0) {
    s.tokens.push_back(eos_);
    s.weights.push_back(1.0f);
  }
  add_bos(s);
  return s;
}

std::vector<int32_t> SampleEncoder::document(std::string_view text) const {
  Sample s = this->text(text);
  return std::move(s.tokens);
}

}  // namespace tunekit
