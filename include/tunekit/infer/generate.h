// Text generation for one sequence: prefill the prompt in chunks, then decode token by token
// with the KV cache, sampling each next token, stopping on EOS/end-of-turn ids, stop strings or
// the token limit, streaming text as it becomes final.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tunekit/infer/sampler.h"
#include "tunekit/models/lora.h"
#include "tunekit/models/model.h"
#include "tunekit/tokenizer/tokenizer.h"

namespace tunekit {

// The log-probability of one generated token under the model (log-softmax of its raw logits, before
// repetition penalty, temperature or any filtering), with the most probable alternatives there.
struct TopLogprob {
  int32_t id = 0;
  std::string text;  // the bytes this token adds to the output where it stands (maybe part of a character)
  float logprob = 0;
};
struct TokenLogprob : TopLogprob {
  size_t text_offset = 0;       // where its bytes start in the output
  std::vector<TopLogprob> top;  // the most probable tokens at this position, most probable first
  bool scored = true;           // false for a prompt's first token: no context, no logprob or alternatives
};

struct GenerateOptions {
  int64_t max_tokens = 256;
  SamplingParams sampling;
  std::vector<std::string> stop;  // stop strings: generation ends before the first one
  bool stop_at_eos = true;        // end on the tokenizer's stop ids
  // Decode the output as the prompt's continuation (what a completion wants: with a SentencePiece
  // tokenizer its first token's leading space is kept) rather than as a text of its own (a chat
  // answer, whose first token's space is dropped as at the start of any text).
  bool continues_prompt = false;
  int64_t prefill_chunk = 512;    // prompt tokens per forward pass
  const LoraAdapter* adapter = nullptr;  // a LoRA applied unmerged (not owned; must outlive the call)
  // Called with each piece of final text (never a part of a stop string or of a UTF-8
  // character); return false to cancel.
  std::function<bool(const std::string& text)> on_text;
  // -1: no log-probabilities; 0..kMaxTopLogprobs: each generated token's, with that many alternatives.
  int top_logprobs = -1;
  // With top_logprobs >= 0, called with each token's entry before on_text sees its text. Entries of
  // tokens whose text a stop string cuts off are passed here but left out of the result.
  std::function<void(const TokenLogprob&)> on_logprob;
};

constexpr int kMaxTopLogprobs = 20;

struct GenerateResult {
  std::vector<int32_t> tokens;  // generated ids (without the prompt, without a matched stop id)
  std::string text;             // their text, cut before a matched stop string
  std::string finish_reason;    // "stop" | "length" | "cancelled" (| "timeout" from a server engine)
  std::vector<TokenLogprob> logprobs;  // with options.top_logprobs >= 0: one per token of `text`
  int64_t n_prompt = 0;
  double prefill_seconds = 0, decode_seconds = 0;
};

GenerateResult generate(const Model& model, const Tokenizer& tokenizer, const std::vector<int32_t>& prompt,
                        const GenerateOptions& options);

// What an evaluation harness scores: each prompt token's log-probability after the tokens before
// it, with top_logprobs (0..kMaxTopLogprobs) alternatives; one entry per prompt token, offsets into
// the decoded prompt, the first entry not scored. One pass over the prompt in chunks of
// prefill_chunk tokens (all their logits kept); adapter as in GenerateOptions.
std::vector<TokenLogprob> prompt_logprobs(const Model& model, const Tokenizer& tokenizer,
                                          const std::vector<int32_t>& prompt, int top_logprobs,
                                          const LoraAdapter* adapter = nullptr, int64_t prefill_chunk = 256);

}  // namespace tunekit
