// Issue 5's multi-LoRA acceptance end to end through the binary: two adapters trained by
// `tunekit train` on stories260K, served together by `tunekit serve` (the batching engine);
// concurrent requests for the base and for each adapter, batched together, each return exactly the
// text that `tunekit generate` gives for that adapter alone (greedy).
#include <gtest/gtest.h>

#include <thread>

#include "cli_runner.h"
#include "serve_process.h"
#include "server_fixture.h"

using namespace tunekit;
using nlohmann::json;

namespace {

const char* kTokenizer = "models/stories260K/tok512.bin";
const char* kBook = "data/docs/grays-anatomy-1918-osteology.txt";

// Trains a LoRA on the book with `tunekit train`; returns its PEFT folder.
std::filesystem::path train_adapter(const std::filesystem::path& out, const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"train", "--model", (test::shared_dir() / test::kStoriesModel).string(),
                                   "--tokenizer", (test::shared_dir() / kTokenizer).string(),
                                   "--data", (test::shared_dir() / kBook).string(), "--seq-len", "128",
                                   "--max-steps", "20", "--out", out.string()};
  args.insert(args.end(), extra.begin(), extra.end());
  const test::CliResult r = test::run_cli(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return out / "final";
}

// `tunekit generate --json` greedy: the text it gives for the prompt (with the adapter, if any).
std::string generate_cli(const std::string& prompt, const std::filesystem::path& adapter, int max_tokens) {
  std::vector<std::string> args = {"generate", "--model", (test::shared_dir() / test::kStoriesModel).string(),
                                   "--tokenizer", (test::shared_dir() / kTokenizer).string(), "--prompt", prompt,
                                   "--max-tokens", std::to_string(max_tokens), "--temperature", "0", "--json"};
  if (!adapter.empty()) args.insert(args.end(), {"--adapter", adapter.string()});
  const test::CliResult r = test::run_cli(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return json::parse(r.out)["text"].get<std::string>();
}

}  // namespace

TEST(MultiLoraCli, ConcurrentRequestsForBaseAndTwoTrainedAdaptersEachGiveGeneratesText) {
  TUNEKIT_REQUIRE_SHARED(test::kStoriesModel);
  TUNEKIT_REQUIRE_SHARED(kBook);
  const auto dir = test::temp_dir("multi_lora_cli");
  const std::map<std::string, std::filesystem::path> adapters = {
      {"anatomy-a", train_adapter(dir / "a", {"--target", "all-linear", "--lr", "5e-3", "--seed", "2"})},
      {"anatomy-b", train_adapter(dir / "b", {"--target", "q_proj,v_proj,down_proj", "--lora-r", "4", "--lr", "1e-2",
                                              "--seed", "5"})}};
  test::ServeProcess serve({"--model", (test::shared_dir() / test::kStoriesModel).string(), "--tokenizer",
                            (test::shared_dir() / kTokenizer).string(), "--port", "0", "--adapter",
                            "anatomy-a=" + adapters.at("anatomy-a").string(), "--adapter",
                            "anatomy-b=" + adapters.at("anatomy-b").string()});
  const int port = serve.wait_for_port();
  ASSERT_GT(port, 0) << serve.err();

  struct Request {
    std::string model, prompt, text;
    int status = 0;
  };
  std::vector<Request> requests;
  for (const char* prompt : {"Once upon a time", "The bone", "Lily went to the park"})
    for (const char* model : {"stories260K", "anatomy-a", "anatomy-b"}) requests.push_back({model, prompt, "", 0});
  std::vector<std::thread> clients;  // all at once: the engine batches them
  for (Request& r : requests)
    clients.emplace_back([&r, port] {
      httplib::Client client("127.0.0.1", port);
      client.set_read_timeout(60, 0);
      const json body = {{"model", r.model}, {"prompt", r.prompt}, {"max_tokens", 40}, {"temperature", 0}};
      if (auto res = client.Post("/v1/completions", body.dump(), "application/json")) {
        r.status = res->status;
        if (res->status == 200) r.text = json::parse(res->body)["choices"][0]["text"];
      }
    });
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(serve.stop(SIGTERM), 0) << serve.err();

  std::map<std::string, std::string> base_text;
  for (const Request& r : requests) {
    SCOPED_TRACE(r.model + ": " + r.prompt);
    ASSERT_EQ(r.status, 200);
    const auto adapter = r.model == "stories260K" ? std::filesystem::path() : adapters.at(r.model);
    EXPECT_EQ(r.text, generate_cli(r.prompt, adapter, 40));
    if (r.model == "stories260K") base_text[r.prompt] = r.text;
  }
  int differ = 0;  // the trained adapters change what the model writes
  for (const Request& r : requests) differ += r.model != "stories260K" && r.text != base_text[r.prompt];
  EXPECT_GE(differ, 4);
}
