#include "tunekit/infer/generate.h"

#include <algorithm>
#include <chrono>

#include "tunekit/error.h"
#include "tunekit/infer/decoding.h"
#include "tunekit/models/forward.h"

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

}  // namespace tunekit
