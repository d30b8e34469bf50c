// The HTTP side of tunekit serve: routes, API-key check, body limit, OpenAI errors, and the
// hand-off of each completion to the Engine (waiting on it, or streaming its text as SSE). RAG
// chat (rag_chat.h) grounds a chat request in a knowledge base; GET / is the chat page (web_page.h).
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <optional>

#include "openai_api.h"
#include "rag_chat.h"
#include "text_channel.h"
#include "web_page.h"
#include "tunekit/server/server.h"

namespace tunekit::server {

using nlohmann::json;

namespace {

// A completion that passed every check: what the engine runs and what the response echoes.
struct PreparedCompletion {
  Endpoint endpoint;
  ResponseHeader header;
  EngineRequest request;
  bool include_usage = false;
  std::optional<rag::GroundedQuestion> rag;  // RAG chat: the prompt's numbered sources
};

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(dump(body), "application/json");
}

void send_error(httplib::Response& res, const ApiError& e) {
  send_json(res, e.status, error_body(e.what(), e.type, e.param, e.code));
}

// The message for a status httplib set itself (no route, body over the limit, ...).
std::string status_message(int status, size_t max_body_bytes) {
  switch (status) {
    case 404: return "no such route; the API serves GET /health, GET /v1/models, GET /v1/knowledge_bases, "
                     "POST /v1/completions and POST /v1/chat/completions (and the chat page at GET /)";
    case 405: return "method not allowed on this route";
    case 413: return "the request body is over the server's limit of " + std::to_string(max_body_bytes) +
                     " bytes (--max-body-bytes)";
    default: return std::string("HTTP error ") + std::to_string(status);
  }
}

}  // namespace

struct Server::Impl {
  const ServedModel& served;
  Engine& engine;
  ServerOptions options;
  httplib::Server http;
  std::atomic<bool> stop_requested{false};  // a stop() that came before run() began listening

