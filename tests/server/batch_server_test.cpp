// The server's features over the continuous-batching engine: with --max-loras 1, concurrent
// requests for two runtime-loaded adapters (evicting each other while they run in one batch) each
// get exactly generate()'s text for their adapter; /metrics shows the KV pool and agrees with the
// responses; --request-timeout ends a batched request with 504 / a stream error event; a client
// that hangs up mid-stream ends its generation.
#include <gtest/gtest.h>

#include <future>
#include <optional>
#include <regex>

#include "adapter_files.h"
#include "paced_engine.h"
#include "raw_http.h"
#include "server_fixture.h"
#include "tunekit/server/batch_engine.h"

using namespace tunekit;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

class BatchServer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!fs::exists(test::shared_dir() / test::kStoriesModel)) return;
    const fs::path path = test::shared_dir() / test::kStoriesModel;
    model_ = std::make_unique<Model>(load_model(path));
    tok_ = load_tokenizer_for_model(path, test::shared_dir() / "models/stories260K/tok512.bin");
    allowed_ = test::temp_dir("batch_server") / "adapters";
    test::write_random_adapter(model_->config, allowed_ / "one", 21);
    test::write_random_adapter(model_->config, allowed_ / "two", 22);
  }
  static void TearDownTestSuite() {
    tok_.reset();
    model_.reset();
  }
  void SetUp() override { TUNEKIT_REQUIRE_SHARED(test::kStoriesModel); }
  void TearDown() override {
    server_.reset();
    paced_.reset();
    engine_.reset();
  }
  // A BatchEngine (16 MiB of KV blocks), optionally paced, behind the server with a 1-adapter bound.
  void start(server::ServerOptions options = {}, std::chrono::milliseconds pace = std::chrono::milliseconds(0)) {
    adapters_ = std::make_unique<server::AdapterRegistry>(model_->config, server::AdapterRegistryOptions{{allowed_}, 1});
    served_.name = "stories260K";
    served_.model = model_.get();
    served_.tokenizer = tok_.get();
    served_.adapters = adapters_.get();
    server::BatchEngineOptions batch;
    batch.kv_memory_bytes = size_t(16) << 20;
    engine_ = std::make_unique<server::BatchEngine>(*model_, *tok_, batch);
    server::Engine* engine = engine_.get();
    if (pace.count() > 0) engine = (paced_ = std::make_unique<test::PacedEngine>(*engine_, pace)).get();
    server_ = std::make_unique<test::RunningServer>(served_, *engine, options);
  }
  // generate()'s text as JSON carries it (invalid UTF-8 from byte tokens shows as U+FFFD).
  std::string expected(const std::string& prompt, int64_t max_tokens, const fs::path& adapter_dir = {}) const {
    std::optional<LoraAdapter> adapter;
    if (!adapter_dir.empty()) adapter = load_peft_adapter(adapter_dir, model_->config);
    const std::string text = test::reference_generate(*model_, *tok_, tok_->encode(prompt, true), max_tokens,
                                                      adapter ? &*adapter : nullptr, /*continues_prompt=*/true).text;
    return json::parse(json(text).dump(-1, ' ', false, json::error_handler_t::replace)).get<std::string>();
  }

  static inline std::unique_ptr<Model> model_;
  static inline std::unique_ptr<Tokenizer> tok_;
  static inline fs::path allowed_;
  std::unique_ptr<server::AdapterRegistry> adapters_;
  server::ServedModel served_;
  std::unique_ptr<server::BatchEngine> engine_;
  std::unique_ptr<test::PacedEngine> paced_;
  std::unique_ptr<test::RunningServer> server_;
};

TEST_F(BatchServer, AdaptersEvictingEachOtherMidBatchKeepTheirOwnText) {
  start();
  for (const char* name : {"one", "two"}) {
    auto res = server_->post("/v1/load_lora_adapter", {{"lora_name", name}, {"lora_path", (allowed_ / name).string()}});
    ASSERT_EQ(res->status, 200) << res->body;
  }
  struct Case {
    std::string model, prompt;
  };
  const std::vector<Case> cases = {{"one", "Once upon a time"}, {"two", "Once upon a time"}, {"stories260K", "Lily went"},
                                   {"two", "The dog"},          {"one", "The dog"},          {"one", "Lily went"},
                                   {"two", "Lily went"},        {"stories260K", "The dog"}};
  std::vector<std::future<httplib::Result>> answers;
  for (const Case& c : cases)
    answers.push_back(std::async(std::launch::async, [&, c] {
      return server_->post("/v1/completions", {{"model", c.model}, {"prompt", c.prompt}, {"max_tokens", 40},
                                               {"temperature", 0}});
    }));
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(cases[i].model + ": " + cases[i].prompt);
    const httplib::Result res = answers[i].get();
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    const fs::path dir = cases[i].model == "stories260K" ? fs::path() : allowed_ / cases[i].model;
    EXPECT_EQ(json::parse(res->body)["choices"][0]["text"], expected(cases[i].prompt, 40, dir));
  }
  EXPECT_EQ(adapters_->stats().resident, 1);
  EXPECT_GE(adapters_->stats().evictions, 1);
}

