// The one thread pool: num_threads() - 1 workers plus the calling thread. A call posts a job of
// chunks; every thread, the caller included, claims chunks with one atomic compare-and-swap until
// none is left, and the caller returns once every chunk has finished. The caller never waits for a
// worker that has not started: on a machine shared with other busy processes a preempted worker
// simply takes no chunk (an OpenMP team instead waits at its barrier for every thread, which cost
// whole scheduler slices per call there). Workers spin briefly between jobs (decode posts one every
// few microseconds), then sleep on an atomic wait.
//
// Chunks are guided: each is 1/threads of what is left (at least grain items), so the first ones
// are long contiguous runs (one per thread when all start together; a streaming kernel restarts its
// memory stream at every chunk) and the last ones short, so threads that start late or run slower
// still end together (with equal chunks the caller waited for up to a whole chunk at the end of
// every section: ~9% of a two-thread decode step).
//
// oneDNN (built with OpenMP) is kept single-threaded by the ops layer (omp_set_num_threads(1) on each
// thread that calls it), so this pool is the only source of parallelism.
#include "tunekit/core/parallel.h"

#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace tunekit {

namespace {

constexpr int kSpinsBeforeSleep = 1 << 14;  // ~0.6 ms of pauses on these CPUs
constexpr int kSpinsBeforeYield = 1 << 10;  // the caller, waiting for chunks that others run

thread_local bool t_inside_job = false;  // nested parallel_for calls run inline

// Chunk i of a parallel_for: fn(bounds[i], bounds[i + 1]).
struct Chunk {
  const std::function<void(int64_t, int64_t)>* fn;
  const int64_t* bounds;
  void run(int64_t i) const { (*fn)(bounds[i], bounds[i + 1]); }
};

// bounds = 0, ..., n: guided chunks of [0, n) for `threads` threads. Each is 1/threads of what is
// left and at least grain items; a remainder shorter than grain joins the chunk before it.
void guided_bounds(int64_t n, int64_t grain, int64_t threads, std::vector<int64_t>& bounds) {
  bounds.assign(1, 0);
  for (int64_t begin = 0; begin < n;) {
    int64_t size = std::max(grain, (n - begin + threads - 1) / threads);
    if (n - begin - size < grain) size = n - begin;
    begin += size;
    bounds.push_back(begin);
  }
}

// Marks the current thread as running chunks of a job for its lifetime.
class InsideJob {
 public:
  InsideJob() : was_inside_(t_inside_job) { t_inside_job = true; }
  ~InsideJob() { t_inside_job = was_inside_; }
  InsideJob(const InsideJob&) = delete;
  InsideJob& operator=(const InsideJob&) = delete;

 private:
  bool was_inside_;
};

class Pool {
 public:
  explicit Pool(int threads) {
    for (int i = 1; i < threads; ++i) workers_.emplace_back([this] { work(); });
  }
  ~Pool() {
    stop_.store(true);
    generation_.fetch_add(1, std::memory_order_release);
    generation_.notify_all();
    for (auto& w : workers_) w.join();
  }
  int size() const { return int(workers_.size()) + 1; }

  // Calls fn on the guided chunks of [0, n) across the pool (n >= 2 · grain); returns when all are
  // done and rethrows the first exception one threw.
  void run(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
    std::unique_lock<std::mutex> lock(busy_, std::try_to_lock);
    if (!lock.owns_lock()) {  // another thread's job is running: do this one here
      InsideJob inside;
      fn(0, n);
      return;
    }
    guided_bounds(n, grain, size(), bounds_);
    const int64_t n_chunks = int64_t(bounds_.size()) - 1;
    const Chunk chunk{&fn, bounds_.data()};
    error_ = nullptr;
    const uint32_t generation = generation_.load(std::memory_order_relaxed) + 1;
    job_.store(&chunk, std::memory_order_relaxed);
    job_size_.store(uint64_t(generation) << 32 | uint64_t(n_chunks), std::memory_order_release);
    unfinished_.store(n_chunks, std::memory_order_relaxed);
    ticket_.store(uint64_t(generation) << 32, std::memory_order_release);
    generation_.store(generation, std::memory_order_release);
    generation_.notify_all();
    {
      InsideJob inside;
      claim_chunks(generation);
    }
    for (int spins = 0; unfinished_.load(std::memory_order_acquire) > 0; ++spins) {
      if (spins < kSpinsBeforeYield)
        _mm_pause();
      else
        std::this_thread::yield();  // the last chunk's thread may be waiting for this core
    }
    if (error_) std::rethrow_exception(error_);
  }

