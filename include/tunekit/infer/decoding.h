// The decoding of one sequence, token by token, shared by generate() and the batching engine:
// samples each next token from the logits of the last one, ends on a stop id, a stop string, the
// token limit or the context, and streams text as it becomes final (never a part of a stop string
// or of a UTF-8 character).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tunekit/infer/generate.h"
#include "tunekit/infer/sampler.h"
#include "tunekit/tokenizer/tokenizer.h"

namespace tunekit {

// The entry of `token` at a position whose raw logits [n_vocab] have log Σ exp = lse, with the top
// alternatives there; texts are the bytes each would add after what `stream` has decoded so far.
TokenLogprob token_logprob(const float* logits, int64_t n_vocab, float lse, int32_t token, int top_logprobs,
                           const StreamDecoder& stream);

class SequenceDecoder {
 public:
  // n_ctx: the positions the sequence may fill, prompt and generated tokens together. options
  // (sampling, stop strings, max_tokens, on_text) are copied; tokenizer must outlive the decoder.
  SequenceDecoder(const Tokenizer& tokenizer, std::vector<int32_t> prompt, const GenerateOptions& options,
                  int64_t n_ctx);
  SequenceDecoder(const SequenceDecoder&) = delete;
  SequenceDecoder& operator=(const SequenceDecoder&) = delete;

  // Takes the logits [n_vocab] of the last token (modified in place). Returns the sampled token,
  // which must go through the model before the next call, or nullopt when the sequence has ended.
  std::optional<int32_t> next(float* logits, int64_t n_vocab);
  // Ends the sequence now with this finish reason ("cancelled", "timeout"); no more text is sent.
  void cancel(const std::string& reason);
  bool done() const { return done_; }
  // The prompt and every generated token so far: what the KV cache must hold before the next step.
  const std::vector<int32_t>& tokens() const { return history_; }
  int64_t n_prompt() const { return n_prompt_; }
  // Flushes text held back at the end (unless cancelled) and returns the result; call once, when done().
  GenerateResult finish();

 private:
  void end(const char* reason);
  void keep_distribution(const float* logits, int64_t n_vocab);  // raw_logits_, raw_lse_
  void record_logprob(int32_t token);  // the token's TokenLogprob from the kept distribution

  GenerateOptions options_;
  int64_t n_ctx_, n_prompt_;
  Sampler sampler_;
  StreamDecoder stream_;
  std::vector<int32_t> history_, stop_ids_;
  std::vector<std::string> stops_;
  std::vector<float> raw_logits_;  // [n_vocab]: the last logits before sampling (with top_logprobs >= 0)
  float raw_lse_ = 0;              // log Σ exp(raw_logits_)
  size_t token_bytes_ = 0;         // bytes the generated tokens add up to (their TokenLogprob texts)
  std::string text_;       // generated text so far, cut before a matched stop string
  size_t released_ = 0;    // bytes of text_ already passed to on_text
  bool stop_string_seen_ = false, cancelled_ = false, done_ = false;
  GenerateResult result_;
};

}  // namespace tunekit
