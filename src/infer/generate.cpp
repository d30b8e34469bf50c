#include "tunekit/infer/generate.h"

#include <algorithm>
#include <chrono>

#include "tunekit/error.h"
#include "tunekit/models/forward.h"

namespace tunekit {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Streams text while holding back any tail that could still become a stop string.
class StopStringFilter {
 public:
  explicit StopStringFilter(const std::vector<std::string>& stops) : stops_(stops) {}

  // Adds text; returns true when a stop string has appeared (text() is then cut before it).
  bool add(const std::string& piece) {
    text_ += piece;
    for (const auto& s : stops_) {
      if (s.empty()) continue;
      size_t at = text_.find(s, std::max<size_t>(released_, s.size()) - s.size());
      if (at != std::string::npos) {
        text_.resize(at);
        return true;
      }
    }
    return false;
  }
  // Text that can no longer be part of a stop string.
  std::string release(bool final) {
    size_t hold = 0;
    if (!final)
      for (const auto& s : stops_)
        for (size_t k = std::min(s.size() - 1, text_.size()); k > hold; --k)
          if (text_.compare(text_.size() - k, k, s, 0, k) == 0) {
            hold = k;
            break;
          }
    size_t upto = std::max(released_, text_.size() - hold);
    std::string out = text_.substr(released_, upto - released_);
    released_ = upto;
    return out;
  }
  const std::string& text() const { return text_; }

 private:
  const std::vector<std::string>& stops_;
  std::string text_;
  size_t released_ = 0;
};

}  // namespace

GenerateResult generate(const Model& model, const Tokenizer& tokenizer, const std::vector<int32_t>& prompt,
                        const GenerateOptions& opt) {
  const ModelConfig& c = model.config;
  check(!prompt.empty(), "generate: the prompt has no tokens (pass text, or let the tokenizer add BOS)");
  check(opt.max_tokens >= 0, "generate: max tokens must be >= 0, got ", opt.max_tokens);
  check(opt.prefill_chunk > 0, "generate: prefill chunk must be positive");
  if (opt.adapter) opt.adapter->validate(c, "generate: adapter");
  const int64_t n_prompt = int64_t(prompt.size());
  check(n_prompt <= c.n_ctx, "generate: the prompt has ", n_prompt, " tokens, more than the model's context of ", c.n_ctx);
  const int64_t n_ctx = std::min<int64_t>(c.n_ctx, n_prompt + std::max<int64_t>(opt.max_tokens, 1));

  GenerateResult result;
  result.n_prompt = n_prompt;
  KvCache cache(c, n_ctx);
  Workspace ws;
  std::vector<float> logits(c.n_vocab);
  Sampler sampler(opt.sampling);
  std::vector<int32_t> history = prompt;
  std::vector<int32_t> stop_ids = opt.stop_at_eos ? tokenizer.stop_ids() : std::vector<int32_t>{};

  auto t0 = std::chrono::steady_clock::now();
  for (int64_t p = 0; p < n_prompt; p += opt.prefill_chunk) {
    int64_t n = std::min(opt.prefill_chunk, n_prompt - p);
    forward(model, prompt.data() + p, n, p, cache, ws, logits.data(), /*all_logits=*/false, opt.adapter);
  }
  result.prefill_seconds = seconds_since(t0);

  t0 = std::chrono::steady_clock::now();
  StopStringFilter filter(opt.stop);
  StreamDecoder stream(tokenizer);
  result.finish_reason = "length";
  bool stop_string_seen = false;
  for (int64_t i = 0; i < opt.max_tokens; ++i) {
    int32_t next = sampler.sample(logits.data(), c.n_vocab, history);
    if (std::find(stop_ids.begin(), stop_ids.end(), next) != stop_ids.end()) {
      result.finish_reason = "stop";
      break;
    }
    result.tokens.push_back(next);
    history.push_back(next);
    stop_string_seen = filter.add(stream.push(next));
    std::string piece = filter.release(stop_string_seen);
    if (opt.on_text && !piece.empty() && !opt.on_text(piece)) {
      result.finish_reason = "cancelled";
      break;
    }
    if (stop_string_seen) {
      result.finish_reason = "stop";
      break;
    }
    const int64_t pos = int64_t(history.size()) - 1;  // where `next` goes in the cache
    if (i + 1 == opt.max_tokens || pos >= n_ctx) break;
    forward(model, &next, 1, pos, cache, ws, logits.data(), /*all_logits=*/false, opt.adapter);
  }
  if (result.finish_reason != "cancelled") {
    if (!stop_string_seen && filter.add(stream.flush())) result.finish_reason = "stop";
    std::string tail = filter.release(true);
    if (opt.on_text && !tail.empty()) opt.on_text(tail);
  }
  result.text = filter.text();
  result.decode_seconds = seconds_since(t0);
  return result;
}

}  // namespace tunekit
