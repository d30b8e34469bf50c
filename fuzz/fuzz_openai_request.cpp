// libFuzzer target: OpenAI request bodies as the server reads them (server::parse_request), the
// first byte choosing /v1/completions or /v1/chat/completions. ApiError (a 400 naming the field) is
// the expected answer to bad input; anything else (a crash, another exception) is a bug. A body
// that parses must give options the engines accept.
#include <cstddef>
#include <cstdint>
#include <string>

#include "server/openai_api.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  using tunekit::server::Endpoint;
  const Endpoint endpoint = data[0] % 2 ? Endpoint::chat : Endpoint::completions;
  const std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    const tunekit::server::ApiRequest r = tunekit::server::parse_request(endpoint, body, {4096, 256, 512});
    r.options.sampling.validate();
    if (r.options.max_tokens < 0 || r.options.max_tokens > 4096 || r.options.top_logprobs < -1 ||
        r.options.top_logprobs > tunekit::kMaxTopLogprobs)
      __builtin_trap();
    for (const auto& [id, bias] : r.options.sampling.logit_bias)
      if (id >= 512) __builtin_trap();
  } catch (const tunekit::server::ApiError&) {
  }
  return 0;
}
