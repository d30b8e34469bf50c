// POST /v1/embeddings (OpenAI's shape): "input" as a string, an array of strings, an array of token
// ids or an array of such arrays; "encoding_format" float or base64 (little-endian float32 bytes).
// The vectors come from the sentence encoder (--encoder) or from the base LM (or an adapter on
// it): the mean over the tokens of the final-normed hidden states, L2-normalised.
#pragma once
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tunekit/server/server.h"

namespace tunekit::server {

struct EmbeddingsRequest {
  std::string model;                        // "" = the default (the encoder when served, else the base)
  std::vector<std::string> texts;           // input given as text
  std::vector<std::vector<int32_t>> ids;    // or as token ids (one array per input)
  bool base64 = false;
  int64_t dimensions = 0;                   // 0 = not given
};

// Checks the body's fields; throws ApiError (400) naming the field.
EmbeddingsRequest parse_embeddings_request(const std::string& body);

// vector[d_model]: mean over tokens of forward_hidden, L2-normalised.
std::vector<float> lm_embedding(const Model& model, const std::vector<int32_t>& tokens, const LoraAdapter* adapter);

// The bytes of the floats (little-endian float32), base64-encoded (RFC 4648, with padding).
std::string base64_floats(const std::vector<float>& values);

// Runs embeddings requests one at a time on the calling (HTTP) thread: the weights are read-only
// and each pass has its own cache and buffers, so it runs beside the engine without sharing state.
class EmbeddingsService {
 public:
  explicit EmbeddingsService(const ServedModel& served) : served_(served) {}
  // The response object and its usage.prompt_tokens; throws ApiError for a bad request.
  nlohmann::json handle(const std::string& body, int64_t* prompt_tokens);

 private:
  const ServedModel& served_;
  std::mutex mutex_;  // one embeddings pass at a time (bounds the memory they take)
};

}  // namespace tunekit::server
