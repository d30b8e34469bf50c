// The one thread pool: sized to the cores (TUNEKIT_THREADS or set_num_threads overrides), shared
// with the GEMM library so the two never oversubscribe the machine.
#pragma once
#include <cstdint>
#include <functional>

namespace tunekit {

int num_threads();
void set_num_threads(int n);  // n <= 0: one per core

// Splits [0, n) into contiguous chunks, one per thread (at least grain items each), and calls
// fn(begin, end) on each; returns when all are done. Exceptions from fn are rethrown here.
void parallel_for(int64_t n, const std::function<void(int64_t begin, int64_t end)>& fn, int64_t grain = 1);

}  // namespace tunekit
