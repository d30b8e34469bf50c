// Token log-probabilities from generate() and prompt_logprobs() on stories260K, against an
// independent reference: one prefill pass over the prompt and the generated tokens with every
// position's logits kept, then a log-softmax in double and a full sort for the alternatives.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "test_paths.h"
#include "tunekit/error.h"
#include "tunekit/infer/generate.h"
#include "tunekit/infer/model_files.h"
#include "tunekit/models/forward.h"

using namespace tunekit;

namespace {

const char* kModel = "models/stories260K/stories260K.bin";

class Logprobs : public ::testing::Test {
 protected:
  void SetUp() override {
    TUNEKIT_REQUIRE_SHARED(kModel);
    model_ = load_model(test::shared_dir() / kModel);
    tok_ = load_tokenizer_for_model(test::shared_dir() / kModel, test::shared_dir() / "models/stories260K/tok512.bin");
    prompt_ = tok_->encode("Once upon a time", true);
  }

  // log-softmax [T][n_vocab] in double of the logits after each token of seq (row i predicts seq[i + 1]).
  std::vector<std::vector<double>> log_softmax_rows(const std::vector<int32_t>& seq) const {
    const int64_t T = int64_t(seq.size()), V = model_.config.n_vocab;
    KvCache cache(model_.config, T);
    Workspace ws;
    std::vector<float> logits(size_t(T * V));
    forward(model_, seq.data(), T, 0, cache, ws, logits.data(), true);
    std::vector<std::vector<double>> out;
    for (int64_t t = 0; t < T; ++t) {
      const float* row = logits.data() + t * V;
      const double max = *std::max_element(row, row + V);
      double sum = 0;
      for (int64_t v = 0; v < V; ++v) sum += std::exp(double(row[v]) - max);
      std::vector<double> lp(static_cast<size_t>(V));
      for (int64_t v = 0; v < V; ++v) lp[size_t(v)] = double(row[v]) - max - std::log(sum);
      out.push_back(std::move(lp));
    }
    return out;
  }

  // The rows that chose each generated token of r (after the prompt).
  std::vector<std::vector<double>> reference(const GenerateResult& r) const {
    std::vector<int32_t> seq = prompt_;
    seq.insert(seq.end(), r.tokens.begin(), r.tokens.end());
    std::vector<std::vector<double>> rows = log_softmax_rows(seq);
    rows.erase(rows.begin(), rows.begin() + int64_t(prompt_.size()) - 1);
    rows.pop_back();
    return rows;
  }

  GenerateResult run(GenerateOptions opt) const { return generate(model_, *tok_, prompt_, opt); }
  static GenerateOptions greedy(int64_t max_tokens, int top_logprobs) {
    GenerateOptions opt;
    opt.max_tokens = max_tokens;
    opt.sampling.temperature = 0;
    opt.top_logprobs = top_logprobs;
    return opt;
  }

  Model model_;
  std::unique_ptr<Tokenizer> tok_;
  std::vector<int32_t> prompt_;
};

TEST_F(Logprobs, EachTokenAndItsAlternativesMatchALogSoftmaxOfTheModelsLogits) {
  GenerateOptions opt;
  opt.max_tokens = 30;
  opt.sampling.temperature = 0.9f;  // sampled, so not always the most probable token
  opt.sampling.seed = 11;
  opt.sampling.repetition_penalty = 1.3f;  // changes the logits of repeated tokens in place before sampling
  opt.top_logprobs = 5;
  const GenerateResult r = run(opt);
  ASSERT_EQ(r.logprobs.size(), r.tokens.size());
  const auto ref = reference(r);
  std::string bytes;
  bool some_not_top = false;
  for (size_t i = 0; i < r.tokens.size(); ++i) {
    const TokenLogprob& e = r.logprobs[i];
    EXPECT_EQ(e.id, r.tokens[i]);
    // raw logits: the penalty, temperature and top-k/top-p filtering do not change the reported value
    EXPECT_NEAR(e.logprob, ref[i][size_t(e.id)], 1e-4) << "token " << i;
    std::vector<int32_t> order(ref[i].size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return ref[i][size_t(a)] > ref[i][size_t(b)]; });
    ASSERT_EQ(e.top.size(), 5u);
    for (size_t j = 0; j < e.top.size(); ++j) {
      EXPECT_NEAR(e.top[j].logprob, ref[i][size_t(order[j])], 1e-4) << "token " << i << " alternative " << j;
      if (e.top[j].id == e.id) {
        EXPECT_EQ(e.top[j].text, e.text);  // the same token at the same place
      }
    }
    some_not_top = some_not_top || e.id != e.top[0].id;
    EXPECT_EQ(e.text_offset, bytes.size());
    bytes += e.text;
  }
  EXPECT_TRUE(some_not_top) << "at temperature 0.9 some sampled token should not be the most probable";
  EXPECT_EQ(bytes, r.text);  // the entries' bytes make up the text
}

