// tunekit serve: load a model (and adapters, and knowledge bases for RAG chat) and answer
// OpenAI-compatible HTTP requests until SIGINT/SIGTERM, then stop accepting and let in-flight
// requests finish.
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <thread>

#include "tunekit/adapters/peft.h"
#include "tunekit/core/parallel.h"
#include "tunekit/error.h"
#include "tunekit/infer/model_files.h"
#include "tunekit/server/server.h"
#include "verbs.h"

namespace tunekit::cli {

namespace {

std::atomic<bool> g_stop_requested{false};

extern "C" void on_stop_signal(int) { g_stop_requested.store(true); }

struct ServeArgs {
  std::string model, tokenizer, name;
  std::vector<std::string> adapters;  // NAME=DIR
  std::vector<std::string> kbs;       // NAME=KB_DIR
  int threads = 0;
  server::ServerOptions options;
};

std::pair<std::string, std::string> split_named(const std::string& spec, const char* flag) {
  const size_t eq = spec.find('=');
  check(eq != std::string::npos && eq > 0 && eq + 1 < spec.size(), flag, " '", spec,
        "': expected NAME=PATH, e.g. ", flag, " medical=adapters/medical");
  return {spec.substr(0, eq), spec.substr(eq + 1)};
}

// "stories260K" for models/stories260K.bin, "tinyllama-1.1b-chat" for the folder models/tinyllama-1.1b-chat/.
std::string default_model_name(const std::filesystem::path& model) {
  std::filesystem::path p = model;
  if (p.filename().empty()) p = p.parent_path();
  return std::filesystem::is_regular_file(p) ? p.stem().string() : p.filename().string();
}

void run(ServeArgs& a) {
  if (a.threads > 0) set_num_threads(a.threads);
  const std::optional<std::filesystem::path> tokenizer_path =
      a.tokenizer.empty() ? std::nullopt : std::optional<std::filesystem::path>(a.tokenizer);
  Model model = load_model(a.model);
  std::unique_ptr<Tokenizer> tokenizer = load_tokenizer_for_model(a.model, tokenizer_path);
  server::ServedModel served;
  served.name = a.name.empty() ? default_model_name(a.model) : a.name;
  served.model = &model;
  served.tokenizer = tokenizer.get();
  served.chat_template = load_chat_template_for_model(a.model, tokenizer_path);
  for (const std::string& spec : a.adapters) {
    auto [name, dir] = split_named(spec, "--adapter");
    check(name != served.name && !served.adapters.count(name), "--adapter ", spec, ": the name '", name,
          "' is already taken; give each adapter its own name");
    served.adapters.emplace(name, load_peft_adapter(dir, model.config));
  }
  for (const std::string& spec : a.kbs) {
    auto [name, dir] = split_named(spec, "--kb");
    check(!served.knowledge_bases.count(name), "--kb ", spec, ": the name '", name,
          "' is already taken; give each knowledge base its own name");
    auto kb = std::make_shared<const server::ServedKnowledgeBase>(dir);
    if (!kb->warning().empty())
      std::fprintf(stderr, "tunekit serve: knowledge base '%s' retrieves with BM25 alone: %s\n", name.c_str(),
                   kb->warning().c_str());
    served.knowledge_bases.emplace(name, std::move(kb));
  }
  server::SerialEngine engine(model, *tokenizer);
  server::Server http(served, engine, a.options);
  const int port = http.bind();
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  std::thread watcher([&] {
    while (!g_stop_requested.load()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    http.stop();
  });
  std::fprintf(stderr, "tunekit serve: %s (%zu adapter%s, %zu knowledge base%s, chat template: %s) on http://%s:%d\n",
               served.name.c_str(), served.adapters.size(), served.adapters.size() == 1 ? "" : "s",
               served.knowledge_bases.size(), served.knowledge_bases.size() == 1 ? "" : "s",
               served.chat_template ? "yes" : "no", a.options.host.c_str(), port);
  http.run();
  g_stop_requested.store(true);  // run() also returns when the listener fails; end the watcher
  watcher.join();
  engine.shutdown();
  std::fprintf(stderr, "tunekit serve: stopped\n");
}

}  // namespace

void add_serve(CLI::App& app) {
  auto a = std::make_shared<ServeArgs>();
  auto* cmd = app.add_subcommand("serve", "Serve a model over an OpenAI-compatible HTTP API (/v1/chat/completions, "
                                          "/v1/completions, /v1/models, /health), with RAG chat and a chat page at /");
  cmd->add_option("--model,-m", a->model, "HF model folder, .gguf file or llama2.c .bin checkpoint")->required();
  cmd->add_option("--tokenizer,-t", a->tokenizer,
                  "tokenizer file or folder (default: the model's own); its chat template serves /v1/chat/completions");
  cmd->add_option("--name", a->name, "the base model's id in /v1/models (default: the model file or folder name)");
  cmd->add_option("--adapter,-a", a->adapters,
                  "NAME=DIR: a PEFT LoRA folder served as model NAME, applied unmerged per request (repeatable)");
  cmd->add_option("--kb", a->kbs,
                  "NAME=KB_DIR: a knowledge base that chat requests name by \"kb\": NAME or the model MODEL+kb:NAME "
                  "(repeatable)");
  auto& o = a->options;
  cmd->add_option("--host", o.host, "address to listen on (0.0.0.0 opens it to the network)")->capture_default_str();
  cmd->add_option("--port,-p", o.port, "port to listen on (0 = any free port)")
      ->check(CLI::Range(0, 65535))->capture_default_str();
  cmd->add_option("--api-key", o.api_key, "require 'Authorization: Bearer KEY' on every route but /health");
  cmd->add_option("--max-tokens-limit", o.max_tokens_limit, "the largest max_tokens a request may ask for")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 30))->capture_default_str();
  cmd->add_option("--default-max-tokens", o.default_max_tokens, "max_tokens when a request does not say")
      ->check(CLI::Range(int64_t(0), int64_t(1) << 30))->capture_default_str();
  cmd->add_option("--max-body-bytes", o.max_body_bytes, "largest request body; bigger ones get 413")
      ->check(CLI::Range(size_t(64), size_t(1) << 30))->capture_default_str();
  cmd->add_option("--threads", a->threads, "threads for generation (default: one per core)")->check(CLI::NonNegativeNumber);
  cmd->callback([a] { run(*a); });
}

}  // namespace tunekit::cli
