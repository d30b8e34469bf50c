// Shared helpers of the server tests: a Server on an ephemeral port in a background thread, an
// httplib client for it, a parser for server-sent events, and reference generations computed by
// calling the library's generate() directly (not through the server).
#pragma once
#include <gtest/gtest.h>
#include <httplib.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "test_paths.h"
#include "tunekit/adapters/lora_init.h"
#include "tunekit/infer/generate.h"
#include "tunekit/infer/model_files.h"
#include "tunekit/server/server.h"

namespace tunekit::test {

// Starts `served` behind an engine on 127.0.0.1:<free port>; stops and joins on destruction.
class RunningServer {
 public:
  RunningServer(const server::ServedModel& served, server::Engine& engine, server::ServerOptions options = {}) {
    options.host = "127.0.0.1";
    options.port = 0;
    server_ = std::make_unique<server::Server>(served, engine, options);
    port_ = server_->bind();
    thread_ = std::thread([this] { server_->run(); });
  }
  ~RunningServer() {
    server_->stop();
    thread_.join();
  }
  int port() const { return port_; }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(60, 0);
    return c;
  }
  httplib::Result post(const std::string& path, const nlohmann::json& body) const {
    return client().Post(path.c_str(), body.dump(), "application/json");
  }

 private:
  std::unique_ptr<server::Server> server_;
  int port_ = 0;
  std::thread thread_;
};

// The payloads of "data: ...\n\n" events, in order (the last is "[DONE]" for a complete stream).
inline std::vector<std::string> sse_payloads(const std::string& body) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < body.size()) {
    const size_t end = body.find("\n\n", pos);
    if (end == std::string::npos) break;
    const std::string event = body.substr(pos, end - pos);
    if (event.rfind("data: ", 0) == 0) out.push_back(event.substr(6));
    pos = end + 2;
  }
  return out;
}

// Greedy (or seeded) generation straight through the library: the independent expected result
// (continues_prompt: decoded as a completion of the prompt, as /v1/completions does).
inline GenerateResult reference_generate(const Model& model, const Tokenizer& tok, const std::vector<int32_t>& prompt,
                                         int64_t max_tokens, const LoraAdapter* adapter = nullptr,
                                         bool continues_prompt = false) {
  GenerateOptions opt;
  opt.max_tokens = max_tokens;
  opt.sampling.temperature = 0;
  opt.adapter = adapter;
  opt.continues_prompt = continues_prompt;
  return generate(model, tok, prompt, opt);
}

// stories260K served (with a random-B LoRA named "tiny-lora") by a fresh SerialEngine + Server per
// test; options_ may be changed in a derived SetUp before calling StoriesServer::SetUp.
inline const char* kStoriesModel = "models/stories260K/stories260K.bin";

class StoriesServer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!std::filesystem::exists(test::shared_dir() / kStoriesModel)) return;
    model_ = std::make_unique<Model>(load_model(test::shared_dir() / kStoriesModel));
    tok_ = load_tokenizer_for_model(test::shared_dir() / kStoriesModel, test::shared_dir() / "models/stories260K/tok512.bin");
    LoraConfig lora;
    lora.targets = {"all-linear"};
    lora.b_std = 0.5;  // B != 0, so the adapter changes the text
    adapters_ = std::make_unique<server::AdapterRegistry>(model_->config);
    adapters_->add("tiny-lora", std::make_shared<const LoraAdapter>(init_lora(model_->config, lora, 7)));
    served_ = std::make_unique<server::ServedModel>();
    served_->name = "stories260K";
    served_->model = model_.get();
    served_->tokenizer = tok_.get();
    served_->adapters = adapters_.get();
  }
  static void TearDownTestSuite() {
    served_.reset();
    adapters_.reset();
    tok_.reset();
    model_.reset();
  }
  void SetUp() override {
    TUNEKIT_REQUIRE_SHARED(kStoriesModel);
    engine_ = std::make_unique<server::SerialEngine>(*model_, *tok_);
    server_ = std::make_unique<test::RunningServer>(*served_, *engine_, options_);
  }
  void TearDown() override {
    server_.reset();
    engine_.reset();
  }
  // What /v1/completions answers for prompt (greedy).
  GenerateResult expected(const std::string& prompt, int64_t max_tokens, const LoraAdapter* adapter = nullptr) const {
    return test::reference_generate(*model_, *tok_, tok_->encode(prompt, true), max_tokens, adapter, true);
  }

  static inline std::unique_ptr<Model> model_;
  static inline std::unique_ptr<Tokenizer> tok_;
  static inline std::unique_ptr<server::AdapterRegistry> adapters_;
  static inline std::unique_ptr<server::ServedModel> served_;
  server::ServerOptions options_;
  std::unique_ptr<server::SerialEngine> engine_;
  std::unique_ptr<test::RunningServer> server_;
};

}  // namespace tunekit::test
