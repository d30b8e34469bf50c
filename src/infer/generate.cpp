#include "tunekit/infer/generate.h"

#include <algorithm>
#include <chrono>

#include "tunekit/error.h"
#include "tunekit/infer/decoding.h"
#include "tunekit/models/forward.h"
#include "tunekit/ops/ops.h"

namespace tunekit {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

GenerateResult generate(const Model& model, const Tokenizer& tokenizer, const std::vector<int32_t>& prompt,
                        const GenerateOptions& opt) {
  const ModelConfig& c = model.config;
  check(opt.prefill_chunk > 0, "generate: prefill chunk must be positive");
  if (opt.adapter) opt.adapter->validate(c, "generate: adapter");
  const int64_t n_prompt = int64_t(prompt.size());
  check(n_prompt <= c.n_ctx, "generate: the prompt has ", n_prompt, " tokens, more than the model's context of ", c.n_ctx);
  const int64_t n_ctx = std::min<int64_t>(c.n_ctx, n_prompt + std::max<int64_t>(opt.max_tokens, 1));
  SequenceDecoder decoder(tokenizer, prompt, opt, n_ctx);
  if (decoder.done()) return decoder.finish();

  KvCache cache(c, n_ctx);
  Workspace ws;
  std::vector<float> logits(size_t(c.n_vocab));
  auto t0 = std::chrono::steady_clock::now();
  for (int64_t p = 0; p < n_prompt; p += opt.prefill_chunk) {
    const int64_t n = std::min(opt.prefill_chunk, n_prompt - p);
    forward(model, prompt.data() + p, n, p, cache, ws, logits.data(), /*all_logits=*/false, opt.adapter);
  }
  const double prefill_seconds = seconds_since(t0);

  t0 = std::chrono::steady_clock::now();
  while (std::optional<int32_t> next = decoder.next(logits.data(), c.n_vocab)) {
    const int64_t pos = int64_t(decoder.tokens().size()) - 1;  // where `next` goes in the cache
    forward(model, &*next, 1, pos, cache, ws, logits.data(), /*all_logits=*/false, opt.adapter);
  }
  GenerateResult result = decoder.finish();
  result.prefill_seconds = prefill_seconds;
  result.decode_seconds = seconds_since(t0);
  return result;
}

std::vector<TokenLogprob> prompt_logprobs(const Model& model, const Tokenizer& tokenizer,
                                          const std::vector<int32_t>& prompt, int top_logprobs,
                                          const LoraAdapter* adapter, int64_t prefill_chunk) {
  const ModelConfig& c = model.config;
  const int64_t n = int64_t(prompt.size()), V = c.n_vocab;
  check(n > 0 && n <= c.n_ctx, "prompt_logprobs: the prompt has ", n, " tokens; the model's context is ", c.n_ctx);
  check(top_logprobs >= 0 && top_logprobs <= kMaxTopLogprobs, "prompt_logprobs: top_logprobs must be between 0 and ",
        kMaxTopLogprobs, ", got ", top_logprobs);
  check(prefill_chunk > 0, "prompt_logprobs: prefill chunk must be positive");
  if (adapter) adapter->validate(c, "prompt_logprobs: adapter");
  KvCache cache(c, n);
  Workspace ws;
  StreamDecoder stream(tokenizer);
  std::vector<TokenLogprob> entries;
  size_t bytes = 0;
  auto add = [&](TokenLogprob entry) {
    entry.text_offset = bytes;
    bytes += entry.text.size();
    stream.push(entry.id);
    entries.push_back(std::move(entry));
  };
  TokenLogprob first;
  first.id = prompt[0];
  first.text = stream.peek(prompt[0]);
  first.scored = false;
  add(std::move(first));
  std::vector<float> logits;
  for (int64_t p0 = 0; p0 < n - 1; p0 += prefill_chunk) {  // the last token's logits score nothing
    const int64_t rows = std::min(prefill_chunk, n - 1 - p0);
    logits.resize(size_t(rows * V));
    forward(model, prompt.data() + p0, rows, p0, cache, ws, logits.data(), /*all_logits=*/true, adapter);
    for (int64_t r = 0; r < rows; ++r) {  // row r predicts token p0 + r + 1
      const float* row = logits.data() + r * V;
      add(token_logprob(row, V, ops::log_sum_exp(row, V), prompt[size_t(p0 + r + 1)], top_logprobs, stream));
    }
  }
  return entries;
}

}  // namespace tunekit
