// Sampler: picks the next token from logits. First the logits are adjusted: repetition penalty
// (llama.cpp / HF: divides positive logits and multiplies negative ones of recent tokens), OpenAI's
// frequency and presence penalties (logit[j] -= c[j] · frequency + (c[j] > 0) · presence, c[j] the
// times this sampler has drawn j) and OpenAI's logit_bias (added). Then greedy at temperature 0;
// otherwise temperature, top-k, top-p and min-p filtering (min-p keeps p >= min_p * p_max), and a
// seeded draw.
#pragma once
#include <cstdint>
#include <random>
#include <unordered_map>
#include <utility>
#include <vector>

namespace tunekit {

struct SamplingParams {
  float temperature = 0.8f;         // 0 = greedy
  int32_t top_k = 40;               // 0 = off
  float top_p = 0.95f;              // 1 = off
  float min_p = 0.05f;              // 0 = off
  float repetition_penalty = 1.0f;  // 1 = off
  int32_t repeat_last_n = 64;       // how many recent tokens the penalty looks at
  float frequency_penalty = 0.0f;   // OpenAI's, -2..2 (0 = off): per earlier draw of the token
  float presence_penalty = 0.0f;    // OpenAI's, -2..2 (0 = off): once a token has been drawn
  std::vector<std::pair<int32_t, float>> logit_bias;  // OpenAI's: (token id, -100..100 added to its logit)
  uint64_t seed = 0;

  void validate() const;  // throws Error naming the out-of-range parameter
};

class Sampler {
 public:
  explicit Sampler(const SamplingParams& params);
  // logits [n_vocab] (modified in place); history = the tokens so far (prompt + generated). A
  // logit_bias id at or above n_vocab is an Error.
  int32_t sample(float* logits, int64_t n_vocab, const std::vector<int32_t>& history);

 private:
  void adjust(float* logits, int64_t n_vocab, const std::vector<int32_t>& history) const;
  int32_t draw(const float* logits, int64_t n_vocab);

  SamplingParams params_;
  std::mt19937_64 rng_;
  std::vector<std::pair<float, int32_t>> candidates_;  // (logit or prob, id), reused
  std::unordered_map<int32_t, int32_t> drawn_;         // token id -> times sample() returned it
};

}  // namespace tunekit
