// `tunekit serve` as a subprocess: flags, --adapter NAME=DIR from a PEFT folder, runtime adapters,
// the encoder, a 100 MB body refused without the server's memory growing, and a clean exit on SIGTERM.
#include <gtest/gtest.h>

#include <fstream>

#include "../rag/encoder_test_util.h"
#include "adapter_files.h"
#include "cli_runner.h"
#include "serve_process.h"
#include "server_fixture.h"
#include "tunekit/adapters/peft.h"

using namespace tunekit;
using nlohmann::json;

namespace {

using test::ServeProcess;

TEST(ServeCli, ServesAPeftAdapterAndStopsCleanlyOnSigterm) {
  TUNEKIT_REQUIRE_SHARED(test::kStoriesModel);
  const auto model_path = test::shared_dir() / test::kStoriesModel;
  const auto tok_path = test::shared_dir() / "models/stories260K/tok512.bin";
  const Model model = load_model(model_path);
  auto tok = load_tokenizer_for_model(model_path, tok_path);
  LoraConfig lora;
  lora.targets = {"q_proj", "v_proj", "down_proj"};
  lora.b_std = 0.5;
  const auto adapter_dir = test::temp_dir("serve_cli") / "story-lora";
  save_peft_adapter(init_lora(model.config, lora, 11), model.config, adapter_dir);
  const LoraAdapter loaded = load_peft_adapter(adapter_dir, model.config);
  const GenerateResult want =
      test::reference_generate(model, *tok, tok->encode("Once upon a time", true), 30, &loaded, /*continues_prompt=*/true);

  ServeProcess serve({"--model", model_path.string(), "--tokenizer", tok_path.string(), "--port", "0",
                      "--adapter", "story-lora=" + adapter_dir.string()});
  const int port = serve.wait_for_port();
  ASSERT_GT(port, 0) << serve.err();
  httplib::Client client("127.0.0.1", port);
  auto models = client.Get("/v1/models");
  ASSERT_TRUE(models);
  const json listed = json::parse(models->body);
  json ids = json::array();
  for (const json& m : listed["data"]) ids.push_back(m["id"]);
  EXPECT_EQ(ids, json({"stories260K", "story-lora"}));
  const json body = {{"model", "story-lora"}, {"prompt", "Once upon a time"}, {"max_tokens", 30}, {"temperature", 0}};
  auto res = client.Post("/v1/completions", body.dump(), "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(json::parse(res->body)["choices"][0]["text"], want.text);

  EXPECT_EQ(serve.stop(SIGTERM), 0) << serve.err();
  EXPECT_NE(serve.err().find("stopped"), std::string::npos) << serve.err();
}

TEST(ServeCli, BadAdapterFlagIsAClearError) {
  TUNEKIT_REQUIRE_SHARED(test::kStoriesModel);
  const std::string model = (test::shared_dir() / test::kStoriesModel).string();
  auto r = test::run_cli({"serve", "--model", model, "--adapter", "no-equals-sign"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("NAME=PATH"), std::string::npos) << r.err;
  auto missing = test::run_cli({"serve", "--model", model, "--adapter", "x=/nonexistent/adapter"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("/nonexistent/adapter"), std::string::npos) << missing.err;
}

// A process's peak resident memory in KiB (VmHWM in /proc/PID/status).
int64_t peak_rss_kib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6));
  return -1;
}

TEST(ServeCli, AHundredMegabyteBodyIs413AndTheServerDoesNotReadItIntoMemory) {
  TUNEKIT_REQUIRE_SHARED(test::kStoriesModel);
  ServeProcess serve({"--model", (test::shared_dir() / test::kStoriesModel).string(), "--port", "0"});
  const int port = serve.wait_for_port();
  ASSERT_GT(port, 0) << serve.err();
  httplib::Client client("127.0.0.1", port);
  ASSERT_EQ(client.Get("/health")->status, 200);
  const int64_t before = peak_rss_kib(serve.pid());
  const std::string body(size_t(100) << 20, 'x');
  auto res = client.Post("/v1/completions", body, "application/json");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 413) << res->body;
  const int64_t after = peak_rss_kib(serve.pid());
  ASSERT_GT(before, 0);
  EXPECT_LT(after - before, 16 * 1024) << "peak RSS grew from " << before << " KiB to " << after << " KiB";
  EXPECT_EQ(client.Get("/health")->status, 200);
  EXPECT_EQ(serve.stop(SIGTERM), 0) << serve.err();
}

