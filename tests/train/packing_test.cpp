// BatchIterator: the exact row layout of a tiny case, the packing invariants on many random samples
// (no token lost or duplicated, positions/seg_start/targets/weights consistent, first fit), the
// seeded shuffle, and exact resume from (epoch, index).
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "tunekit/error.h"
#include "tunekit/train/data.h"

namespace tunekit {
namespace {

Sample make_sample(std::vector<int32_t> tokens, std::vector<float> weights) {
  return Sample{std::move(tokens), std::move(weights), "test"};
}

// n samples of 2..max_len tokens; token ids are unique across samples (sample k: 1000k + i), so a
// token identifies its sample and place.
std::vector<Sample> random_samples(int n, int max_len, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<Sample> out;
  for (int k = 0; k < n; ++k) {
    int len = 2 + int(rng() % uint32_t(max_len - 1));
    Sample s;
    for (int i = 0; i < len; ++i) {
      s.tokens.push_back(1000 * (k + 1) + i);
      s.weights.push_back(float(rng() % 4) * 0.25f);
    }
    s.source = "sample " + std::to_string(k);
    out.push_back(s);
  }
  return out;
}

bool same_batch(const Batch& a, const Batch& b) {
  return a.n_row == b.n_row && a.seq_len == b.seq_len && a.tokens == b.tokens && a.targets == b.targets &&
         a.weights == b.weights && a.positions == b.positions && a.seg_start == b.seg_start;
}

TEST(Packing, TinyCaseExactLayout) {
  // seq_len 8, file order: A (3) and B (2) share row 0; C (5) does not fit the 3 left, so row 1.
  std::vector<Sample> samples = {make_sample({1, 2, 3}, {0, 0.1f, 1}), make_sample({4, 5}, {0, 1}),
                                 make_sample({6, 7, 8, 9, 10}, {0, 1, 1, 0.5f, 1})};
  BatchIterator it(samples, {.seq_len = 8, .n_row = 2, .pack = true, .shuffle = false, .seed = 0});
  ASSERT_EQ(it.batches_in_epoch(0), 1);
  Batch b;
  it.next(b);
  ASSERT_EQ(b.size(), 16);
  EXPECT_EQ(b.tokens, (std::vector<int32_t>{1, 2, 3, 4, 5, 0, 0, 0, /**/ 6, 7, 8, 9, 10, 0, 0, 0}));
  EXPECT_EQ(b.targets, (std::vector<int32_t>{2, 3, -1, 5, -1, -1, -1, -1, /**/ 7, 8, 9, 10, -1, -1, -1, -1}));
  EXPECT_EQ(b.weights, (std::vector<float>{0.1f, 1, 0, 1, 0, 0, 0, 0, /**/ 1, 1, 0.5f, 1, 0, 0, 0, 0}));
  EXPECT_EQ(b.positions, (std::vector<int32_t>{0, 1, 2, 0, 1, 0, 0, 0, /**/ 0, 1, 2, 3, 4, 0, 0, 0}));
  EXPECT_EQ(b.seg_start, (std::vector<int32_t>{0, 0, 0, 3, 3, 5, 6, 7, /**/ 8, 8, 8, 8, 8, 13, 14, 15}));
  EXPECT_NEAR(b.weight_sum(), 0.1 + 1 + 1 + 1 + 1 + 0.5 + 1, 1e-6);
  EXPECT_EQ(it.position(), (BatchPosition{1, 0}));
}

TEST(Packing, UnpackedIsOneSamplePerRowAndLastBatchIsPadded) {
  std::vector<Sample> samples = {make_sample({1, 2, 3}, {0, 1, 1}), make_sample({4, 5}, {0, 1}),
                                 make_sample({6, 7}, {0, 1})};
  BatchIterator it(samples, {.seq_len = 4, .n_row = 2, .pack = false, .shuffle = false, .seed = 0});
  ASSERT_EQ(it.batches_in_epoch(0), 2);
  Batch b;
  it.next(b);
  EXPECT_EQ(b.tokens, (std::vector<int32_t>{1, 2, 3, 0, 4, 5, 0, 0}));
  it.next(b);  // sample 3, then a row of padding
  EXPECT_EQ(b.tokens, (std::vector<int32_t>{6, 7, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(b.targets, (std::vector<int32_t>{7, -1, -1, -1, -1, -1, -1, -1}));
  EXPECT_EQ(b.seg_start, (std::vector<int32_t>{0, 0, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(b.weight_sum(), 1.0);
}

// Walks one epoch and checks every invariant; returns the rows' used lengths in order.
void check_epoch(BatchIterator& it, const std::vector<Sample>& samples, int64_t seq_len, int64_t epoch) {
  std::map<int32_t, int> seen;  // first token -> times its sample appeared
  std::vector<int64_t> used;    // tokens used per row, rows in order
  std::vector<std::pair<int64_t, int64_t>> placed;  // (row, sample length)
  const int64_t n_batches = it.batches_in_epoch(epoch);
  for (int64_t bi = 0; bi < n_batches; ++bi) {
    ASSERT_EQ(it.position(), (BatchPosition{epoch, bi}));
    Batch b;
    it.next(b);
    for (int64_t r = 0; r < b.n_row; ++r) {
      int64_t row_used = 0;
      for (int64_t c = 0; c < seq_len;) {
        const int64_t j = r * seq_len + c;
        if (b.tokens[size_t(j)] == 0) {  // padding: the rest of the row
          for (; c < seq_len; ++c) {
            const size_t p = size_t(r * seq_len + c);
            EXPECT_EQ(b.targets[p], -1);
            EXPECT_EQ(b.weights[p], 0.0f);
            EXPECT_EQ(b.seg_start[p], int32_t(p));
            EXPECT_EQ(b.tokens[p], 0);
          }
          break;
        }
        const int32_t first = b.tokens[size_t(j)];
        const Sample& s = samples[size_t(first / 1000 - 1)];
        ASSERT_EQ(s.tokens[0], first) << "a row segment must start at a sample's first token";
        ++seen[first];
        const int64_t n = int64_t(s.tokens.size());
        ASSERT_LE(c + n, seq_len);
        for (int64_t i = 0; i < n; ++i) {
          const size_t p = size_t(j + i);
          EXPECT_EQ(b.tokens[p], s.tokens[size_t(i)]);
          EXPECT_EQ(b.positions[p], i);
          EXPECT_EQ(b.seg_start[p], j);
          EXPECT_EQ(b.targets[p], i + 1 < n ? s.tokens[size_t(i + 1)] : -1);
          EXPECT_EQ(b.weights[p], i + 1 < n ? s.weights[size_t(i + 1)] : 0.0f);
        }
        placed.push_back({int64_t(used.size()), n});
        c += n;
        row_used += n;
      }
      used.push_back(row_used);
    }
  }
  // Every sample exactly once.
  EXPECT_EQ(seen.size(), samples.size());
  for (const auto& [first, count] : seen) EXPECT_EQ(count, 1) << "sample starting with " << first;
  // First fit: a sample is in row j only because it fitted in no earlier row (whose free space only
  // shrank afterwards), so it is longer than every earlier row's final free space.
  for (const auto& [row, n] : placed)
    for (int64_t earlier = 0; earlier < row; ++earlier)
      if (used[size_t(earlier)] > 0) {
        EXPECT_GT(n, seq_len - used[size_t(earlier)]) << "row " << row;
      }
  // Rows are well filled: only padding rows at the very end of the epoch are empty.
  int64_t total = 0;
  for (const Sample& s : samples) total += int64_t(s.tokens.size());
  int64_t rows = 0;
  for (int64_t u : used) rows += u > 0;
  EXPECT_LT(rows, 2 * total / seq_len + 2) << "first fit keeps all but one row more than half full";
}

TEST(Packing, InvariantsOverEpochs) {
  const int64_t seq_len = 64;
  std::vector<Sample> samples = random_samples(300, 64, 7);
  BatchIterator it(samples, {.seq_len = seq_len, .n_row = 3, .pack = true, .shuffle = true, .seed = 42});
  for (int64_t epoch = 0; epoch < 3; ++epoch) {
    SCOPED_TRACE("epoch " + std::to_string(epoch));
    check_epoch(it, samples, seq_len, epoch);
  }
  EXPECT_EQ(it.position(), (BatchPosition{3, 0}));
}

TEST(Packing, ShuffleIsSeededAndDiffersPerEpoch) {
  std::vector<Sample> samples = random_samples(50, 16, 3);
  const BatchOptions options{.seq_len = 32, .n_row = 2, .pack = true, .shuffle = true, .seed = 5};
  BatchIterator a(samples, options), b(samples, options);
  Batch x, y;
  a.next(x);
  b.next(y);
  EXPECT_TRUE(same_batch(x, y)) << "same seed, same batches";
  BatchIterator c(samples, options);
  c.restore({1, 0});
  c.next(y);
  EXPECT_FALSE(same_batch(x, y)) << "epoch 1 has its own order";
  BatchOptions other = options;
  other.seed = 6;
  BatchIterator d(samples, other);
  d.next(y);
  EXPECT_FALSE(same_batch(x, y)) << "another seed, another order";
}

TEST(Packing, RestoreRepeatsTheSameBatches) {
  std::vector<Sample> samples = random_samples(40, 24, 11);
  const BatchOptions options{.seq_len = 32, .n_row = 2, .pack = true, .shuffle = true, .seed = 9};
  BatchIterator run(samples, options);
  const int64_t per_epoch = run.batches_in_epoch(0);
  Batch b;
  for (int64_t i = 0; i < per_epoch - 1; ++i) run.next(b);  // stop one before the epoch boundary
  const BatchPosition saved = run.position();
  EXPECT_EQ(saved, (BatchPosition{0, per_epoch - 1}));
  std::vector<Batch> expected(5);
  for (Batch& e : expected) run.next(e);  // crosses into epoch 1

  BatchIterator resumed(samples, options);
  EXPECT_EQ(resumed.fingerprint(), run.fingerprint());
  resumed.restore(saved);
  for (const Batch& e : expected) {
    resumed.next(b);
    EXPECT_TRUE(same_batch(b, e));
  }
  EXPECT_EQ(resumed.position(), run.position());
}

TEST(Packing, FingerprintAndRestoreCatchADifferentRun) {
  std::vector<Sample> samples = random_samples(10, 8, 1);
  BatchIterator it(samples, {.seq_len = 16, .n_row = 1, .pack = true, .shuffle = true, .seed = 0});
  std::vector<Sample> changed = samples;
  changed[3].weights[1] += 0.5f;
  BatchIterator other(changed, {.seq_len = 16, .n_row = 1, .pack = true, .shuffle = true, .seed = 0});
  EXPECT_NE(it.fingerprint(), other.fingerprint());
  const int64_t n = it.batches_in_epoch(2);
  try {
    it.restore({2, n});
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("past the end of that epoch"), std::string::npos) << e.what();
  }
  EXPECT_THROW(it.restore({-1, 0}), Error);
}

TEST(Packing, RefusesSamplesLongerThanARow) {
  std::vector<Sample> samples = {make_sample({1, 2, 3, 4, 5}, {0, 1, 1, 1, 1})};
  samples[0].source = "data.jsonl:4";
  try {
    BatchIterator it(samples, {.seq_len = 4, .n_row = 1, .pack = true, .shuffle = true, .seed = 0});
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "data.jsonl:4: sample has 5 tokens, more than seq_len 4");
  }
  std::vector<Sample> none;
  EXPECT_THROW(BatchIterator(none, {}), Error);
}

}  // namespace
}  // namespace tunekit