TEST_F(Logprobs, GreedyTokensAreTheirPositionsMostProbableAndTheListIsOptIn) {
  GenerateOptions opt = greedy(20, -1);
  EXPECT_TRUE(run(opt).logprobs.empty());  // not asked
  opt.top_logprobs = 0;
  const GenerateResult r = run(opt);
  ASSERT_EQ(r.logprobs.size(), r.tokens.size());
  const auto ref = reference(r);
  for (size_t i = 0; i < r.tokens.size(); ++i) {
    EXPECT_TRUE(r.logprobs[i].top.empty());
    const double best = *std::max_element(ref[i].begin(), ref[i].end());
    EXPECT_NEAR(r.logprobs[i].logprob, best, 1e-4);
    EXPECT_LE(r.logprobs[i].logprob, 0.0f);
  }
}

TEST_F(Logprobs, TokensCutOffByAStopStringAreLeftOutButStreamedToTheCallbackFirst) {
  GenerateOptions opt = greedy(60, 1);
  const GenerateResult full = run(opt);
  ASSERT_GT(full.text.size(), 30u);
  opt.stop = {full.text.substr(20, 6)};
  std::vector<TokenLogprob> streamed;
  opt.on_logprob = [&](const TokenLogprob& e) { streamed.push_back(e); };
  const GenerateResult cut = run(opt);
  EXPECT_EQ(cut.finish_reason, "stop");
  EXPECT_EQ(cut.text, full.text.substr(0, 20));
  ASSERT_FALSE(cut.logprobs.empty());
  EXPECT_LT(cut.logprobs.size(), streamed.size());
  for (const TokenLogprob& e : cut.logprobs) EXPECT_LT(e.text_offset, cut.text.size());
  for (size_t i = 0; i < cut.logprobs.size(); ++i) {
    EXPECT_EQ(cut.logprobs[i].id, full.logprobs[i].id);
    EXPECT_FLOAT_EQ(cut.logprobs[i].logprob, full.logprobs[i].logprob);
  }
}

TEST_F(Logprobs, PromptTokensAreScoredAfterTheTokensBeforeThem) {
  const GenerateResult r = run(greedy(12, 2));
  std::vector<int32_t> text = prompt_;  // the prompt and its greedy continuation, scored as one prompt
  text.insert(text.end(), r.tokens.begin(), r.tokens.end());
  const std::vector<TokenLogprob> scored = prompt_logprobs(model_, *tok_, text, 2, nullptr, /*prefill_chunk=*/3);
  ASSERT_EQ(scored.size(), text.size());
  EXPECT_FALSE(scored[0].scored);
  EXPECT_TRUE(scored[0].top.empty());
  // Against a log-softmax in double of one whole-sequence pass (here in chunks of 3).
  const auto ref = log_softmax_rows(text);
  std::string bytes;
  for (size_t i = 0; i < text.size(); ++i) {
    EXPECT_EQ(scored[i].id, text[i]);
    EXPECT_EQ(scored[i].text_offset, bytes.size());
    bytes += scored[i].text;
    if (i == 0) continue;
    EXPECT_TRUE(scored[i].scored);
    EXPECT_NEAR(scored[i].logprob, ref[i - 1][size_t(text[i])], 1e-4) << "token " << i;
    ASSERT_EQ(scored[i].top.size(), 2u);
    EXPECT_GE(scored[i].top[0].logprob, scored[i].top[1].logprob);
  }
  EXPECT_EQ(bytes, tok_->decode(text));
  // The generated part scores as generate() reported it.
  for (size_t i = 0; i < r.logprobs.size(); ++i) {
    const TokenLogprob& s = scored[prompt_.size() + i];
    EXPECT_NEAR(s.logprob, r.logprobs[i].logprob, 1e-4);
    EXPECT_EQ(s.top[0].id, r.logprobs[i].top[0].id);
  }
}

TEST_F(Logprobs, OutOfRangeCountIsAnError) {
  GenerateOptions opt;
  opt.top_logprobs = kMaxTopLogprobs + 1;
  EXPECT_THROW(run(opt), Error);
  opt.top_logprobs = -2;
  EXPECT_THROW(run(opt), Error);
  EXPECT_THROW(prompt_logprobs(model_, *tok_, prompt_, kMaxTopLogprobs + 1), Error);
  EXPECT_THROW(prompt_logprobs(model_, *tok_, {}, 1), Error);
}

}  // namespace
