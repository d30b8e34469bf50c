// Bidirectional (encoder) attention over packed sequences. A task is one sequence, one head and a
// block of its query rows:
//   scores S[rows, n] = (q / sqrt(d)) · Kᵀ over the n keys of the sequence,
//   each row's softmax,
//   out[rows, d] = S · V,
// both products as oneDNN sgemm calls on q, k, v in place (strided by n_head · d_head, no copies).
// Packing the sequences back to back replaces padding + attention mask: no row ever sees another
// sequence's keys, and no work is spent on padding.
#include <algorithm>
#include <cmath>
#include <vector>

#include "ops/linear_kernels.h"
#include "tunekit/core/parallel.h"
#include "tunekit/error.h"
#include "tunekit/ops/encoder.h"
#include "tunekit/ops/ops.h"

namespace tunekit::ops {

namespace {
constexpr int64_t kBlockRows = 64;  // query rows per task: S stays in L2 for sequences up to 2048
}

void attention_bidirectional(const float* q, const float* k, const float* v, float* out, const int64_t* seq_start,
                             int64_t n_seq, int64_t n_head, int64_t d_head) {
  check(n_seq >= 0 && n_head > 0 && d_head > 0, "attention_bidirectional: bad shape n_seq ", n_seq, ", n_head ", n_head,
        ", d_head ", d_head);
  struct Task {
    int64_t seq, head, row0, row1;  // rows relative to the sequence's first
  };
  std::vector<Task> tasks;
  for (int64_t s = 0; s < n_seq; ++s) {
    const int64_t n = seq_start[s + 1] - seq_start[s];
    check(n >= 0, "attention_bidirectional: sequence ", s, " ends before it starts (", seq_start[s], " > ",
          seq_start[s + 1], ")");
    for (int64_t h = 0; h < n_head; ++h)
      for (int64_t r = 0; r < n; r += kBlockRows) tasks.push_back({s, h, r, std::min(n, r + kBlockRows)});
  }
  const int64_t stride = n_head * d_head;
  const float scale = 1.0f / std::sqrt(float(d_head));
  parallel_for(int64_t(tasks.size()), [&](int64_t i0, int64_t i1) {
    thread_local std::vector<float> scores;  // [rows, n]
    for (int64_t i = i0; i < i1; ++i) {
      const Task& task = tasks[size_t(i)];
      const int64_t first = seq_start[task.seq], n = seq_start[task.seq + 1] - first, rows = task.row1 - task.row0;
      const int64_t column = task.head * d_head;
      const float* q_rows = q + (first + task.row0) * stride + column;  // [rows, d_head], stride `stride`
      const float* keys = k + first * stride + column;                  // [n, d_head]
      const float* values = v + first * stride + column;                // [n, d_head]
      scores.resize(size_t(rows * n));
      sgemm('N', 'T', rows, n, d_head, scale, q_rows, stride, keys, stride, 0.0f, scores.data(), n);
      for (int64_t r = 0; r < rows; ++r) softmax(scores.data() + r * n, n);
      sgemm('N', 'N', rows, d_head, n, 1.0f, scores.data(), n, values, stride, 0.0f,
            out + (first + task.row0) * stride + column, stride);
    }
  });
}

}  // namespace tunekit::ops
