#include "tunekit/infer/decoding.h"

#include <algorithm>
#include <queue>

#include "tunekit/error.h"
#include "tunekit/ops/ops.h"

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

// The ids of the k largest logits, largest first (ties: lower id first).
std::vector<int32_t> top_ids(const float* logits, int64_t n, int k) {
  auto better = [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); };
  std::priority_queue<int32_t, std::vector<int32_t>, decltype(better)> kept(better);  // top: the worst kept
  for (int32_t i = 0; i < int32_t(n) && k > 0; ++i) {
    if (int(kept.size()) < k) {
      kept.push(i);
    } else if (better(i, kept.top())) {
      kept.pop();
      kept.push(i);
    }
  }
  std::vector<int32_t> top(kept.size());
  for (size_t j = top.size(); j-- > 0; kept.pop()) top[j] = kept.top();
  return top;
}

}  // namespace

TokenLogprob token_logprob(const float* logits, int64_t n_vocab, float lse, int32_t token, int top_logprobs,
                           const StreamDecoder& stream) {
  TokenLogprob entry;
  entry.id = token;
  entry.text = stream.peek(token);
  entry.logprob = logits[token] - lse;
  for (int32_t id : top_ids(logits, n_vocab, top_logprobs)) entry.top.push_back({id, stream.peek(id), logits[id] - lse});
  return entry;
}

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
  check(options.top_logprobs >= -1 && options.top_logprobs <= kMaxTopLogprobs,
        "generate: top_logprobs must be between 0 and ", kMaxTopLogprobs, " (or -1 for none), got ",
        options.top_logprobs);
  result_.n_prompt = n_prompt_;
  if (options.continues_prompt) stream_.prime(history_);
  if (options.max_tokens == 0) end("length");
}

void SequenceDecoder::end(const char* reason) {
  result_.finish_reason = reason;
  done_ = true;
}

std::optional<int32_t> SequenceDecoder::next(float* logits, int64_t n_vocab) {
  if (done_) return std::nullopt;
  if (options_.top_logprobs >= 0) keep_distribution(logits, n_vocab);  // before the sampler changes logits
  const int32_t token = sampler_.sample(logits, n_vocab, history_);
  if (std::find(stop_ids_.begin(), stop_ids_.end(), token) != stop_ids_.end()) {
    end("stop");
    return std::nullopt;
  }
  result_.tokens.push_back(token);
  history_.push_back(token);
  if (options_.top_logprobs >= 0) record_logprob(token);
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

void SequenceDecoder::keep_distribution(const float* logits, int64_t n_vocab) {
  raw_logits_.assign(logits, logits + n_vocab);
  raw_lse_ = ops::log_sum_exp(logits, n_vocab);
}

void SequenceDecoder::record_logprob(int32_t token) {
  TokenLogprob entry = token_logprob(raw_logits_.data(), int64_t(raw_logits_.size()), raw_lse_, token,
                                     options_.top_logprobs, stream_);
  entry.text_offset = token_bytes_;
  token_bytes_ += entry.text.size();
  if (options_.on_logprob) options_.on_logprob(entry);
  result_.logprobs.push_back(std::move(entry));
}

void SequenceDecoder::cancel(const std::string& reason) {
  cancelled_ = true;
  done_ = true;
  result_.finish_reason = reason;
}

GenerateResult SequenceDecoder::finish() {
  check(done_, "SequenceDecoder::finish: the sequence has not ended");
  if (!cancelled_) {
    if (!stop_string_seen_ && add_and_find_stop(text_, released_, stream_.flush(), stops_)) {
      result_.finish_reason = "stop";
      stop_string_seen_ = true;
    }
    const std::string tail = text_.substr(std::min(released_, text_.size()));
    released_ = text_.size();
    if (options_.on_text && !tail.empty()) options_.on_text(tail);
  }
  result_.text = text_;
  // Entries of tokens whose bytes a stop string cut off (they start past the end of the text).
  auto& entries = result_.logprobs;
  while (stop_string_seen_ && !entries.empty() && entries.back().text_offset >= text_.size()) entries.pop_back();
  return std::move(result_);
}

}  // namespace tunekit