TEST_F(BatchServer, MetricsShowTheKvPoolAndAgreeWithTheResponses) {
  start();
  int64_t completion = 0;
  std::vector<std::future<httplib::Result>> answers;
  for (const char* prompt : {"Once upon a time", "Lily went", "The dog"})
    answers.push_back(std::async(std::launch::async, [&, prompt] {
      return server_->post("/v1/completions", {{"prompt", prompt}, {"max_tokens", 30}, {"temperature", 0}});
    }));
  for (auto& a : answers) {
    const httplib::Result res = a.get();
    ASSERT_EQ(res->status, 200);
    completion += json::parse(res->body)["usage"]["completion_tokens"].get<int64_t>();
  }
  const std::string text = server_->client().Get("/metrics")->body;
  const auto value = [&](const std::string& name) {
    std::smatch m;
    EXPECT_TRUE(std::regex_search(text, m, std::regex("\n" + name + " ([0-9.e+]+)\n"))) << name;
    return m.empty() ? -1.0 : std::stod(m[1]);
  };
  EXPECT_GT(value("tunekit_engine_kv_blocks_total"), 0);
  EXPECT_EQ(value("tunekit_engine_kv_block_size"), 16);
  EXPECT_EQ(value("tunekit_engine_kv_blocks_used"), 0);  // everything finished
  EXPECT_EQ(value("tunekit_engine_running"), 0);
  EXPECT_EQ(value("tunekit_engine_generated_tokens_total"), completion);
  EXPECT_EQ(value("tunekit_engine_requests_finished_total"), 3);
  EXPECT_GT(value("tunekit_engine_steps_total"), 0);
  EXPECT_LE(value("tunekit_engine_steps_total"), completion + 3);  // batched: fewer steps than tokens + prefills
}

TEST_F(BatchServer, TimeoutEndsABatchedRequest) {
  server::ServerOptions options;
  options.request_timeout_s = 0.3;
  start(options, std::chrono::milliseconds(10));
  if (test::reference_generate(*model_, *tok_, tok_->encode("Once upon a time", true), 300).tokens.size() < 60)
    GTEST_SKIP() << "the story ends too soon to time out";
  auto plain = std::async(std::launch::async, [&] {
    return server_->post("/v1/completions", {{"prompt", "Once upon a time"}, {"max_tokens", 300}, {"temperature", 0}});
  });
  auto streamed = server_->post("/v1/completions", {{"prompt", "Once upon a time"}, {"max_tokens", 300},
                                                    {"temperature", 0}, {"stream", true}});
  const httplib::Result res = plain.get();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 504) << res->body;
  EXPECT_EQ(json::parse(res->body)["error"]["code"], "timeout");
  ASSERT_TRUE(streamed);
  const auto events = test::sse_payloads(streamed->body);
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events.back(), "[DONE]");
  EXPECT_EQ(json::parse(events[events.size() - 2])["error"]["code"], "timeout");
  auto quick = server_->post("/v1/completions", {{"prompt", "Lily went"}, {"max_tokens", 5}, {"temperature", 0}});
  ASSERT_TRUE(quick);
  EXPECT_EQ(quick->status, 200);
  EXPECT_EQ(json::parse(quick->body)["choices"][0]["text"], expected("Lily went", 5));
}

TEST_F(BatchServer, AClientThatHangsUpMidStreamEndsItsGeneration) {
  start({}, std::chrono::milliseconds(5));  // 400 pieces would take 2 s
  const json body = {{"prompt", "Once upon a time"}, {"max_tokens", 400}, {"temperature", 0}, {"stream", true}};
  ASSERT_TRUE(test::start_stream_and_hang_up(server_->port(), body.dump()));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (engine_->stats().requests_finished < 1 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const server::EngineStats s = engine_->stats();
  EXPECT_EQ(s.requests_finished, 1);
  EXPECT_EQ(s.running, 0);
  EXPECT_EQ(s.kv_blocks_used, 0);       // its blocks went back to the pool
  EXPECT_GT(s.generated_tokens, 0);     // it had started
  EXPECT_LT(s.generated_tokens, 100);   // of 400
  auto next = server_->post("/v1/completions", {{"prompt", "Lily went"}, {"max_tokens", 5}, {"temperature", 0}});
  ASSERT_TRUE(next);
  EXPECT_EQ(next->status, 200);
  EXPECT_EQ(json::parse(next->body)["choices"][0]["text"], expected("Lily went", 5));
}

}  // namespace
