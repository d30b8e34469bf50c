// BatchIterator: per-epoch seeded shuffle, first-fit packing of samples into rows of seq_len tokens,
// and micro-batches of n_row rows that can be resumed from (epoch, index).
#include <algorithm>
#include <bit>
#include <random>

#include "tunekit/error.h"
#include "tunekit/train/data.h"

namespace tunekit {

namespace {

// First fit in O(log n) per sample: a max-tree over the free space of n_max rows (all seq_len at
// first); the leftmost row with room for `len` is found by descending towards the left.
class FirstFit {
 public:
  FirstFit(int64_t n_max, int64_t seq_len) : leaves_(int64_t(std::bit_ceil(uint64_t(std::max<int64_t>(n_max, 1))))) {
    tree_.assign(size_t(2 * leaves_), 0);
    for (int64_t i = 0; i < n_max; ++i) tree_[size_t(leaves_ + i)] = seq_len;
    for (int64_t i = leaves_ - 1; i >= 1; --i) tree_[size_t(i)] = std::max(tree_[size_t(2 * i)], tree_[size_t(2 * i + 1)]);
  }

  // Row index the sample goes to (its space is taken).
  int64_t place(int64_t len) {
    int64_t node = 1;
    while (node < leaves_) node = tree_[size_t(2 * node)] >= len ? 2 * node : 2 * node + 1;
    tree_[size_t(node)] -= len;
    for (int64_t up = node / 2; up >= 1; up /= 2) tree_[size_t(up)] = std::max(tree_[size_t(2 * up)], tree_[size_t(2 * up + 1)]);
    return node - leaves_;
  }

