// The one thread pool: sized to the cores (TUNEKIT_THREADS or set_num_threads overrides). The GEMM
// library runs single-threaded inside its chunks, so the two never oversubscribe the machine.
#pragma once
#include <cstdint>
#include <functional>

namespace tunekit {

int num_threads();
void set_num_threads(int n);  // n <= 0: one per core
// The threads a parallel_for called from this thread would use: num_threads(), or 1 inside a chunk
// of another parallel_for (whose nested calls run inline). Kernels size their split of work by it.
int threads_here();

// Splits [0, n) into contiguous chunks of at least grain items, claimed by whichever thread is free
// (each 1/num_threads() of what is left, so they shrink towards the end), and calls fn(begin, end)
// on each; returns when all are done. Exceptions from fn are rethrown here (the first one). Calls
// from inside fn run inline; calls from several threads at once run one at a time on the pool, the
// others inline on their caller. set_num_threads must not run concurrently with parallel_for.
void parallel_for(int64_t n, const std::function<void(int64_t begin, int64_t end)>& fn, int64_t grain = 1);

}  // namespace tunekit
