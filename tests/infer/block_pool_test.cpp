// BlockPool: reference counts, free and cached blocks, prefix sharing by hash and eviction order.
#include <gtest/gtest.h>

#include "tunekit/error.h"
#include "tunekit/infer/block_pool.h"

using namespace tunekit;

TEST(BlockPool, AllocatesEveryBlockOnceThenRefuses) {
  BlockPool pool(3);
  EXPECT_EQ(pool.allocate(), 0);  // lowest ids first: consecutive blocks for one sequence
  EXPECT_EQ(pool.allocate(), 1);
  EXPECT_EQ(pool.allocate(), 2);
  EXPECT_EQ(pool.allocate(), std::nullopt);
  EXPECT_EQ(pool.used(), 3);
  pool.release(1);
  EXPECT_EQ(pool.available(), 1);
  EXPECT_EQ(pool.allocate(), 1);
}

TEST(BlockPool, SharedBlocksCountReferences) {
  BlockPool pool(2);
  const int32_t b = *pool.allocate();
  const uint64_t h = prefix_block_hash(0, std::vector<int32_t>{1, 2, 3, 4});
  pool.publish(b, h);
  EXPECT_EQ(pool.find_shared(h), b);  // a second user
  pool.release(b);
  EXPECT_EQ(pool.used(), 1);          // still held by the second
  pool.release(b);
  EXPECT_EQ(pool.used(), 0);
  EXPECT_EQ(pool.available(), 2);     // cached, and allocatable
  EXPECT_EQ(pool.find_shared(h), b);  // a later request with the same prefix reuses it
  EXPECT_EQ(pool.used(), 1);
  EXPECT_THROW(pool.release(5), Error);
}

TEST(BlockPool, EvictsTheLeastRecentlyReleasedCachedBlock) {
  BlockPool pool(2);
  const int32_t a = *pool.allocate(), b = *pool.allocate();
  const uint64_t ha = prefix_block_hash(0, std::vector<int32_t>{1}), hb = prefix_block_hash(0, std::vector<int32_t>{2});
  pool.publish(a, ha);
  pool.publish(b, hb);
  pool.release(b);
  pool.release(a);                      // b was released first: it goes first
  EXPECT_EQ(pool.allocate(), b);
  EXPECT_EQ(pool.find_shared(hb), std::nullopt);  // its prefix is forgotten
  EXPECT_EQ(pool.find_shared(ha), a);
  EXPECT_EQ(pool.allocate(), std::nullopt);
}

TEST(BlockPool, ASecondBlockWithTheSameHashStaysPrivate) {
  BlockPool pool(2);
  const int32_t a = *pool.allocate(), b = *pool.allocate();
  const uint64_t h = prefix_block_hash(7, std::vector<int32_t>{5, 6});
  pool.publish(a, h);
  pool.publish(b, h);
  pool.release(b);
  EXPECT_EQ(pool.available(), 1);
  EXPECT_EQ(pool.allocate(), b);  // free, not cached
}

TEST(BlockPool, PrefixHashesDependOnParentOrderAndContent) {
  const std::vector<int32_t> x = {1, 2, 3}, y = {3, 2, 1};
  EXPECT_NE(prefix_block_hash(0, x), prefix_block_hash(0, y));
  EXPECT_NE(prefix_block_hash(0, x), prefix_block_hash(1, x));
  EXPECT_EQ(prefix_block_hash(9, x), prefix_block_hash(9, x));
  EXPECT_NE(prefix_block_hash(0, x), 0u);
}
