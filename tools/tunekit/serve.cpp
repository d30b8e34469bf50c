// tunekit serve: load a model (adapters, knowledge bases for RAG chat, a sentence encoder) and
// answer OpenAI-compatible HTTP requests until SIGINT/SIGTERM, then stop accepting and let
// in-flight requests finish.
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <thread>

#include "tunekit/core/parallel.h"
#include "tunekit/error.h"
#include "tunekit/infer/model_files.h"
#include "tunekit/server/batch_engine.h"
#include "tunekit/server/server.h"
#include "verbs.h"

namespace tunekit::cli {

namespace {

std::atomic<bool> g_stop_requested{false};

extern "C" void on_stop_signal(int) { g_stop_requested.store(true); }

struct ServeArgs {
  std::string model, tokenizer, name, encoder;
  std::vector<std::string> adapters;  // NAME=DIR
  server::AdapterRegistryOptions registry;
  std::string engine = "batch";
  server::BatchEngineOptions batch;
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

// The engine --engine names (a.batch holds the batch engine's flags).
std::unique_ptr<server::Engine> make_engine(const ServeArgs& a, const Model& model, const Tokenizer& tokenizer) {
  if (a.engine == "batch") return std::make_unique<server::BatchEngine>(model, tokenizer, a.batch);
  return std::make_unique<server::SerialEngine>(model, tokenizer);
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
  std::unique_ptr<rag::SentenceEncoder> encoder;
  if (!a.encoder.empty()) {
    rag::EncoderOptions encoder_options;
    encoder_options.prefix_style = "none";  // clients send the text they want embedded, prefixes included
    encoder = rag::SentenceEncoder::load(a.encoder, encoder_options);
    check(encoder->name() != served.name, "--encoder ", a.encoder, ": its name '", encoder->name(),
          "' is the base model's; give the base another with --name");
    served.encoder = encoder.get();
  }
  server::AdapterRegistry adapters(model.config, a.registry);
  served.adapters = &adapters;
  for (const std::string& spec : a.adapters) {
    auto [name, dir] = split_named(spec, "--adapter");
    check(name != served.name && !(encoder && name == encoder->name()), "--adapter ", spec, ": the name '", name,
          "' is a served model's; give each adapter its own name");
    try {
      adapters.load(name, dir);
    } catch (const server::AdapterError& e) {
      fail("--adapter ", spec, ": ", e.what());
    }
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
  std::unique_ptr<server::Engine> engine = make_engine(a, model, *tokenizer);
  server::Server http(served, *engine, a.options);
  const int port = http.bind();
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  std::thread watcher([&] {
    while (!g_stop_requested.load()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    http.stop();
  });
  const size_t n_adapters = adapters.names().size();
  std::fprintf(stderr,
               "tunekit serve: %s (%zu adapter%s, %zu knowledge base%s, chat template: %s%s%s, %s engine) on http://%s:%d\n",
               served.name.c_str(), n_adapters, n_adapters == 1 ? "" : "s", served.knowledge_bases.size(),
               served.knowledge_bases.size() == 1 ? "" : "s", served.chat_template ? "yes" : "no",
               encoder ? ", encoder: " : "", encoder ? encoder->name().c_str() : "", a.engine.c_str(),
               a.options.host.c_str(), port);
  http.run();
  g_stop_requested.store(true);  // run() also returns when the listener fails; end the watcher
  watcher.join();
  engine->shutdown();
  std::fprintf(stderr, "tunekit serve: stopped\n");
}

}  // namespace

void add_serve(CLI::App& app) {
  auto a = std::make_shared<ServeArgs>();
  auto* cmd = app.add_subcommand("serve", "Serve a model over an OpenAI-compatible HTTP API (/v1/chat/completions, "
                                          "/v1/completions, /v1/embeddings, /v1/models, /v1/load_lora_adapter, "
                                          "/v1/unload_lora_adapter, /metrics, /health), with RAG chat and a chat page at /");
  cmd->add_option("--model,-m", a->model, "HF model folder, .gguf file or llama2.c .bin checkpoint")->required();
  cmd->add_option("--tokenizer,-t", a->tokenizer,
                  "tokenizer file or folder (default: the model's own); its chat template serves /v1/chat/completions");
  cmd->add_option("--name", a->name, "the base model's id in /v1/models (default: the model file or folder name)");
  cmd->add_option("--adapter,-a", a->adapters,
                  "NAME=DIR: a PEFT LoRA folder served as model NAME, applied unmerged per request (repeatable)");
  cmd->add_option("--kb", a->kbs,
                  "NAME=KB_DIR: a knowledge base that chat requests name by \"kb\": NAME or the model MODEL+kb:NAME "
                  "(repeatable)");
  cmd->add_option("--adapter-dir", a->registry.allowed_dirs,
                  "a folder POST /v1/load_lora_adapter may load adapters from (repeatable; paths are checked after "
                  "resolving '..' and symlinks). Without it, runtime loading and unloading are off");
  cmd->add_option("--max-loras", a->registry.max_resident,
                  "how many adapters read from folders stay in memory (least recently used ones are dropped and "
                  "read again when named; 0 = no bound)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd->add_option("--encoder", a->encoder,
                  "a sentence-transformers (BERT) folder served by /v1/embeddings under the folder's name "
                  "(without it, embeddings come from the base model's mean-pooled hidden states)");
  cmd->add_option("--engine", a->engine, "generation engine: batch (continuous batching over a paged KV cache, "
                                         "adapters per row) or serial (one request at a time)")
      ->check(CLI::IsMember({"serial", "batch"}))->capture_default_str();
  auto& b = a->batch;
  cmd->add_option("--max-batch-tokens", b.max_batch_tokens, "batch engine: tokens per forward pass (decode rows "
                                                            "first, then prefill chunks)")
      ->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--max-running", b.max_running, "batch engine: requests in the running batch at once")
      ->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--kv-block-size", b.kv_block_size, "batch engine: positions per KV-cache block")
      ->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option_function<int64_t>(
         "--kv-memory", [a](int64_t mib) { a->batch.kv_memory_bytes = size_t(mib) << 20; },
         "batch engine: the KV-cache pool's size in MiB")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 20))
      ->default_str(std::to_string(b.kv_memory_bytes >> 20));
  cmd->add_flag("!--no-prefix-sharing", b.prefix_sharing,
                "batch engine: do not share the KV blocks of identical prompt prefixes");
  auto& o = a->options;
  cmd->add_option("--host", o.host, "address to listen on (0.0.0.0 opens it to the network)")->capture_default_str();
  cmd->add_option("--port,-p", o.port, "port to listen on (0 = any free port)")
      ->check(CLI::Range(0, 65535))->capture_default_str();
  cmd->add_option("--api-key", o.api_key, "require 'Authorization: Bearer KEY' on every route but /health");
  cmd->add_option("--max-tokens-limit", o.max_tokens_limit, "the largest max_tokens a request may ask for")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 30))->capture_default_str();
  cmd->add_option("--default-max-tokens", o.default_max_tokens, "max_tokens when a request does not say")
      ->check(CLI::Range(int64_t(0), int64_t(1) << 30))->capture_default_str();
  cmd->add_option("--max-body-bytes", o.max_body_bytes, "largest request body; bigger ones get 413 (skipped unread)")
      ->check(CLI::Range(size_t(64), size_t(1) << 30))->capture_default_str();
  cmd->add_option("--request-timeout", o.request_timeout_s,
                  "seconds a completion may take from arrival to its end (queueing included); past it the answer is "
                  "504, or an error event ending the stream (0 = no limit)")
      ->check(CLI::Range(0.0, 1e6))->capture_default_str();
  cmd->add_option("--http-threads", o.http_threads,
                  "connections served at once (each streaming client holds one; more wait to be read)")
      ->check(CLI::Range(1, 4096))->capture_default_str();
  cmd->add_option("--threads", a->threads, "threads for generation (default: one per core)")->check(CLI::NonNegativeNumber);
  cmd->callback([a] { run(*a); });
}

}  // namespace tunekit::cli
