// attention_paged(): the keys and values of a sequence scattered over the blocks of a pool in a
// shuffled order, against ref::attention on the same keys and values laid out contiguously.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>

#include "ops/ops_test_util.h"
#include "tunekit/error.h"
#include "tunekit/ops/ops.h"
#include "tunekit/ops/reference.h"

using namespace tunekit;

namespace {

void check_paged(int64_t T, int64_t first_pos, int64_t n_head, int64_t n_head_kv, int64_t d_head, int64_t block_size,
                 int64_t window) {
  SCOPED_TRACE("T=" + std::to_string(T) + " first=" + std::to_string(first_pos) + " block " +
               std::to_string(block_size) + " window " + std::to_string(window));
  const int64_t n_ctx = first_pos + T, d_kv = n_head_kv * d_head;
  const int64_t n_used = (n_ctx + block_size - 1) / block_size, n_blocks = n_used + 3;  // spare blocks hold noise
  auto q = test::random_normal(size_t(T * n_head * d_head), 1);
  auto k = test::random_normal(size_t(n_ctx * d_kv), 2);
  auto v = test::random_normal(size_t(n_ctx * d_kv), 3);
  std::vector<int32_t> table(static_cast<size_t>(n_blocks));
  std::iota(table.begin(), table.end(), 0);
  std::shuffle(table.begin(), table.end(), std::mt19937(7));
  table.resize(size_t(n_used));
  auto k_pool = test::random_normal(size_t(n_blocks * block_size * d_kv), 4);
  auto v_pool = test::random_normal(size_t(n_blocks * block_size * d_kv), 5);
  for (int64_t p = 0; p < n_ctx; ++p) {
    const int64_t row = int64_t(table[size_t(p / block_size)]) * block_size + p % block_size;
    std::copy_n(k.data() + p * d_kv, d_kv, k_pool.data() + row * d_kv);
    std::copy_n(v.data() + p * d_kv, d_kv, v_pool.data() + row * d_kv);
  }
  std::vector<int32_t> pos(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t) pos[size_t(t)] = int32_t(first_pos + t);
  std::vector<float> out(q.size()), want(q.size());
  ops::attention_paged(q.data(), k_pool.data(), v_pool.data(), table.data(), block_size, out.data(), T, pos.data(),
                       n_head, n_head_kv, d_head, window);
  ops::ref::attention(q.data(), k.data(), v.data(), want.data(), T, pos.data(), n_head, n_head_kv, d_head, window);
  test::expect_close(out, want, 2e-5, 2e-5, "attention_paged");
}

}  // namespace

TEST(AttentionPaged, DecodeRowsOverShuffledBlocks) {
  check_paged(1, 99, 9, 3, 64, 16, 0);
  check_paged(1, 0, 4, 2, 16, 16, 0);
  check_paged(3, 50, 4, 4, 32, 7, 0);  // a block size that is not a power of two
  check_paged(1, 31, 8, 4, 8, 16, 0);  // the last position at the end of a block
}

TEST(AttentionPaged, PrefillChunksOverShuffledBlocks) {
  check_paged(40, 0, 9, 3, 64, 16, 0);
  check_paged(17, 23, 4, 2, 16, 8, 0);  // a chunk after cached positions
  check_paged(70, 0, 2, 1, 128, 32, 0);
}

TEST(AttentionPaged, SlidingWindow) {
  check_paged(33, 0, 4, 2, 16, 8, 5);
  check_paged(2, 70, 4, 2, 16, 16, 16);
}

TEST(AttentionPaged, RejectsAMissingTable) {
  std::vector<float> buf(64);
  int32_t pos[1] = {0};
  EXPECT_THROW(ops::attention_paged(buf.data(), buf.data(), buf.data(), nullptr, 16, buf.data(), 1, pos, 2, 2, 8), Error);
  int32_t table[1] = {0};
  EXPECT_THROW(ops::attention_paged(buf.data(), buf.data(), buf.data(), table, 0, buf.data(), 1, pos, 2, 2, 8), Error);
}
