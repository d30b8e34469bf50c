// BatchEngine: concurrent requests for the base and two adapters, in one continuously batched run,
// each give exactly the tokens and text of generate() alone (greedy, stories260K); so do requests
// that are pre-empted for KV blocks and recomputed, that share prompt prefixes, and whose prompts
// are prefilled in chunks beside decoding requests. Cancellation, deadlines and requests that can
// never fit end cleanly.
#include <gtest/gtest.h>

#include "server_fixture.h"
#include "tunekit/error.h"
#include "tunekit/models/forward.h"
#include "tunekit/server/batch_engine.h"

using namespace tunekit;

namespace {

class BatchEngineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!std::filesystem::exists(test::shared_dir() / test::kStoriesModel)) return;
    const auto path = test::shared_dir() / test::kStoriesModel;
    model_ = std::make_unique<Model>(load_model(path));
    tok_ = load_tokenizer_for_model(path, test::shared_dir() / "models/stories260K/tok512.bin");
    LoraConfig lora;
    lora.targets = {"all-linear"};
    lora.b_std = 0.5;  // B != 0, so each adapter changes the text
    adapter_1_ = std::make_unique<LoraAdapter>(init_lora(model_->config, lora, 7));
    lora.targets = {"q_proj", "v_proj", "down_proj"};
    lora.rank = 4;
    adapter_2_ = std::make_unique<LoraAdapter>(init_lora(model_->config, lora, 8));
  }
  static void TearDownTestSuite() {
    adapter_1_.reset();
    adapter_2_.reset();
    tok_.reset();
    model_.reset();
  }
  void SetUp() override { TUNEKIT_REQUIRE_SHARED(test::kStoriesModel); }

  server::EngineRequest greedy(const std::string& prompt, int64_t max_tokens, const LoraAdapter* adapter) const {
    server::EngineRequest r;
    r.prompt = tok_->encode(prompt, true);
    r.options.max_tokens = max_tokens;
    r.options.sampling.temperature = 0;
    r.options.adapter = adapter;
    return r;
  }
  struct Case {
    std::string prompt;
    const LoraAdapter* adapter;
    int64_t max_tokens;
  };
  // Submits every case at once, then checks each result (and its streamed text) against generate().
  void expect_generates_results(server::BatchEngine& engine, const std::vector<Case>& cases) const {
    std::vector<std::string> streamed(cases.size());
    std::vector<std::future<GenerateResult>> results;
    for (size_t i = 0; i < cases.size(); ++i) {
      server::EngineRequest r = greedy(cases[i].prompt, cases[i].max_tokens, cases[i].adapter);
      r.options.on_text = [&streamed, i](const std::string& piece) {
        streamed[i] += piece;
        return true;
      };
      results.push_back(engine.submit(std::move(r)));
    }
    for (size_t i = 0; i < cases.size(); ++i) {
      SCOPED_TRACE("case " + std::to_string(i) + ": " + cases[i].prompt);
      const GenerateResult want = test::reference_generate(*model_, *tok_, tok_->encode(cases[i].prompt, true),
                                                           cases[i].max_tokens, cases[i].adapter);
      const GenerateResult got = results[i].get();
      EXPECT_EQ(got.tokens, want.tokens);
      EXPECT_EQ(got.text, want.text);
      EXPECT_EQ(streamed[i], want.text);
      EXPECT_EQ(got.finish_reason, want.finish_reason);
      EXPECT_EQ(got.n_prompt, want.n_prompt);
    }
  }

  static inline std::unique_ptr<Model> model_;
  static inline std::unique_ptr<Tokenizer> tok_;
  static inline std::unique_ptr<LoraAdapter> adapter_1_, adapter_2_;
};

TEST_F(BatchEngineTest, BaseAndTwoAdaptersInOneBatchGiveEachOnesOwnText) {
  server::BatchEngine engine(*model_, *tok_);
  std::vector<Case> cases;
  for (const char* prompt : {"Once upon a time", "Lily went to the park", "The dog"})
    for (const LoraAdapter* adapter : std::vector<const LoraAdapter*>{nullptr, adapter_1_.get(), adapter_2_.get()})
      cases.push_back({prompt, adapter, 48});
  expect_generates_results(engine, cases);
  // The adapters really change the text (so matching generate() per adapter means something).
  const auto prompt = tok_->encode("Once upon a time", true);
  const auto base = test::reference_generate(*model_, *tok_, prompt, 48);
  EXPECT_NE(test::reference_generate(*model_, *tok_, prompt, 48, adapter_1_.get()).tokens, base.tokens);
  EXPECT_NE(test::reference_generate(*model_, *tok_, prompt, 48, adapter_2_.get()).tokens, base.tokens);
  const server::EngineStats stats = engine.stats();
  EXPECT_EQ(stats.requests_finished, 9);
  EXPECT_EQ(stats.running, 0);
  EXPECT_EQ(stats.kv_blocks_used, 0);
  EXPECT_LT(stats.steps, 9 * 48);  // batched: far fewer passes than one per token of each request
}

