#include "tunekit/infer/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <map>

#include "tunekit/error.h"

using namespace tunekit;

namespace {

SamplingParams plain(float temperature, uint64_t seed = 1) {
  SamplingParams p;
  p.temperature = temperature;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.seed = seed;
  return p;
}

TEST(Sampler, GreedyIsArgmax) {
  Sampler s(plain(0.0f));
  std::vector<float> logits = {0.1f, 2.5f, -1.0f, 2.4f};
  EXPECT_EQ(s.sample(logits.data(), 4, {}), 1);
}

TEST(Sampler, SameSeedSameDraws) {
  std::vector<float> base = {0.0f, 0.5f, 1.0f, 0.2f, -0.3f};
  std::vector<int32_t> a, b;
  Sampler s1(plain(1.0f, 42)), s2(plain(1.0f, 42));
  for (int i = 0; i < 50; ++i) {
    auto l1 = base, l2 = base;
    a.push_back(s1.sample(l1.data(), 5, {}));
    b.push_back(s2.sample(l2.data(), 5, {}));
  }
  EXPECT_EQ(a, b);
}

TEST(Sampler, FrequenciesFollowTheSoftmax) {
  // Independent reference: softmax computed here in double.
  std::vector<float> base = {0.0f, 1.0f, 2.0f};
  double z = std::exp(0.0) + std::exp(1.0) + std::exp(2.0);
  Sampler s(plain(1.0f, 7));
  std::map<int, int> counts;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    auto l = base;
    counts[s.sample(l.data(), 3, {})]++;
  }
  for (int k = 0; k < 3; ++k) EXPECT_NEAR(counts[k] / double(n), std::exp(double(k)) / z, 0.015) << k;
}

TEST(Sampler, TopKOneIsGreedyAtAnyTemperature) {
  SamplingParams p = plain(5.0f, 3);
  p.top_k = 1;
  Sampler s(p);
  for (int i = 0; i < 20; ++i) {
    std::vector<float> l = {0.3f, 0.1f, 0.9f, 0.8f};
    EXPECT_EQ(s.sample(l.data(), 4, {}), 2);
  }
}

// OpenAI's formula, logit[j] -= c[j] · frequency + (c[j] > 0) · presence with c[j] the earlier
// draws of j, worked by hand for greedy draws from the same logits {2.0, 1.5, -0.2}:
//   frequency 1: 0 (2.0 > 1.5), 1 (1.0 < 1.5), 0 (1.0 > 0.5), 1 (0.0 < 0.5), 0 (0.0 > -0.2 > -0.5),
//                2 (-1.0 < -0.5 < -0.2)
//   presence 1:  0, 1 (1.0 < 1.5), then 0 for good (1.0 > 0.5: the penalty does not grow)
TEST(Sampler, FrequencyAndPresencePenaltiesFollowOpenAIsFormula) {
  auto draws = [](float frequency, float presence, int n) {
    SamplingParams p = plain(0.0f);
    p.frequency_penalty = frequency;
    p.presence_penalty = presence;
    Sampler s(p);
    std::vector<int32_t> out;
    for (int i = 0; i < n; ++i) {
      std::vector<float> l = {2.0f, 1.5f, -0.2f};
      out.push_back(s.sample(l.data(), 3, {}));
    }
    return out;
  };
  EXPECT_EQ(draws(1.0f, 0.0f, 6), (std::vector<int32_t>{0, 1, 0, 1, 0, 2}));
  EXPECT_EQ(draws(0.0f, 1.0f, 5), (std::vector<int32_t>{0, 1, 0, 0, 0}));
  EXPECT_EQ(draws(0.0f, 0.0f, 3), (std::vector<int32_t>{0, 0, 0}));
}

TEST(Sampler, LogitBiasAddsToTheLogitAndChecksTheId) {
  SamplingParams p = plain(0.0f);
  p.logit_bias = {{1, -100.0f}};
  std::vector<float> l = {0.1f, 2.5f, -1.0f, 2.4f};
  EXPECT_EQ(Sampler(p).sample(l.data(), 4, {}), 3);
  EXPECT_FLOAT_EQ(l[1], 2.5f - 100.0f);
  p = plain(1.0f, 9);
  p.logit_bias = {{2, 100.0f}};  // p(2) = 1 / (1 + Σ e^(l_j - l_2)), others ~e^-97
  Sampler s(p);
  for (int i = 0; i < 200; ++i) {
    l = {0.1f, 2.5f, -1.0f, 2.4f};
    EXPECT_EQ(s.sample(l.data(), 4, {}), 2);
  }
  p.logit_bias = {{4, 1.0f}};
  l = {0.1f, 2.5f, -1.0f, 2.4f};
  EXPECT_THROW(Sampler(p).sample(l.data(), 4, {}), Error);  // id 4 of a 4-token vocabulary
}

TEST(Sampler, MinPAndTopPCutTheTail) {
  // probabilities ~ {0.6, 0.3, 0.1} at temperature 1 (logits are their logs)
  std::vector<float> base = {std::log(0.6f), std::log(0.3f), std::log(0.1f)};
  SamplingParams mp = plain(1.0f, 5);
  mp.min_p = 0.2f;  // keeps p >= 0.12: tokens 0 and 1
  SamplingParams tp = plain(1.0f, 5);
  tp.top_p = 0.85f;  // 0.6 + 0.3 reaches it: tokens 0 and 1
  for (auto p : {mp, tp}) {
    Sampler s(p);
    for (int i = 0; i < 500; ++i) {
      auto l = base;
      EXPECT_NE(s.sample(l.data(), 3, {}), 2);
    }
  }
}

TEST(Sampler, RepetitionPenaltyDividesPositiveAndMultipliesNegative) {
  SamplingParams p = plain(0.0f);
  p.repetition_penalty = 2.0f;
  Sampler s(p);
  std::vector<float> l = {3.0f, 2.0f, -1.0f};
  // token 0 was seen: 3 / 2 = 1.5 < 2, so token 1 wins; token 2 (seen) becomes -2.
  EXPECT_EQ(s.sample(l.data(), 3, {0, 2}), 1);
  EXPECT_FLOAT_EQ(l[0], 1.5f);
  EXPECT_FLOAT_EQ(l[2], -2.0f);
}

TEST(Sampler, RejectsOutOfRangeParameters) {
  const std::function<void(SamplingParams&)> out_of_range[] = {
      [](SamplingParams& p) { p.top_p = 0.0f; },
      [](SamplingParams& p) { p.temperature = -1.0f; },
      [](SamplingParams& p) { p.frequency_penalty = 2.5f; },
      [](SamplingParams& p) { p.presence_penalty = -2.5f; },
      [](SamplingParams& p) { p.logit_bias = {{3, 100.5f}}; },
      [](SamplingParams& p) { p.logit_bias = {{-1, 1.0f}}; },
  };
  for (size_t i = 0; i < std::size(out_of_range); ++i) {
    SamplingParams p;
    out_of_range[i](p);
    EXPECT_THROW(Sampler{p}, Error) << "case " << i;
  }
}

}  // namespace
