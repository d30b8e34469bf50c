// Sampler: picks the next token from logits. Greedy at temperature 0; otherwise repetition
// penalty, temperature, then top-k, top-p and min-p filtering, then a seeded draw.
// The order and the formulas follow llama.cpp / HF (penalty divides positive logits and
// multiplies negative ones; min-p keeps tokens with p >= min_p * p_max).
#pragma once
#include <cstdint>
#include <random>
#include <vector>

namespace tunekit {

struct SamplingParams {
  float temperature = 0.8f;         // 0 = greedy
  int32_t top_k = 40;               // 0 = off
  float top_p = 0.95f;              // 1 = off
  float min_p = 0.05f;              // 0 = off
  float repetition_penalty = 1.0f;  // 1 = off
  int32_t repeat_last_n = 64;       // how many recent tokens the penalty looks at
  uint64_t seed = 0;

  void validate() const;  // throws Error naming the out-of-range parameter
};

class Sampler {
 public:
  explicit Sampler(const SamplingParams& params);
  // logits [n_vocab] (modified in place); history = the tokens so far (prompt + generated).
  int32_t sample(float* logits, int64_t n_vocab, const std::vector<int32_t>& history);

 private:
  SamplingParams params_;
  std::mt19937_64 rng_;
  std::vector<std::pair<float, int32_t>> candidates_;  // (logit or prob, id), reused
};

}  // namespace tunekit
