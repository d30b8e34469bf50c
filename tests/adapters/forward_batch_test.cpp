// forward_batch(): sequences of different lengths and adapters in one pass over a paged cache with
// shuffled blocks give, row for row, the logits of forward() on each sequence alone with its own
// contiguous cache (the golden-tested path), in prefill chunks and in decode steps.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>

#include "adapter_test_util.h"
#include "ops/ops_test_util.h"
#include "tunekit/adapters/lora_init.h"
#include "tunekit/error.h"
#include "tunekit/models/forward.h"

using namespace tunekit;

namespace {

// A LoRA of rank 4 on every linear layer with non-zero B (large enough to move the logits).
LoraAdapter random_lora(const ModelConfig& c, uint64_t seed) {
  LoraConfig config;
  config.rank = 4;
  config.alpha = 8;
  config.targets = {"all-linear"};
  config.b_std = 0.2;
  return init_lora(c, config, seed);
}

struct Sequence {
  std::vector<int32_t> tokens;
  const LoraAdapter* adapter;
};

// Logits [n, n_vocab] of every token of s run alone: one forward() over a contiguous cache.
std::vector<float> logits_alone(const Model& m, const Sequence& s) {
  const int64_t n = int64_t(s.tokens.size()), V = m.config.n_vocab;
  KvCache cache(m.config, n);
  Workspace ws;
  std::vector<float> out(size_t(n * V));
  forward(m, s.tokens.data(), n, 0, cache, ws, out.data(), /*all_logits=*/true, s.adapter);
  return out;
}

}  // namespace

TEST(ForwardBatch, MixedAdaptersAndLengthsMatchEachSequenceAlone) {
  const Model m = init_random_model(test::wide_config(), 11);
  const LoraAdapter lora_a = random_lora(m.config, 100), lora_b = random_lora(m.config, 200);
  const std::vector<Sequence> seqs = {{{1, 5, 9, 14, 2, 57, 31, 8, 60, 12, 3, 41, 7, 19, 23, 50, 4, 6, 11}, &lora_a},
                                      {{1, 5, 9, 14, 2, 30, 31}, nullptr},
                                      {{3, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53}, &lora_b},
                                      {{8, 8, 8, 8, 8}, &lora_a}};
  const int64_t bs = 4, V = m.config.n_vocab;
  // Shuffled block tables, so no sequence's blocks are consecutive.
  std::vector<int32_t> ids(40);
  std::iota(ids.begin(), ids.end(), 0);
  std::shuffle(ids.begin(), ids.end(), std::mt19937(3));
  std::vector<std::vector<int32_t>> tables;
  size_t next = 0;
  for (const Sequence& s : seqs) {
    const size_t n_blocks = (s.tokens.size() + bs - 1) / bs;
    tables.emplace_back(ids.begin() + long(next), ids.begin() + long(next + n_blocks));
    next += n_blocks;
  }
  KvBlocks cache(m.config, 40, bs);
  Workspace ws;
  // Step 1: a prefill chunk of each sequence (different lengths), all rows' logits.
  // Then steps of one token each (decode) until every sequence is done.
  std::vector<int64_t> done(seqs.size(), 0);
  std::vector<std::vector<float>> got(seqs.size());
  for (size_t i = 0; i < seqs.size(); ++i) got[i].resize(seqs[i].tokens.size() * size_t(V));
  const std::vector<int64_t> first_chunk = {9, 3, 6, 5};
  for (int step = 0;; ++step) {
    std::vector<SequenceStep> batch;
    std::vector<size_t> which;
    for (size_t i = 0; i < seqs.size(); ++i) {
      const int64_t left = int64_t(seqs[i].tokens.size()) - done[i];
      if (left == 0) continue;
      const int64_t n = step == 0 ? first_chunk[i] : 1;
      batch.push_back({{seqs[i].tokens.data() + done[i], size_t(n)}, done[i], tables[i], seqs[i].adapter, n});
      which.push_back(i);
    }
    if (batch.empty()) break;
    int64_t rows = 0;
    for (const auto& b : batch) rows += b.n_logits;
    std::vector<float> logits(size_t(rows * V));
    forward_batch(m, batch, cache, ws, logits.data());
    int64_t row = 0;
    for (size_t j = 0; j < batch.size(); ++j) {
      const size_t i = which[j];
      std::copy_n(logits.data() + row * V, batch[j].n_logits * V, got[i].data() + done[i] * V);
      row += batch[j].n_logits;
      done[i] += int64_t(batch[j].tokens.size());
    }
  }
  for (size_t i = 0; i < seqs.size(); ++i) {
    SCOPED_TRACE("sequence " + std::to_string(i));
    test::expect_close(got[i], logits_alone(m, seqs[i]), 1e-4, 1e-4, "batched logits");
  }
  // The adapters matter: sequence 0 with lora_a differs from the base.
  Sequence base = seqs[0];
  base.adapter = nullptr;
  const auto plain = logits_alone(m, base), adapted = logits_alone(m, seqs[0]);
  float diff = 0;
  for (size_t k = 0; k < plain.size(); ++k) diff = std::max(diff, std::fabs(plain[k] - adapted[k]));
  EXPECT_GT(diff, 1e-2);
}

TEST(ForwardBatch, SharedPrefixBlocksAreReadNotWritten) {
  // Two sequences share their first block (same tokens); the second starts after it.
  const Model m = init_random_model(test::wide_config(), 5);
  const int64_t bs = 4, V = m.config.n_vocab;
  const std::vector<int32_t> a = {1, 2, 3, 4, 10, 11, 12}, b = {1, 2, 3, 4, 20, 21};
  const std::vector<int32_t> table_a = {0, 1}, table_b = {0, 2};
  KvBlocks cache(m.config, 3, bs);
  Workspace ws;
  std::vector<float> la(static_cast<size_t>(V)), lb(static_cast<size_t>(V));
  SequenceStep first{{a.data(), a.size()}, 0, table_a, nullptr, 1};
  forward_batch(m, {&first, 1}, cache, ws, la.data());
  SequenceStep second{{b.data() + 4, 2}, 4, table_b, nullptr, 1};
  forward_batch(m, {&second, 1}, cache, ws, lb.data());
  const auto want = logits_alone(m, {b, nullptr});
  test::expect_close(lb, std::vector<float>(want.end() - V, want.end()), 1e-4, 1e-4, "logits after a shared prefix");
}

TEST(ForwardBatch, RejectsBlocksThatDoNotCoverThePositions) {
  const Model m = init_random_model(test::wide_config(), 5);
  KvBlocks cache(m.config, 2, 4);
  Workspace ws;
  std::vector<float> logits(size_t(m.config.n_vocab));
  const std::vector<int32_t> tokens = {1, 2, 3, 4, 5};
  const std::vector<int32_t> one_block = {0}, bad_block = {0, 7};
  SequenceStep short_table{{tokens.data(), tokens.size()}, 0, one_block, nullptr, 1};
  EXPECT_THROW(forward_batch(m, {&short_table, 1}, cache, ws, logits.data()), Error);
  SequenceStep outside{{tokens.data(), tokens.size()}, 0, bad_block, nullptr, 1};
  EXPECT_THROW(forward_batch(m, {&outside, 1}, cache, ws, logits.data()), Error);
  SequenceStep empty{{tokens.data(), 0}, 0, one_block, nullptr, 0};
  EXPECT_THROW(forward_batch(m, {&empty, 1}, cache, ws, logits.data()), Error);
}