 private:
  int64_t leaves_;
  std::vector<int64_t> tree_;  // [2 * leaves_] heap order: node i has children 2i, 2i+1
};

uint64_t epoch_seed(uint64_t seed, int64_t epoch) {  // splitmix64 of (seed, epoch)
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * uint64_t(epoch + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace

BatchIterator::BatchIterator(const std::vector<Sample>& samples, const BatchOptions& options)
    : samples_(samples), options_(options) {
  check(!samples.empty(), "no samples to make batches of");
  check(options.seq_len >= 2, "seq_len must be at least 2, got ", options.seq_len);
  check(options.n_row >= 1, "n_row must be at least 1, got ", options.n_row);
  for (const Sample& s : samples) {
    check(int64_t(s.tokens.size()) <= options.seq_len, s.source, ": sample has ", s.tokens.size(),
          " tokens, more than seq_len ", options.seq_len);
    check(!s.tokens.empty() && s.weights.size() == s.tokens.size(), s.source, ": sample has ", s.tokens.size(),
          " tokens and ", s.weights.size(), " weights");
  }
}

void BatchIterator::plan_epoch(int64_t epoch) {
  if (planned_epoch_ == epoch) return;
  const int64_t n = int64_t(samples_.size());
  std::vector<int64_t> order(samples_.size());
  for (int64_t i = 0; i < n; ++i) order[size_t(i)] = i;
  if (options_.shuffle) {
    std::mt19937_64 rng(epoch_seed(options_.seed, epoch));
    for (int64_t i = n - 1; i > 0; --i) std::swap(order[size_t(i)], order[size_t(rng() % uint64_t(i + 1))]);
  }
  // Row of each sample, in order (one sample per row without packing).
  std::vector<int64_t> row_of(samples_.size());
  int64_t n_rows = n;
  if (options_.pack) {
    FirstFit fit(n, options_.seq_len);
    n_rows = 0;
    for (int64_t i = 0; i < n; ++i) {
      row_of[size_t(i)] = fit.place(int64_t(samples_[size_t(order[size_t(i)])].tokens.size()));
      n_rows = std::max(n_rows, row_of[size_t(i)] + 1);
    }
  } else {
    for (int64_t i = 0; i < n; ++i) row_of[size_t(i)] = i;
  }
  // Counting sort by row, keeping placement order within a row.
  row_begin_.assign(size_t(n_rows + 1), 0);
  for (int64_t r : row_of) ++row_begin_[size_t(r + 1)];
  for (int64_t r = 0; r < n_rows; ++r) row_begin_[size_t(r + 1)] += row_begin_[size_t(r)];
  row_samples_.assign(samples_.size(), 0);
  std::vector<int64_t> fill(row_begin_.begin(), row_begin_.end() - 1);
  for (int64_t i = 0; i < n; ++i) row_samples_[size_t(fill[size_t(row_of[size_t(i)])]++)] = order[size_t(i)];
  planned_epoch_ = epoch;
}

int64_t BatchIterator::batches_in_epoch(int64_t epoch) {
  plan_epoch(epoch);
  const int64_t n_rows = int64_t(row_begin_.size()) - 1;
  return (n_rows + options_.n_row - 1) / options_.n_row;
}

void BatchIterator::restore(const BatchPosition& position) {
  check(position.epoch >= 0 && position.index >= 0, "batch position (epoch ", position.epoch, ", index ",
        position.index, ") is negative");
  const int64_t n = batches_in_epoch(position.epoch);
  check(position.index < n, "batch position (epoch ", position.epoch, ", index ", position.index,
        ") is past the end of that epoch (", n, " micro-batches): the samples or batch options differ from the run "
        "that saved it");
  pos_ = position;
}

void BatchIterator::next(Batch& batch) {
  const int64_t n_batches = batches_in_epoch(pos_.epoch);
  const int64_t seq_len = options_.seq_len, n_rows = int64_t(row_begin_.size()) - 1;
  batch.n_row = options_.n_row;
  batch.seq_len = seq_len;
  const size_t size = size_t(batch.size());
  batch.tokens.assign(size, 0);
  batch.targets.assign(size, -1);
  batch.weights.assign(size, 0.0f);
  batch.positions.assign(size, 0);
  batch.seg_start.resize(size);
  for (size_t j = 0; j < size; ++j) batch.seg_start[j] = int32_t(j);  // padding attends to itself

  for (int64_t r = 0; r < options_.n_row; ++r) {
    const int64_t row = pos_.index * options_.n_row + r;
    if (row >= n_rows) break;  // the epoch's last micro-batch: the remaining rows stay padding
    int64_t j = r * seq_len;  // flat index of the next free token
    for (int64_t k = row_begin_[size_t(row)]; k < row_begin_[size_t(row + 1)]; ++k) {
      const Sample& s = samples_[size_t(row_samples_[size_t(k)])];
      const int64_t n = int64_t(s.tokens.size()), start = j;
      for (int64_t i = 0; i < n; ++i, ++j) {
        batch.tokens[size_t(j)] = s.tokens[size_t(i)];
        batch.positions[size_t(j)] = int32_t(i);
        batch.seg_start[size_t(j)] = int32_t(start);
        if (i + 1 < n) {  // weight of predicting token i+1 from tokens <= i
          batch.targets[size_t(j)] = s.tokens[size_t(i + 1)];
          batch.weights[size_t(j)] = s.weights[size_t(i + 1)];
        }
      }
    }
  }
  if (++pos_.index == n_batches) pos_ = {pos_.epoch + 1, 0};
}

uint64_t BatchIterator::fingerprint() const {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a over the options and every sample's tokens and weights
  auto mix = [&h](const void* data, size_t bytes) {
    for (size_t i = 0; i < bytes; ++i) h = (h ^ static_cast<const unsigned char*>(data)[i]) * 0x100000001b3ull;
  };
  const int64_t header[] = {options_.seq_len, options_.n_row, options_.pack, options_.shuffle,
                            int64_t(options_.seed), int64_t(samples_.size())};
  mix(header, sizeof header);
  for (const Sample& s : samples_) {
    const uint64_t n = s.tokens.size();
    mix(&n, sizeof n);
    mix(s.tokens.data(), n * sizeof(int32_t));
    mix(s.weights.data(), n * sizeof(float));
  }
  return h;
}

}  // namespace tunekit