 private:
  // Runs chunks of job `generation` until none is left (or a newer job was posted).
  void claim_chunks(uint32_t generation) {
    for (;;) {
      uint64_t ticket = ticket_.load(std::memory_order_acquire);
      if (uint32_t(ticket >> 32) != generation) return;
      // The size must be this job's own: a thread that finds every chunk of job G claimed while
      // job G + 1 is being posted (its size stored, its ticket not yet) would otherwise compare
      // G's last ticket with G + 1's larger size, claim a chunk that does not exist, run G + 1's
      // chunk of that index a second time and count it finished, so that G + 1 returned with a
      // chunk still running (tests/ops/parallel_test.cpp, ClaimsNeverCrossJobs).
      const uint64_t size = job_size_.load(std::memory_order_acquire);
      if (uint32_t(size >> 32) != generation) return;
      const int64_t index = int64_t(ticket & 0xFFFFFFFFu);
      if (index >= int64_t(size & 0xFFFFFFFFu)) return;
      // Succeeds only while the ticket still belongs to this job and this chunk is unclaimed, so
      // the job is alive until the claimed chunk is counted finished below.
      if (!ticket_.compare_exchange_weak(ticket, ticket + 1, std::memory_order_acq_rel)) continue;
      try {
        job_.load(std::memory_order_relaxed)->run(index);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex_);
        if (!error_) error_ = std::current_exception();
      }
      unfinished_.fetch_sub(1, std::memory_order_acq_rel);
    }
  }

  void work() {
    t_inside_job = true;
    uint32_t seen = generation_.load(std::memory_order_acquire);
    while (!stop_.load(std::memory_order_relaxed)) {
      uint32_t generation = seen;
      for (int spins = 0; spins < kSpinsBeforeSleep && generation == seen; ++spins) {
        _mm_pause();
        generation = generation_.load(std::memory_order_acquire);
      }
      if (generation == seen) {
        generation_.wait(seen, std::memory_order_acquire);
        continue;
      }
      seen = generation;
      claim_chunks(generation);
    }
  }

  std::vector<std::thread> workers_;
  std::atomic<uint64_t> ticket_{0};      // the current job's generation << 32 | next chunk to claim
  std::atomic<uint32_t> generation_{0};  // bumped (and notified) when a job is posted
  std::atomic<int64_t> unfinished_{0};   // chunks of the current job not finished yet
  std::atomic<const Chunk*> job_{nullptr};
  std::atomic<uint64_t> job_size_{0};    // the current job's generation << 32 | its number of chunks
  std::atomic<bool> stop_{false};
  std::vector<int64_t> bounds_;  // the current job's chunk boundaries
  std::mutex busy_;              // one job at a time (it owns bounds_)
  std::mutex error_mutex_;
  std::exception_ptr error_;
};

int threads_from_environment() {
  if (const char* env = std::getenv("TUNEKIT_THREADS")) {
    int n = std::atoi(env);
    if (n > 0) return n;
  }
  return std::max(1, int(std::thread::hardware_concurrency()));
}

std::mutex g_pool_mutex;          // guards replacing the pool
std::unique_ptr<Pool> g_pool;     // never destroyed while a job runs: set_num_threads must not race parallel_for

Pool& pool() {
  static std::once_flag once;
  std::call_once(once, [] {
    std::lock_guard<std::mutex> lock(g_pool_mutex);
    if (!g_pool) g_pool = std::make_unique<Pool>(threads_from_environment());
  });
  return *g_pool;
}

}  // namespace

void set_num_threads(int n) {
  if (n <= 0) n = threads_from_environment();
  pool();  // first use creates it
  std::lock_guard<std::mutex> lock(g_pool_mutex);
  if (g_pool->size() == n) return;
  g_pool.reset();
  g_pool = std::make_unique<Pool>(n);
}

int num_threads() { return pool().size(); }

int threads_here() { return t_inside_job ? 1 : num_threads(); }

void parallel_for(int64_t n, const std::function<void(int64_t begin, int64_t end)>& fn, int64_t grain) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  Pool& p = pool();
  if (p.size() == 1 || n / 2 < grain) {  // one chunk
    fn(0, n);
    return;
  }
  if (t_inside_job) {  // a kernel inside another kernel's chunk: this thread's share stays here
    InsideJob inside;
    fn(0, n);
    return;
  }
  p.run(n, grain, fn);
}

}  // namespace tunekit
