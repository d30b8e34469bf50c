// The OpenAI wire format: request bodies in, response objects, stream chunks and errors out.
// Bad requests throw ApiError with the HTTP status and OpenAI's error fields.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tunekit/error.h"
#include "tunekit/infer/generate.h"
#include "tunekit/tokenizer/chat_template.h"

namespace tunekit::server {

struct ApiError : Error {
  ApiError(int status, std::string message, std::string type, std::string param = "", std::string code = "")
      : Error(std::move(message)), status(status), type(std::move(type)), param(std::move(param)), code(std::move(code)) {}
  int status;
  std::string type, param, code;
};

// {"error": {"message", "type", "param", "code"}}; empty param/code are null.
nlohmann::json error_body(const std::string& message, const std::string& type, const std::string& param = "",
                          const std::string& code = "");

enum class Endpoint { completions, chat };

struct ApiRequest {
  Endpoint endpoint = Endpoint::completions;
  std::string model;                  // "" = the base model
  std::string kb;                     // chat: the knowledge base named by an extra "kb" field ("" = none)
  std::string prompt;                 // completions
  std::vector<ChatMessage> messages;  // chat
  bool stream = false;
  bool include_usage = false;         // stream_options.include_usage
  bool echo = false;                  // completions: the prompt comes back before the completion
  GenerateOptions options;            // max_tokens, sampling, stop, top_logprobs (on_text and adapter unset)
};

// What a request is checked against: the server's token limits and the served model's vocabulary.
struct RequestLimits {
  int64_t max_tokens_limit = 4096;
  int64_t default_max_tokens = 256;  // when the request does not say (capped by the limit)
  int64_t n_vocab = 0;               // logit_bias token ids must be below it
};

// Parses and checks a body: JSON syntax, field types, max_tokens in [0, max_tokens_limit],
// temperature, top_p, frequency/presence penalties, logit_bias, n == 1, logprobs / top_logprobs.
// Throws ApiError (400) naming the field.
ApiRequest parse_request(Endpoint endpoint, const std::string& body, const RequestLimits& limits);

// Identity of one response: its id, creation time and the model name echoed back.
struct ResponseHeader {
  std::string id;  // "cmpl-..." or "chatcmpl-..."
  int64_t created = 0;
  std::string model;
};
ResponseHeader new_response_header(Endpoint endpoint, const std::string& model);

nlohmann::json usage_json(int64_t prompt_tokens, int64_t completion_tokens);
// The whole non-streaming response (text_completion or chat.completion); top_logprobs as in the
// request's options (-1: "logprobs" is null).
nlohmann::json completion_json(Endpoint endpoint, const ResponseHeader& header, const GenerateResult& result,
                               int top_logprobs = -1);
// A piece of streamed text and the log-probabilities of the tokens that produced it.
struct StreamPiece {
  std::string text;
  std::vector<TokenLogprob> logprobs{};
  int top_logprobs = -1;
};
// One stream chunk: a text piece (finish_reason null), or the final one (text "", finish_reason set).
// For chat the first chunk carries the assistant role (role_chunk). "logprobs" is null unless the
// piece has entries.
nlohmann::json chunk_json(Endpoint endpoint, const ResponseHeader& header, const StreamPiece& piece,
                          const std::optional<std::string>& finish_reason, bool role_chunk = false);
// The usage chunk sent last when stream_options.include_usage is set (empty choices).
nlohmann::json usage_chunk_json(Endpoint endpoint, const ResponseHeader& header, const GenerateResult& result);

// "data: {json}\n\n" (invalid UTF-8 shows as U+FFFD).
std::string sse_event(const nlohmann::json& j);
std::string dump(const nlohmann::json& j);

}  // namespace tunekit::server
