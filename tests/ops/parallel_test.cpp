#include "tunekit/core/parallel.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
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


TEST(Parallel, ClaimsNeverCrossJobs) {
  // Jobs of alternating sizes (2 to 6 chunks, then 64) posted back to back on 8 threads, more than
  // the cores, so that threads are preempted between reading a job's ticket and claiming a chunk. A
  // thread late from one job must never claim a chunk of the next: every item runs exactly once, and
  // no chunk is still running when parallel_for returns. The race needs a preemption inside a
  // window of a few instructions, so this catches it in some runs only: before the fix (a job's
  // size read without its generation) 1M jobs here found 4 to 270 items run twice, sometimes one
  // missing and parallel_for returning early, in about half the runs while the machine's scheduler
  // preempted often, in none while it did not. ThreadSanitizer builds see it more often.
  set_num_threads(8);
  std::vector<int> hits(64);
  std::atomic<int> in_flight{0};
  int64_t run_twice = 0, missing = 0, returned_early = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (int round = 0; round < 1'000'000 && (round % 1024 != 0 || std::chrono::steady_clock::now() < deadline); ++round) {
    const int64_t n = round % 2 ? 64 : 2 + round % 5;
    std::fill(hits.begin(), hits.begin() + n, 0);
    parallel_for(n, [&](int64_t begin, int64_t end) {
      in_flight++;
      for (int64_t i = begin; i < end; ++i) ++hits[size_t(i)];
      in_flight--;
    });
    returned_early += in_flight.load() != 0;
    for (int64_t i = 0; i < n; ++i) {
      run_twice += hits[size_t(i)] > 1;
      missing += hits[size_t(i)] == 0;
    }
  }
  set_num_threads(0);
  EXPECT_EQ(run_twice, 0);
  EXPECT_EQ(missing, 0);
  EXPECT_EQ(returned_early, 0);
}