TEST(ServeCli, RuntimeAdaptersEncoderAndMetricsFromTheCommandLine) {
  TUNEKIT_REQUIRE_SHARED(test::kStoriesModel);
  const auto model_path = test::shared_dir() / test::kStoriesModel;
  const Model model = load_model(model_path);
  const auto allowed = test::temp_dir("serve_cli_runtime") / "adapters";
  test::write_random_adapter(model.config, allowed / "one", 5);
  ServeProcess serve({"--model", model_path.string(), "--tokenizer",
                      (test::shared_dir() / "models/stories260K/tok512.bin").string(), "--port", "0",
                      "--adapter-dir", allowed.string(), "--max-loras", "1", "--encoder",
                      test::golden_encoder_dir().string(), "--request-timeout", "30"});
  const int port = serve.wait_for_port();
  ASSERT_GT(port, 0) << serve.err();
  EXPECT_NE(serve.err().find("encoder: minilm_mean"), std::string::npos) << serve.err();
  httplib::Client client("127.0.0.1", port);
  const json load = {{"lora_name", "one"}, {"lora_path", (allowed / "one").string()}};
  auto loaded = client.Post("/v1/load_lora_adapter", load.dump(), "application/json");
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->status, 200) << loaded->body;
  const json models = json::parse(client.Get("/v1/models")->body);
  json ids = json::array();
  for (const json& m : models["data"]) ids.push_back(m["id"]);
  EXPECT_EQ(ids, json({"stories260K", "one", "minilm_mean"}));
  auto embedded = client.Post("/v1/embeddings", json({{"input", "a bone"}}).dump(), "application/json");
  ASSERT_TRUE(embedded);
  EXPECT_EQ(embedded->status, 200) << embedded->body;
  EXPECT_EQ(json::parse(embedded->body)["model"], "minilm_mean");
  const std::string metrics = client.Get("/metrics")->body;
  EXPECT_NE(metrics.find("tunekit_adapters_registered 1\n"), std::string::npos) << metrics;
  EXPECT_EQ(serve.stop(SIGTERM), 0) << serve.err();
}

TEST(ServeCli, TheBatchEngineFromTheCommandLine) {
  TUNEKIT_REQUIRE_SHARED(test::kStoriesModel);
  const auto model_path = test::shared_dir() / test::kStoriesModel;
  const auto tok_path = test::shared_dir() / "models/stories260K/tok512.bin";
  const Model model = load_model(model_path);
  auto tok = load_tokenizer_for_model(model_path, tok_path);
  ServeProcess serve({"--model", model_path.string(), "--tokenizer", tok_path.string(), "--port", "0", "--engine",
                      "batch", "--kv-memory", "16", "--kv-block-size", "8", "--max-running", "4"});
  const int port = serve.wait_for_port();
  ASSERT_GT(port, 0) << serve.err();
  EXPECT_NE(serve.err().find("batch engine"), std::string::npos) << serve.err();
  httplib::Client client("127.0.0.1", port);
  const json body = {{"prompt", "Once upon a time"}, {"max_tokens", 30}, {"temperature", 0}};
  auto res = client.Post("/v1/completions", body.dump(), "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(json::parse(res->body)["choices"][0]["text"],
            test::reference_generate(model, *tok, tok->encode("Once upon a time", true), 30, nullptr, true).text);
  const std::string metrics = client.Get("/metrics")->body;
  EXPECT_NE(metrics.find("tunekit_engine_kv_block_size 8\n"), std::string::npos) << metrics;
  EXPECT_EQ(serve.stop(SIGTERM), 0) << serve.err();
}

TEST(ServeCli, BadNewFlagsAreClearErrors) {
  TUNEKIT_REQUIRE_SHARED(test::kStoriesModel);
  const std::string model = (test::shared_dir() / test::kStoriesModel).string();
  auto dir = test::run_cli({"serve", "--model", model, "--adapter-dir", "/nonexistent/adapters"});
  EXPECT_EQ(dir.exit_code, 1);
  EXPECT_NE(dir.err.find("--adapter-dir /nonexistent/adapters"), std::string::npos) << dir.err;
  auto encoder = test::run_cli({"serve", "--model", model, "--encoder", "/nonexistent/encoder"});
  EXPECT_EQ(encoder.exit_code, 1);
  EXPECT_NE(encoder.err.find("/nonexistent/encoder"), std::string::npos) << encoder.err;
  auto engine = test::run_cli({"serve", "--model", model, "--engine", "turbo"});
  EXPECT_NE(engine.exit_code, 0);
  EXPECT_NE(engine.err.find("--engine"), std::string::npos) << engine.err;
  auto timeout = test::run_cli({"serve", "--model", model, "--request-timeout", "-1"});
  EXPECT_NE(timeout.exit_code, 0);
  EXPECT_NE(timeout.err.find("--request-timeout"), std::string::npos) << timeout.err;
}

}  // namespace
