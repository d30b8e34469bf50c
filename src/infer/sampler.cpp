#include "tunekit/infer/sampler.h"

#include <algorithm>
#include <cmath>
#include <unordered_set>

#include "tunekit/error.h"

namespace tunekit {

void SamplingParams::validate() const {
  check(temperature >= 0 && std::isfinite(temperature), "temperature must be >= 0, got ", temperature);
  check(top_k >= 0, "top-k must be >= 0 (0 = off), got ", top_k);
  check(top_p > 0 && top_p <= 1, "top-p must be in (0, 1], got ", top_p);
  check(min_p >= 0 && min_p < 1, "min-p must be in [0, 1), got ", min_p);
  check(repetition_penalty > 0 && std::isfinite(repetition_penalty), "repetition penalty must be > 0, got ",
        repetition_penalty);
  check(repeat_last_n >= 0, "repeat-last-n must be >= 0, got ", repeat_last_n);
  check(frequency_penalty >= -2 && frequency_penalty <= 2, "frequency penalty must be in [-2, 2], got ",
        frequency_penalty);
  check(presence_penalty >= -2 && presence_penalty <= 2, "presence penalty must be in [-2, 2], got ", presence_penalty);
  for (const auto& [id, bias] : logit_bias) {
    check(id >= 0, "logit bias: token id ", id, " is negative");
    check(bias >= -100 && bias <= 100, "logit bias of token ", id, " must be in [-100, 100], got ", bias);
  }
}

Sampler::Sampler(const SamplingParams& params) : params_(params), rng_(params.seed) { params_.validate(); }

namespace {

int32_t argmax(const float* x, int64_t n) {
  return int32_t(std::max_element(x, x + n) - x);
}

// A uniform double in [0, 1) from 53 random bits: the same on every platform for a given seed.
double uniform01(std::mt19937_64& rng) { return double(rng() >> 11) * 0x1.0p-53; }

}  // namespace

int32_t Sampler::sample(float* logits, int64_t n_vocab, const std::vector<int32_t>& history) {
  adjust(logits, n_vocab, history);
  const int32_t token = draw(logits, n_vocab);
  if (params_.frequency_penalty != 0.0f || params_.presence_penalty != 0.0f) ++drawn_[token];
  return token;
}

void Sampler::adjust(float* logits, int64_t n_vocab, const std::vector<int32_t>& history) const {
  if (params_.repetition_penalty != 1.0f && params_.repeat_last_n > 0) {
    std::unordered_set<int32_t> seen;
    size_t from = history.size() > size_t(params_.repeat_last_n) ? history.size() - params_.repeat_last_n : 0;
    for (size_t i = from; i < history.size(); ++i) {
      int32_t id = history[i];
      if (id < 0 || id >= n_vocab || !seen.insert(id).second) continue;
      logits[id] = logits[id] > 0 ? logits[id] / params_.repetition_penalty : logits[id] * params_.repetition_penalty;
    }
  }
  for (const auto& [id, count] : drawn_)
    logits[id] -= float(count) * params_.frequency_penalty + params_.presence_penalty;
  for (const auto& [id, bias] : params_.logit_bias) {
    check(id < n_vocab, "logit bias: token id ", id, " is not below the vocabulary size ", n_vocab);
    logits[id] += bias;
  }
}

int32_t Sampler::draw(const float* logits, int64_t n_vocab) {
  if (params_.temperature == 0.0f) return argmax(logits, n_vocab);

  // Candidates sorted by logit, cut by top-k.
  candidates_.resize(n_vocab);
  for (int64_t i = 0; i < n_vocab; ++i) candidates_[i] = {logits[i] / params_.temperature, int32_t(i)};
  auto by_logit = [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); };
  int64_t keep = params_.top_k > 0 ? std::min<int64_t>(params_.top_k, n_vocab) : n_vocab;
  std::partial_sort(candidates_.begin(), candidates_.begin() + keep, candidates_.end(), by_logit);
  candidates_.resize(keep);

  // Softmax over the survivors (the first has the largest logit).
  const float max_logit = candidates_[0].first;
  double sum = 0;
  for (auto& c : candidates_) sum += (c.first = std::exp(c.first - max_logit));
  for (auto& c : candidates_) c.first = float(c.first / sum);

  // min-p: drop tokens below min_p times the most likely one's probability.
  if (params_.min_p > 0) {
    const float floor = params_.min_p * candidates_[0].first;
    while (candidates_.size() > 1 && candidates_.back().first < floor) candidates_.pop_back();
  }
  // top-p: the smallest prefix whose mass reaches top_p.
  if (params_.top_p < 1.0f) {
    double mass = 0;
    size_t n = 0;
    while (n < candidates_.size()) {
      mass += candidates_[n++].first;
      if (mass >= params_.top_p) break;
    }
    candidates_.resize(n);
  }
  double total = 0;
  for (const auto& c : candidates_) total += c.first;
  double r = uniform01(rng_) * total;
  for (const auto& c : candidates_) {
    r -= c.first;
    if (r < 0) return c.second;
  }
  return candidates_.back().second;
}

}  // namespace tunekit
