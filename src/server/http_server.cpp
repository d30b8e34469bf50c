// The HTTP side of tunekit serve: routes, API-key check, body limit, OpenAI errors, metrics, and
// the hand-off of each completion to the Engine (waiting on it, or streaming its text as SSE). RAG
// chat (rag_chat.h) grounds a chat request in a knowledge base; GET / is the chat page (web_page.h).
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <optional>
#include <set>
#include <utility>

#include "adapter_routes.h"
#include "embeddings.h"
#include "http_util.h"
#include "metrics.h"
#include "model_choice.h"
#include "openai_api.h"
#include "rag_chat.h"
#include "text_channel.h"
#include "web_page.h"
#include "tunekit/server/server.h"

namespace tunekit::server {

using nlohmann::json;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// A completion that passed every check: what the engine runs and what the response echoes.
struct PreparedCompletion {
  Endpoint endpoint;
  const char* route = "";
  Clock::time_point arrived;
  ResponseHeader header;
  EngineRequest request;
  bool include_usage = false;
  std::optional<rag::GroundedQuestion> rag;  // RAG chat: the prompt's numbered sources
  std::optional<StreamPiece> echo;            // completions with "echo": the prompt (and its logprobs)
};

// The prompt of an "echo" completion as it comes back first: its text as sent and, when logprobs
// are asked for, every prompt token's (prompt_logprobs: offsets into the decoded prompt).
StreamPiece echoed_prompt(const ServedModel& served, const ApiRequest& r, const EngineRequest& request) {
  StreamPiece echo{r.prompt, {}, r.options.top_logprobs};
  if (r.options.top_logprobs >= 0)
    echo.logprobs = prompt_logprobs(*served.model, *served.tokenizer, request.prompt, r.options.top_logprobs,
                                    r.options.adapter);
  return echo;
}

// The result as sent: with "echo", the prompt's text and entries first, the completion's entries'
// offsets moved past the prompt's text.
void prepend_echo(const StreamPiece& echo, GenerateResult& r) {
  for (TokenLogprob& e : r.logprobs) e.text_offset += echo.text.size();
  r.logprobs.insert(r.logprobs.begin(), echo.logprobs.begin(), echo.logprobs.end());
  r.text = echo.text + r.text;
}

// The answer to a generation that ran past --request-timeout.
ApiError timeout_error(double timeout_s, const GenerateResult& r) {
  char limit[32];
  std::snprintf(limit, sizeof limit, "%g", timeout_s);
  return ApiError(504, std::string("the request ran past the server's time limit of ") + limit +
                  " s (--request-timeout) after " + std::to_string(r.tokens.size()) + " generated tokens",
                  "server_error", "", "timeout");
}

// The message for a status httplib set itself (no route, body over the limit, ...).
std::string status_message(int status, size_t max_body_bytes) {
  switch (status) {
    case 404: return "no such route; the API serves GET /health, GET /metrics, GET /v1/models, GET /v1/knowledge_bases, "
                     "POST /v1/completions, POST /v1/chat/completions, POST /v1/embeddings, POST /v1/load_lora_adapter "
                     "and POST /v1/unload_lora_adapter (and the chat page at GET /)";
    case 405: return "method not allowed on this route";
    case 411: return "request bodies must be sent with a Content-Length (chunked uploads are not accepted)";
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
  ServerMetrics metrics;
  EmbeddingsService embeddings;
  std::set<std::string> routes;  // the registered paths: metrics label others "other"

  Impl(const ServedModel& s, Engine& e, ServerOptions o)
      : served(s), engine(e), options(std::move(o)), embeddings(served) {
    check(served.model && served.tokenizer, "server: a model and a tokenizer are required");
    // A body over the limit with a Content-Length is skipped unread (413); httplib 0.11 would read a
    // chunked one whole into memory, so those are refused before any of it is read.
    check(options.http_threads > 0, "server: --http-threads must be positive, got ", options.http_threads);
    http.set_payload_max_length(options.max_body_bytes);
    // httplib's default pool has max(8, cores - 1) threads: 8 here, so a ninth streaming client
    // would wait for one of the first eight to finish before its request is even read.
    http.new_task_queue = [n = options.http_threads] { return new httplib::ThreadPool(size_t(n)); };
    http.set_tcp_nodelay(true);  // each SSE chunk goes out at once, not after Nagle's ~40 ms wait
    // httplib closes a keep-alive connection after 5 requests by default; a client that has already
    // sent its next request on it then sees a reset (a streaming client doing one request after
    // another hit this about once in 1,000 requests). Connections stay open for 10,000 requests.
    http.set_keep_alive_max_count(10000);
    http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      const bool chunked = req.get_header_value("Transfer-Encoding").find("chunked") != std::string::npos;
      if (!chunked && authorize(req, res)) return httplib::Server::HandlerResponse::Unhandled;
      if (chunked) res.status = 411;  // the error handler fills the body
      res.set_header("Connection", "close");  // the unread body must not be taken for the next request
      return httplib::Server::HandlerResponse::Handled;
    });
    http.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
      metrics.count_request(routes.count(req.path) ? req.path : "other", res.status);
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
    get("/health", [](const httplib::Request&, httplib::Response& res) { send_json(res, 200, {{"status", "ok"}}); });
    get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      const AdapterRegistryStats adapters = served.adapters ? served.adapters->stats() : AdapterRegistryStats{};
      res.set_content(metrics.render(engine.stats(), served.adapters ? &adapters : nullptr),
                      "text/plain; version=0.0.4; charset=utf-8");
    });
    get("/v1/models", [this](const httplib::Request&, httplib::Response& res) { send_json(res, 200, models_json(served)); });
    get("/v1/knowledge_bases", [this](const httplib::Request&, httplib::Response& res) {
      send_json(res, 200, knowledge_bases_json(served));
    });
    get("/", [](const httplib::Request&, httplib::Response& res) { send_web_page(res); });
    post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) {
      complete(Endpoint::completions, req, res);
    });
    post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
      complete(Endpoint::chat, req, res);
    });
    post("/v1/embeddings", [this](const httplib::Request& req, httplib::Response& res) { embed(req, res); });
    post("/v1/load_lora_adapter", [this](const httplib::Request& req, httplib::Response& res) {
      answer_text(res, [&] { return load_lora_adapter(served, req.body); });
    });
    post("/v1/unload_lora_adapter", [this](const httplib::Request& req, httplib::Response& res) {
      answer_text(res, [&] { return unload_lora_adapter(served, req.body); });
    });
  }

  void get(const std::string& path, httplib::Server::Handler handler) {
    routes.insert(path);
    http.Get(path, std::move(handler));
  }
  void post(const std::string& path, httplib::Server::Handler handler) {
    routes.insert(path);
    http.Post(path, std::move(handler));
  }

  // 200 with the plain-text line `make` returns, or its ApiError.
  template <typename Make>
  static void answer_text(httplib::Response& res, Make make) {
    try {
      res.set_content(make(), "text/plain; charset=utf-8");
    } catch (const ApiError& e) {
      send_error(res, e);
    }
  }

  void embed(const httplib::Request& req, httplib::Response& res) {
    const Clock::time_point arrived = Clock::now();
    try {
      int64_t prompt_tokens = 0;
      send_json(res, 200, embeddings.handle(req.body, &prompt_tokens));
      metrics.count_tokens("/v1/embeddings", prompt_tokens, 0);
    } catch (const ApiError& e) {
      send_error(res, e);
    }
    metrics.observe_duration("/v1/embeddings", seconds_since(arrived));
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

  // Records the time to the request's first piece of text (on the engine's thread).
  void time_first_text(PreparedCompletion& job) {
    auto seen = std::make_shared<std::atomic<bool>>(false);
    job.request.options.on_text = [this, seen, route = job.route, arrived = job.arrived,
                                   next = std::move(job.request.options.on_text)](const std::string& text) {
      if (!seen->exchange(true)) metrics.observe_time_to_first_token(route, seconds_since(arrived));
      return !next || next(text);
    };
  }

  void finished(const PreparedCompletion& job, const GenerateResult& r) {
    metrics.count_tokens(job.route, r.n_prompt, int64_t(r.tokens.size()));
    metrics.observe_duration(job.route, seconds_since(job.arrived));
  }

  void complete(Endpoint endpoint, const httplib::Request& req, httplib::Response& res) {
    auto job = std::make_shared<PreparedCompletion>();
    job->arrived = Clock::now();
    job->route = endpoint == Endpoint::chat ? "/v1/chat/completions" : "/v1/completions";
    try {
      ApiRequest r = parse_request(endpoint, req.body,
                                   {options.max_tokens_limit, options.default_max_tokens, served.model->config.n_vocab});
      const ModelAndKb selected = select_knowledge_base(r.model, r.kb);
      ModelChoice choice = choose_model(served, selected.model, false);
      r.options.adapter = choice.adapter.get();
      job->request.adapter_owner = std::move(choice.adapter);
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
      if (r.echo) job->echo = echoed_prompt(served, r, job->request);
      job->request.options = std::move(r.options);
      if (options.request_timeout_s > 0)
        job->request.deadline =
            job->arrived + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.request_timeout_s));
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
      time_first_text(*job);
      GenerateResult result = start(*job, std::move(job->request)).get();
      finished(*job, result);
      if (result.finish_reason == "timeout") return send_error(res, timeout_error(options.request_timeout_s, result));
      const int top_logprobs = job->request.options.top_logprobs;
      if (job->echo) prepend_echo(*job->echo, result);
      if (!job->rag) return send_json(res, 200, completion_json(endpoint, job->header, result, top_logprobs));
      result.text += citation_footer(*job->rag, result.text);
      json body = completion_json(endpoint, job->header, result, top_logprobs);
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
  // a failed write (the client went away) cancels the generation. A timeout ends the stream with an
  // error event. Returns false on disconnect.
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
    job.request.cancelled = cancelled;
    // Each piece takes the log-probabilities of the tokens since the last one (engine thread only).
    auto logprobs = std::make_shared<std::vector<TokenLogprob>>();
    const int top_logprobs = job.request.options.top_logprobs;
    const size_t shift = job.echo ? job.echo->text.size() : 0;  // the echoed prompt's text comes first
    if (top_logprobs >= 0)
      job.request.options.on_logprob = [logprobs, shift](TokenLogprob entry) {
        entry.text_offset += shift;
        logprobs->push_back(std::move(entry));
      };
    job.request.options.on_text = [channel, logprobs, top_logprobs](const std::string& text) {
      channel->push({text, std::exchange(*logprobs, {}), top_logprobs});
      return true;
    };
    time_first_text(job);
    try {
      std::future<GenerateResult> done = start(job, std::move(job.request));
      if (job.endpoint == Endpoint::chat) {
        json first = chunk_json(job.endpoint, job.header, {}, std::nullopt, true);
        if (job.rag) first["sources"] = sources_json(*job.rag);  // before any text, so a page can show them early
        send(sse_event(first));
      }
      if (job.echo) send(sse_event(chunk_json(job.endpoint, job.header, *job.echo, std::nullopt)));
      StreamPiece piece;
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
      finished(job, result);
      if (result.finish_reason == "timeout") {
        const ApiError e = timeout_error(options.request_timeout_s, result);
        send(sse_event(error_body(e.what(), e.type, e.param, e.code)));
      } else {
        if (job.rag)
          if (const std::string footer = citation_footer(*job.rag, result.text); !footer.empty())
            send(sse_event(chunk_json(job.endpoint, job.header, {footer}, std::nullopt)));
        send(sse_event(chunk_json(job.endpoint, job.header, {}, result.finish_reason)));
        if (job.include_usage) send(sse_event(usage_chunk_json(job.endpoint, job.header, result)));
      }
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
