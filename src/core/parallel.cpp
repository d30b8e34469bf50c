// The one thread pool is OpenMP's: Debian's oneDNN is built against libgomp, so our kernels and the
// GEMM library share the same threads and never oversubscribe the cores.
#include "tunekit/core/parallel.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <exception>
#include <mutex>

namespace tunekit {

namespace {

int threads_from_environment() {
  if (const char* env = std::getenv("TUNEKIT_THREADS")) {
    int n = std::atoi(env);
    if (n > 0) return n;
  }
  return std::max(1, omp_get_num_procs());
}

std::atomic<int> g_threads{0};

}  // namespace

void set_num_threads(int n) {
  if (n <= 0) n = threads_from_environment();
  g_threads.store(n);
  omp_set_num_threads(n);  // oneDNN asks OpenMP how many threads to use
}

int num_threads() {
  int n = g_threads.load(std::memory_order_relaxed);
  if (n > 0) return n;
  static std::once_flag once;
  std::call_once(once, [] {
    if (g_threads.load() == 0) set_num_threads(0);
  });
  return g_threads.load();
}

void parallel_for(int64_t n, const std::function<void(int64_t begin, int64_t end)>& fn, int64_t grain) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  int64_t n_chunks = std::min<int64_t>(num_threads(), std::max<int64_t>(1, n / grain));
  if (n_chunks <= 1 || omp_in_parallel()) {  // nested calls run on the calling thread
    fn(0, n);
    return;
  }
  std::exception_ptr first_error;
  std::mutex error_mutex;
#pragma omp parallel num_threads(int(n_chunks))
  {
    int64_t i = omp_get_thread_num(), count = omp_get_num_threads();
    try {
      fn(n * i / count, n * (i + 1) / count);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!first_error) first_error = std::current_exception();
    }
  }
  if (first_error) std::rethrow_exception(first_error);
}

}  // namespace tunekit
