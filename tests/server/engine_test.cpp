// SerialEngine on its own: results equal generate(), requests cancelled before they start are
// skipped, shutdown() finishes what was submitted and refuses new requests.
#include <gtest/gtest.h>

#include "server_fixture.h"
#include "tunekit/error.h"

using namespace tunekit;

namespace {

class SerialEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TUNEKIT_REQUIRE_SHARED(test::kStoriesModel);
    const auto path = test::shared_dir() / test::kStoriesModel;
    model_ = std::make_unique<Model>(load_model(path));
    tok_ = load_tokenizer_for_model(path, test::shared_dir() / "models/stories260K/tok512.bin");
  }
  server::EngineRequest greedy(const std::string& prompt, int64_t max_tokens) const {
    server::EngineRequest r;
    r.prompt = tok_->encode(prompt, true);
    r.options.max_tokens = max_tokens;
    r.options.sampling.temperature = 0;
    return r;
  }
  std::unique_ptr<Model> model_;
  std::unique_ptr<Tokenizer> tok_;
};

TEST_F(SerialEngineTest, QueuedRequestsGiveGeneratesResultsAndStreamTheirText) {
  server::SerialEngine engine(*model_, *tok_);
  const std::vector<std::string> prompts = {"Once upon a time", "The dog", "Lily"};
  std::vector<std::string> streamed(prompts.size());
  std::vector<std::future<GenerateResult>> results;
  for (size_t i = 0; i < prompts.size(); ++i) {
    server::EngineRequest r = greedy(prompts[i], 30);
    r.options.on_text = [&streamed, i](const std::string& piece) {
      streamed[i] += piece;
      return true;
    };
    results.push_back(engine.submit(std::move(r)));
  }
  for (size_t i = 0; i < prompts.size(); ++i) {
    const GenerateResult want = test::reference_generate(*model_, *tok_, tok_->encode(prompts[i], true), 30);
    const GenerateResult got = results[i].get();
    EXPECT_EQ(got.tokens, want.tokens) << prompts[i];
    EXPECT_EQ(streamed[i], want.text) << prompts[i];
  }
}

TEST_F(SerialEngineTest, CancelledFlagStopsOrSkipsTheRequest) {
  server::SerialEngine engine(*model_, *tok_);
  server::EngineRequest skipped = greedy("Once upon a time", 30);
  skipped.cancelled = std::make_shared<std::atomic<bool>>(true);
  const GenerateResult r = engine.submit(std::move(skipped)).get();
  EXPECT_EQ(r.finish_reason, "cancelled");
  EXPECT_TRUE(r.tokens.empty());

  server::EngineRequest stopped = greedy("Once upon a time", 100);
  auto flag = std::make_shared<std::atomic<bool>>(false);
  stopped.cancelled = flag;
  int pieces = 0;
  stopped.options.on_text = [&, flag](const std::string&) {
    if (++pieces == 3) flag->store(true);  // as the HTTP side does when a client goes away
    return true;
  };
  const GenerateResult s = engine.submit(std::move(stopped)).get();
  EXPECT_EQ(s.finish_reason, "cancelled");
  EXPECT_EQ(pieces, 3);
}

TEST_F(SerialEngineTest, ShutdownFinishesSubmittedRequestsAndRefusesNewOnes) {
  server::SerialEngine engine(*model_, *tok_);
  std::vector<std::future<GenerateResult>> results;
  for (int i = 0; i < 4; ++i) results.push_back(engine.submit(greedy("Once upon a time", 20)));
  engine.shutdown();
  for (auto& r : results) EXPECT_EQ(r.get().tokens.size(), 20u);
  EXPECT_THROW(engine.submit(greedy("x", 1)), Error);
}

}  // namespace