  Impl(const ServedModel& s, Engine& e, ServerOptions o) : served(s), engine(e), options(std::move(o)) {
    check(served.model && served.tokenizer, "server: a model and a tokenizer are required");
    http.set_payload_max_length(options.max_body_bytes);
    http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      return authorize(req, res) ? httplib::Server::HandlerResponse::Unhandled
                                 : httplib::Server::HandlerResponse::Handled;
    });
    // Called for every status >= 400; fills the body of the ones httplib produced itself.
    http.set_error_handler(httplib::Server::HandlerWithResponse([this](const httplib::Request&, httplib::Response& res) {
      if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
      const char* type = res.status == 404 ? "not_found_error" : "invalid_request_error";
      send_json(res, res.status, error_body(status_message(res.status, options.max_body_bytes), type));
      return httplib::Server::HandlerResponse::Handled;
    }));
    http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
      std::string message = "internal error";
      try {
        std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        message = e.what();
      } catch (...) {
      }
      send_json(res, 500, error_body(message, "server_error"));
    });
    http.Get("/health", [](const httplib::Request&, httplib::Response& res) {
      send_json(res, 200, {{"status", "ok"}});
    });
    http.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) { send_json(res, 200, models()); });
    http.Get("/v1/knowledge_bases", [this](const httplib::Request&, httplib::Response& res) {
      send_json(res, 200, knowledge_bases_json(served));
    });
    http.Get("/", [](const httplib::Request&, httplib::Response& res) { send_web_page(res); });
    http.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) {
      complete(Endpoint::completions, req, res);
    });
    http.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
      complete(Endpoint::chat, req, res);
    });
  }

  // With --api-key, every route but /health and the page (which holds no data; its own requests
  // carry the key the user types) needs "Authorization: Bearer KEY".
  bool authorize(const httplib::Request& req, httplib::Response& res) const {
    if (options.api_key.empty() || req.path == "/health" || req.path == "/") return true;
    if (req.get_header_value("Authorization") == "Bearer " + options.api_key) return true;
    send_error(res, ApiError(401, req.has_header("Authorization") ? "incorrect API key provided"
                                                                   : "missing API key: send 'Authorization: Bearer KEY'",
                             "invalid_request_error", "", "invalid_api_key"));
    return false;
  }

  json models() const {
    auto entry = [](const std::string& id, const std::string& parent) {
      json m = {{"id", id}, {"object", "model"}, {"created", 0}, {"owned_by", "tunekit"}};
      if (!parent.empty()) m["parent"] = parent;
      return m;
    };
    json data = json::array({entry(served.name, "")});
    for (const auto& [name, adapter] : served.adapters) data.push_back(entry(name, served.name));
    return {{"object", "list"}, {"data", data}};
  }

  // The request's "model": the base (by name, or when absent) or an adapter; else 404.
  const LoraAdapter* resolve_model(const std::string& name) const {
    if (name.empty() || name == served.name) return nullptr;
    auto it = served.adapters.find(name);
    if (it == served.adapters.end())
      throw ApiError(404, "the model '" + name + "' does not exist; GET /v1/models lists the served ones",
                     "invalid_request_error", "model", "model_not_found");
    return &it->second;
  }

  std::vector<int32_t> prompt_tokens(const ApiRequest& r) const {
    const Tokenizer& tok = *served.tokenizer;
    std::vector<int32_t> ids;
    if (r.endpoint == Endpoint::completions) {
      ids = tok.encode(r.prompt, true);
    } else {
      if (!served.chat_template)
        throw ApiError(400, "the model '" + served.name + "' has no chat template; use /v1/completions, " +
                       (served.knowledge_bases.empty() ? "" : "name a knowledge base (\"kb\": its prompt needs no template), ") +
                       "or start the server with --tokenizer pointing at a tokenizer folder that has one",
                       "invalid_request_error", "messages", "no_chat_template");
      std::string text;
      try {
        text = served.chat_template->apply(r.messages, true, tok.bos_token(), tok.eos_token());
      } catch (const Error& e) {  // the template's own raise_exception (e.g. roles must alternate)
        throw ApiError(400, std::string("the chat template rejected the messages: ") + e.what(),
                       "invalid_request_error", "messages");
      }
      ids = tok.encode(text, false);  // the rendering carries its own special tokens
    }
    const int64_t n_ctx = served.model->config.n_ctx;
    if (ids.empty()) throw ApiError(400, "the prompt has no tokens", "invalid_request_error", "prompt");
    if (int64_t(ids.size()) >= n_ctx)
      throw ApiError(400, "the prompt has " + std::to_string(ids.size()) + " tokens; the model's context is " +
                     std::to_string(n_ctx), "invalid_request_error", "messages", "context_length_exceeded");
    return ids;
  }

  void complete(Endpoint endpoint, const httplib::Request& req, httplib::Response& res) {
    auto job = std::make_shared<PreparedCompletion>();
    try {
      ApiRequest r = parse_request(endpoint, req.body, options.max_tokens_limit, options.default_max_tokens);
      const ModelAndKb selected = select_knowledge_base(r.model, r.kb);
      r.options.adapter = resolve_model(selected.model);
      job->endpoint = endpoint;
      job->header = new_response_header(endpoint, r.model.empty() ? served.name : r.model);
      if (!selected.kb.empty()) {
        if (endpoint != Endpoint::chat)
          throw ApiError(400, "knowledge bases answer chat completions only (/v1/chat/completions)",
                         "invalid_request_error", "model");
        job->rag = ground_chat(find_knowledge_base(served, selected.kb), selected.kb, served, r.messages,
                               r.options.max_tokens);
        job->request.prompt = job->rag->prompt.tokens;
      } else {
        job->request.prompt = prompt_tokens(r);
      }
      job->request.options = std::move(r.options);
      job->include_usage = r.include_usage;
      if (r.stream) {
        res.set_chunked_content_provider("text/event-stream", [this, job](size_t, httplib::DataSink& sink) {
          return stream(*job, sink);
        });
        return;
      }
    } catch (const ApiError& e) {
      return send_error(res, e);
    }
    try {
      GenerateResult result = start(*job, std::move(job->request)).get();
      if (!job->rag) return send_json(res, 200, completion_json(endpoint, job->header, result));
      result.text += citation_footer(*job->rag, result.text);
      json body = completion_json(endpoint, job->header, result);
      body["sources"] = sources_json(*job->rag);
      send_json(res, 200, body);
    } catch (const Error& e) {
      send_json(res, 500, error_body(e.what(), "server_error"));
    }
  }

  // Hands the request to the engine; a RAG chat with nothing relevant is answered without it.
  std::future<GenerateResult> start(const PreparedCompletion& job, EngineRequest request) {
    if (job.rag && job.rag->prompt.sources.empty()) return answer_without_model(request.options.on_text);
    return engine.submit(std::move(request));
  }

  // Runs one streaming completion: text pieces go out as chunks while the engine produces them;
  // a failed write (the client went away) cancels the generation. Returns false on disconnect.
  bool stream(PreparedCompletion& job, httplib::DataSink& sink) {
    auto channel = std::make_shared<TextChannel>();
    auto cancelled = std::make_shared<std::atomic<bool>>(false);
    bool connected = true;
    auto send = [&](const std::string& event) {
      if (connected && !sink.write(event.data(), event.size())) {
        connected = false;
        cancelled->store(true);
      }
    };
    EngineRequest request = std::move(job.request);
    request.cancelled = cancelled;
    request.options.on_text = [channel](const std::string& piece) {
      channel->push(piece);
      return true;
    };
    try {
      std::future<GenerateResult> done = start(job, std::move(request));
      if (job.endpoint == Endpoint::chat) {
        json first = chunk_json(job.endpoint, job.header, "", std::nullopt, true);
        if (job.rag) first["sources"] = sources_json(*job.rag);  // before any text, so a page can show them early
        send(sse_event(first));
      }
      std::string piece;
      for (;;) {
        if (channel->pop(piece, std::chrono::milliseconds(20))) {
          send(sse_event(chunk_json(job.endpoint, job.header, piece, std::nullopt)));
        } else if (done.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
          while (channel->pop(piece, std::chrono::milliseconds(0)))
            send(sse_event(chunk_json(job.endpoint, job.header, piece, std::nullopt)));
          break;
        }
      }
      GenerateResult result = done.get();
      if (job.rag)
        if (const std::string footer = citation_footer(*job.rag, result.text); !footer.empty())
          send(sse_event(chunk_json(job.endpoint, job.header, footer, std::nullopt)));
      send(sse_event(chunk_json(job.endpoint, job.header, "", result.finish_reason)));
      if (job.include_usage) send(sse_event(usage_chunk_json(job.endpoint, job.header, result)));
    } catch (const Error& e) {  // headers are gone already: the error travels as an event
      send(sse_event(error_body(e.what(), "server_error")));
    }
    send("data: [DONE]\n\n");
    if (connected) sink.done();
    return connected;
  }
};

Server::Server(const ServedModel& served, Engine& engine, ServerOptions options)
    : impl_(std::make_unique<Impl>(served, engine, std::move(options))) {}

Server::~Server() = default;

int Server::bind() {
  Impl& s = *impl_;
  int port = s.options.port;
  if (port == 0) {
    port = s.http.bind_to_any_port(s.options.host);
  } else if (!s.http.bind_to_port(s.options.host, port)) {
    port = -1;
  }
  check(port > 0, "serve: cannot listen on ", s.options.host, ":", s.options.port,
        " (address in use, or not an address of this machine); pick another --host/--port");
  return port;
}

void Server::run() {
  if (!impl_->stop_requested.load()) impl_->http.listen_after_bind();
}

void Server::stop() {
  impl_->stop_requested.store(true);
  impl_->http.stop();  // no-op until listening has begun; run() then sees stop_requested
}

}  // namespace tunekit::server
