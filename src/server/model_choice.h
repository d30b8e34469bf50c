// What a request's "model" names: the base model, one of its adapters, or the sentence encoder
// (vLLM's convention: adapters are models of their own in /v1/models, with the base as parent).
#pragma once
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "tunekit/server/server.h"

namespace tunekit::server {

struct ModelChoice {
  enum class Kind { base, adapter, encoder };
  Kind kind = Kind::base;
  std::string name;                              // as the response echoes it
  std::shared_ptr<const LoraAdapter> adapter;    // Kind::adapter: held until the request ends
};

// "" picks the base model (or, when for_embeddings and an encoder is served, the encoder). Throws
// ApiError: 404 model_not_found for a name nobody serves, 500 when an evicted adapter cannot be read again.
ModelChoice choose_model(const ServedModel& served, const std::string& name, bool for_embeddings);

// GET /v1/models: the base, each registered adapter (parent: the base), the encoder, and for each
// knowledge base the alias "BASE+kb:NAME" (parent: the base; "knowledge_base": NAME) that chats with it.
nlohmann::json models_json(const ServedModel& served);

}  // namespace tunekit::server