TEST_F(BatchEngineTest, LogprobsOfBatchedRequestsEqualGeneratesAlone) {
  server::BatchEngine engine(*model_, *tok_);
  const std::vector<const LoraAdapter*> adapters{nullptr, adapter_1_.get(), adapter_2_.get()};
  std::vector<std::future<GenerateResult>> results;
  for (const LoraAdapter* adapter : adapters) {
    server::EngineRequest r = greedy("Once upon a time", 24, adapter);
    r.options.top_logprobs = 3;
    results.push_back(engine.submit(std::move(r)));
  }
  for (size_t i = 0; i < adapters.size(); ++i) {
    SCOPED_TRACE("adapter " + std::to_string(i));
    GenerateOptions opt;
    opt.max_tokens = 24;
    opt.sampling.temperature = 0;
    opt.adapter = adapters[i];
    opt.top_logprobs = 3;
    const GenerateResult want = generate(*model_, *tok_, tok_->encode("Once upon a time", true), opt);
    const GenerateResult got = results[i].get();
    ASSERT_EQ(got.logprobs.size(), want.logprobs.size());
    ASSERT_EQ(got.logprobs.size(), got.tokens.size());
    for (size_t t = 0; t < got.logprobs.size(); ++t) {
      EXPECT_EQ(got.logprobs[t].id, want.logprobs[t].id);
      EXPECT_EQ(got.logprobs[t].text, want.logprobs[t].text);
      EXPECT_NEAR(got.logprobs[t].logprob, want.logprobs[t].logprob, 1e-4);
      ASSERT_EQ(got.logprobs[t].top.size(), 3u);
      for (size_t j = 0; j < 3; ++j) {
        EXPECT_EQ(got.logprobs[t].top[j].id, want.logprobs[t].top[j].id);
        EXPECT_NEAR(got.logprobs[t].top[j].logprob, want.logprobs[t].top[j].logprob, 1e-4);
      }
    }
  }
}

TEST_F(BatchEngineTest, PreemptedRequestsAreRecomputedToTheSameText) {
  server::BatchEngineOptions options;
  options.kv_block_size = 8;
  // 12 blocks of 8 positions: room for about two of these requests at once.
  options.kv_memory_bytes = 12 * KvBlocks::block_bytes(model_->config, 8);
  server::BatchEngine engine(*model_, *tok_, options);
  std::vector<Case> cases;
  for (int i = 0; i < 6; ++i)
    cases.push_back({i % 2 ? "Lily went" : "Once upon a time there was", i % 3 == 1 ? adapter_1_.get() : nullptr, 40});
  expect_generates_results(engine, cases);
  EXPECT_GT(engine.stats().preemptions, 0);
  EXPECT_EQ(engine.stats().kv_blocks_total, 12);
}

TEST_F(BatchEngineTest, SharedPromptPrefixesAreComputedOnce) {
  server::BatchEngineOptions options;
  options.kv_block_size = 4;
  server::BatchEngine engine(*model_, *tok_, options);
  const std::string story = "Once upon a time there was a little girl named Lily. She loved to play outside";
  expect_generates_results(engine, {{story, nullptr, 20}});
  expect_generates_results(engine, {{story + " with her dog", nullptr, 20}, {story, adapter_1_.get(), 20}});
  EXPECT_GT(engine.stats().prefix_cached_tokens, 8);
}

TEST_F(BatchEngineTest, ChunkedPrefillBesideDecodingRequests) {
  server::BatchEngineOptions options;
  options.max_batch_tokens = 5;  // prompts go through in chunks of a few tokens, beside decode rows
  server::BatchEngine engine(*model_, *tok_, options);
  expect_generates_results(engine, {{"Tom", adapter_2_.get(), 60},
                                    {"Once upon a time there was a big red ball in the garden", nullptr, 30},
                                    {"The sun was shining and the birds were singing", adapter_1_.get(), 30}});
}

TEST_F(BatchEngineTest, CancelledAndTimedOutRequestsEndWithTheirReason) {
  server::BatchEngine engine(*model_, *tok_);
  server::EngineRequest cancelled = greedy("Once upon a time", 200, nullptr);
  cancelled.options.stop_at_eos = false;
  cancelled.cancelled = std::make_shared<std::atomic<bool>>(false);
  auto flag = cancelled.cancelled;
  int pieces = 0;
  cancelled.options.on_text = [&](const std::string&) {
    if (++pieces == 3) flag->store(true);
    return true;
  };
  server::EngineRequest late = greedy("Lily", 200, nullptr);
  late.deadline = std::chrono::steady_clock::now() - std::chrono::seconds(1);
  auto a = engine.submit(std::move(cancelled));
  auto b = engine.submit(std::move(late));
  const GenerateResult ra = a.get(), rb = b.get();
  EXPECT_EQ(ra.finish_reason, "cancelled");
  EXPECT_LT(ra.tokens.size(), 200u);
  EXPECT_EQ(rb.finish_reason, "timeout");
  EXPECT_EQ(engine.stats().kv_blocks_used, 0);
}

TEST_F(BatchEngineTest, RequestsThatCanNeverRunFailAloneAndTheEngineGoesOn) {
  server::BatchEngineOptions options;
  options.kv_block_size = 16;
  options.kv_memory_bytes = 4 * KvBlocks::block_bytes(model_->config, 16);  // 64 positions
  server::BatchEngine engine(*model_, *tok_, options);
  auto too_long = engine.submit(greedy("Once upon a time", 100, nullptr));
  EXPECT_THROW(too_long.get(), Error);
  server::EngineRequest empty = greedy("", 10, nullptr);
  empty.prompt.clear();
  auto no_prompt = engine.submit(std::move(empty));
  EXPECT_THROW(no_prompt.get(), Error);
  expect_generates_results(engine, {{"Lily", nullptr, 20}});
  engine.shutdown();
  EXPECT_THROW(engine.submit(greedy("Lily", 5, nullptr)), Error);
}

TEST_F(BatchEngineTest, APoolWithoutRoomForOneBlockIsRefused) {
  server::BatchEngineOptions options;
  options.kv_memory_bytes = 16;
  EXPECT_THROW(server::BatchEngine(*model_, *tok_, options), Error);
}

}  // namespace
