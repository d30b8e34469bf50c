// tunekit serve: an OpenAI-compatible HTTP API (GET /health, GET /v1/models, POST /v1/completions,
// POST /v1/chat/completions, streaming as server-sent events) in front of an Engine; chat answered
// from a knowledge base (GET /v1/knowledge_bases) and a chat page at GET /.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "tunekit/models/lora.h"
#include "tunekit/models/model.h"
#include "tunekit/server/engine.h"
#include "tunekit/server/served_knowledge_base.h"
#include "tunekit/tokenizer/chat_template.h"
#include "tunekit/tokenizer/tokenizer.h"

namespace tunekit::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                      // 0 = any free port (bind() returns it)
  std::string api_key;                  // "" = no authentication
  int64_t max_tokens_limit = 4096;      // the largest max_tokens a request may ask for
  int64_t default_max_tokens = 256;     // when a request does not say (capped by the limit)
  size_t max_body_bytes = size_t(1) << 20;
};

// What the server serves: one base model, its tokenizer and chat template, named adapters that a
// request's "model" field selects (vLLM's convention), and named knowledge bases. Not owned by
// the server.
struct ServedModel {
  std::string name;  // the base model's id in /v1/models and in "model"
  const Model* model = nullptr;
  const Tokenizer* tokenizer = nullptr;
  std::optional<ChatTemplate> chat_template;  // none: chat completions answer 400
  std::map<std::string, LoraAdapter> adapters;
  // Knowledge bases a chat request names by "kb": NAME or the model alias "MODEL+kb:NAME".
  std::map<std::string, std::shared_ptr<const ServedKnowledgeBase>> knowledge_bases;
};

class Server {
 public:
  Server(const ServedModel& served, Engine& engine, ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  int bind();   // binds host:port; returns the port. Throws Error when the address is unusable.
  void run();   // serves until stop(); returns once in-flight requests have finished
  void stop();  // stops accepting connections (safe from any thread; before run(), run() returns at once)

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tunekit::server
