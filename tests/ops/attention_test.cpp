// attention() with grouped-query heads, causal positions and sliding windows against ref::attention.
#include <gtest/gtest.h>

#include "ops/ops_test_util.h"
#include "tunekit/error.h"
#include "tunekit/ops/ops.h"
#include "tunekit/ops/reference.h"

using namespace tunekit;

namespace {

void check_attention(int64_t T, int64_t first_pos, int64_t n_head, int64_t n_head_kv, int64_t d_head,
                     int64_t window) {
  SCOPED_TRACE("T=" + std::to_string(T) + " first=" + std::to_string(first_pos) + " heads " +
               std::to_string(n_head) + "/" + std::to_string(n_head_kv) + " d=" + std::to_string(d_head) +
               " window=" + std::to_string(window));
  const int64_t n_ctx = first_pos + T;
  auto q = test::random_normal(size_t(T * n_head * d_head), 1);
  auto k = test::random_normal(size_t(n_ctx * n_head_kv * d_head), 2);
  auto v = test::random_normal(size_t(n_ctx * n_head_kv * d_head), 3);
  std::vector<int32_t> pos(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t) pos[size_t(t)] = int32_t(first_pos + t);
  std::vector<float> out(q.size()), want(q.size());
  ops::attention(q.data(), k.data(), v.data(), out.data(), T, pos.data(), n_head, n_head_kv, d_head, window);
  ops::ref::attention(q.data(), k.data(), v.data(), want.data(), T, pos.data(), n_head, n_head_kv, d_head, window);
  test::expect_close(out, want, 2e-5, 2e-5, "attention");
}

}  // namespace

TEST(Attention, PrefillCausalGqa) {
  check_attention(1, 0, 1, 1, 8, 0);
  check_attention(17, 0, 4, 2, 16, 0);
  check_attention(40, 0, 9, 3, 64, 0);
  check_attention(3, 0, 6, 1, 24, 0);
  check_attention(20, 5, 4, 2, 80, 0);   // d_head beyond one 64-lane chunk, with a tail
  check_attention(70, 0, 2, 1, 128, 0);  // several tiles and key steps
}

TEST(Attention, DecodeAgainstACache) {
  check_attention(1, 99, 9, 3, 64, 0);
  check_attention(3, 50, 4, 4, 32, 0);
  check_attention(2, 40, 4, 2, 24, 0);  // d_head with a tail, 16-key batches
}

TEST(Attention, SlidingWindow) {
  check_attention(33, 0, 4, 2, 16, 5);
  check_attention(2, 70, 4, 2, 16, 16);
  check_attention(20, 10, 2, 1, 8, 1);
}

TEST(Attention, RejectsBadHeads) {
  std::vector<float> buf(64);
  int32_t pos[1] = {0};
  EXPECT_THROW(ops::attention(buf.data(), buf.data(), buf.data(), buf.data(), 1, pos, 3, 2, 8), Error);
  pos[0] = -1;
  EXPECT_THROW(ops::attention(buf.data(), buf.data(), buf.data(), buf.data(), 1, pos, 2, 2, 8), Error);
}
