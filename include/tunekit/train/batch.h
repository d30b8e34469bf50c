// One micro-batch as the model sees it: n_row rows of seq_len tokens, flattened row-major, with
// short samples packed into rows. Built by the data pipeline (train/data.h), consumed by
// Trainable::forward_backward (train/trainable.h).
#pragma once
#include <cstdint>
#include <vector>

namespace tunekit {

struct Batch {
  int64_t n_row = 0, seq_len = 0;
  std::vector<int32_t> tokens;     // [n_row * seq_len] input ids (padding: any valid id, e.g. 0)
  std::vector<int32_t> targets;    // [n_row * seq_len] next-token id, -1 where there is no target
                                   //   (padding, and the last token of each packed sample)
  std::vector<float> weights;      // [n_row * seq_len] loss weight of each target: 1 for completion
                                   //   tokens, the prompt-loss weight for prompt tokens, 0 for none
  std::vector<int32_t> positions;  // [n_row * seq_len] RoPE position: restarts at 0 for each sample
  std::vector<int32_t> seg_start;  // [n_row * seq_len] flat index of the first token of this token's
                                   //   sample: attention reaches back no further (no cross-talk)

  int64_t size() const { return n_row * seq_len; }
  double weight_sum() const;       // Σ weights over rows with a target
  // Rows [first, first + count) as a batch of their own (seg_start counted from its first token).
  Batch rows(int64_t first, int64_t count) const;
};

}  // namespace tunekit
