#include "tunekit/infer/decoding.h"

#include <algorithm>

#include "tunekit/error.h"

namespace tunekit {

namespace {

// Appends piece to text; true when a stop string has appeared in it (text is then cut before it).
// released: bytes of text already streamed (a stop string is searched from where it could start).
bool add_and_find_stop(std::string& text, size_t released, const std::string& piece,
                       const std::vector<std::string>& stops) {
  text += piece;
  for (const auto& s : stops) {
    if (s.empty()) continue;
    const size_t at = text.find(s, std::max<size_t>(released, s.size()) - s.size());
    if (at != std::string::npos) {
      text.resize(at);
      return true;
    }
  }
  return false;
}

// Bytes at the end of text that could still become a stop string.
size_t held_back(const std::string& text, const std::vector<std::string>& stops) {
  size_t hold = 0;
  for (const auto& s : stops)
    for (size_t k = std::min(s.size() - 1, text.size()); k > hold; --k)
      if (text.compare(text.size() - k, k, s, 0, k) == 0) {
        hold = k;
        break;
      }
  return hold;
}

}  // namespace

SequenceDecoder::SequenceDecoder(const Tokenizer& tokenizer, std::vector<int32_t> prompt,
                                 const GenerateOptions& options, int64_t n_ctx)
    : options_(options),
      n_ctx_(n_ctx),
      n_prompt_(int64_t(prompt.size())),
      sampler_(options.sampling),
      stream_(tokenizer),
      history_(std::move(prompt)),
      stop_ids_(options.stop_at_eos ? tokenizer.stop_ids() : std::vector<int32_t>{}),
      stops_(options.stop) {
  check(n_prompt_ > 0, "generate: the prompt has no tokens (pass text, or let the tokenizer add BOS)");
  check(options.max_tokens >= 0, "generate: max tokens must be >= 0, got ", options.max_tokens);
  check(n_prompt_ <= n_ctx, "generate: the prompt has ", n_prompt_, " tokens, more than the context of ", n_ctx);
  result_.n_prompt = n_prompt_;
  if (options.max_tokens == 0) end("length");
}

void SequenceDecoder::end(const char* reason) {
  result_.finish_reason = reason;
  done_ = true;
}

std::optional<int32_t> SequenceDecoder::next(float* logits, int64_t n_vocab) {
  if (done_) return std::nullopt;
  const int32_t token = sampler_.sample(logits, n_vocab, history_);
  if (std::find(stop_ids_.begin(), stop_ids_.end(), token) != stop_ids_.end()) {
    end("stop");
    return std::nullopt;
  }
  result_.tokens.push_back(token);
  history_.push_back(token);
  stop_string_seen_ = add_and_find_stop(text_, released_, stream_.push(token), stops_);
  const size_t upto = std::max(released_, text_.size() - (stop_string_seen_ ? 0 : held_back(text_, stops_)));
  const std::string piece = text_.substr(released_, upto - released_);
  released_ = upto;
  if (options_.on_text && !piece.empty() && !options_.on_text(piece)) {
    cancel("cancelled");
    return std::nullopt;
  }
  if (stop_string_seen_) {
    end("stop");
    return std::nullopt;
  }
  const int64_t position = int64_t(history_.size()) - 1;  // where the token goes in the cache
  if (int64_t(result_.tokens.size()) == options_.max_tokens || position >= n_ctx_) {
    end("length");
    return std::nullopt;
  }
  return token;
}

void SequenceDecoder::cancel(const std::string& reason) {
  cancelled_ = true;
  done_ = true;
  result_.finish_reason = reason;
}

GenerateResult SequenceDecoder::finish() {
  check(done_, "SequenceDecoder::finish: the sequence has not ended");
  if (!cancelled_) {
    if (!stop_string_seen_ && add_and_find_stop(text_, released_, stream_.flush(), stops_)) result_.finish_reason = "stop";
    const std::string tail = text_.substr(std::min(released_, text_.size()));
    released_ = text_.size();
    if (options_.on_text && !tail.empty()) options_.on_text(tail);
  }
  result_.text = text_;
  return std::move(result_);
}

}  // namespace tunekit
