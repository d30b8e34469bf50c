#include "tunekit/core/parallel.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <stdexcept>
#include <vector>

using namespace tunekit;

TEST(Parallel, CoversTheRangeExactlyOnce) {
  for (int64_t n : {1, 2, 3, 17, 1000}) {
    std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
    parallel_for(n, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) hits[size_t(i)]++;
    });
    for (auto& h : hits) EXPECT_EQ(h.load(), 1) << "n = " << n;
  }
}

TEST(Parallel, RespectsTheGrain) {
  std::atomic<int> calls{0};
  parallel_for(10, [&](int64_t begin, int64_t end) {
    EXPECT_GE(end - begin, 6);
    calls++;
  }, 6);
  EXPECT_EQ(calls.load(), 1);
}

TEST(Parallel, RethrowsAnExceptionFromAWorker) {
  EXPECT_THROW(parallel_for(100, [](int64_t begin, int64_t) {
    if (begin > 0) throw std::runtime_error("worker failed");
  }), std::runtime_error);
  EXPECT_THROW(parallel_for(100, [](int64_t, int64_t) { throw std::logic_error("all fail"); }), std::logic_error);
}

TEST(Parallel, NestedCallsRunInline) {
  std::atomic<int64_t> total{0};
  parallel_for(4, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      parallel_for(10, [&](int64_t b, int64_t e) { total += e - b; });
  });
  EXPECT_EQ(total.load(), 40);
}

TEST(Parallel, SetNumThreads) {
  int before = num_threads();
  set_num_threads(1);
  EXPECT_EQ(num_threads(), 1);
  int chunks = 0;
  parallel_for(100, [&](int64_t, int64_t) { ++chunks; });
  EXPECT_EQ(chunks, 1);
  set_num_threads(before);
  EXPECT_EQ(num_threads(), before);
}

TEST(Parallel, CallersOnSeveralThreadsAllFinish) {
  // Four threads post jobs at once: one runs on the pool, the others inline; all sums are right.
  std::vector<std::thread> callers;
  std::vector<int64_t> sums(4, 0);
  for (int c = 0; c < 4; ++c)
    callers.emplace_back([&, c] {
      for (int round = 0; round < 200; ++round) {
        std::atomic<int64_t> sum{0};
        parallel_for(1000, [&](int64_t begin, int64_t end) {
          for (int64_t i = begin; i < end; ++i) sum += i;
        });
        sums[size_t(c)] += sum.load();
      }
    });
  for (auto& t : callers) t.join();
  for (int64_t s : sums) EXPECT_EQ(s, 200 * (999 * 1000 / 2));
}

TEST(Parallel, ManySmallJobsInARow) {
  // Decode posts hundreds of tiny jobs per token; none may be lost or run twice.
  std::vector<int> hits(64, 0);
  for (int round = 0; round < 5000; ++round)
    parallel_for(64, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) ++hits[size_t(i)];
    });
  for (int h : hits) EXPECT_EQ(h, 5000);
}

