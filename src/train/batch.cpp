#include "tunekit/train/batch.h"

#include <cstddef>

#include "tunekit/error.h"

namespace tunekit {

double Batch::weight_sum() const {
  double sum = 0;
  for (int64_t i = 0; i < size(); ++i)
    if (targets[std::size_t(i)] >= 0) sum += weights[std::size_t(i)];
  return sum;
}

Batch Batch::rows(int64_t first, int64_t count) const {
  check(first >= 0 && count >= 0 && first + count <= n_row, "batch: rows [", first, ", ", first + count,
        ") are not rows of a batch of ", n_row);
  const auto begin = std::ptrdiff_t(first * seq_len), end = std::ptrdiff_t((first + count) * seq_len);
  Batch part;
  part.n_row = count;
  part.seq_len = seq_len;
  part.tokens.assign(tokens.begin() + begin, tokens.begin() + end);
  part.targets.assign(targets.begin() + begin, targets.begin() + end);
  part.weights.assign(weights.begin() + begin, weights.begin() + end);
  part.positions.assign(positions.begin() + begin, positions.begin() + end);
  part.seg_start.assign(seg_start.begin() + begin, seg_start.begin() + end);
  for (int32_t& s : part.seg_start) s -= int32_t(begin);
  return part;
}

}  // namespace tunekit
