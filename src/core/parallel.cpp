// The one thread pool: num_threads() - 1 workers plus the calling thread. A call posts a job of
// chunks; every thread, the caller included, claims chunks with one atomic compare-and-swap until
// none is left, and the caller returns once every chunk has finished. The caller never waits for a
// worker that has not started: on a machine shared with other busy processes a preempted worker
// simply takes no chunk (an OpenMP team instead waits at its barrier for every thread, which cost
// whole scheduler slices per call there). Workers spin briefly between jobs (decode posts one every
// few microseconds), then sleep on an atomic wait.
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

constexpr int64_t kChunksPerThread = 4;  // so that a late or preempted thread's share gets picked up
constexpr int kSpinsBeforeSleep = 1 << 14;

thread_local bool t_inside_job = false;  // nested parallel_for calls run inline

// Chunk i of a parallel_for: fn(n·i/chunks, n·(i+1)/chunks).
struct Chunk {
  const std::function<void(int64_t, int64_t)>* fn;
  int64_t n, chunks;
  void run(int64_t i) const { (*fn)(n * i / chunks, n * (i + 1) / chunks); }
};

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

  // Calls chunk(i) for every i in [0, n_chunks) across the pool; returns when all are done and
  // rethrows the first exception one threw.
  void run(int64_t n_chunks, const Chunk& chunk) {
    std::unique_lock<std::mutex> lock(busy_, std::try_to_lock);
    if (!lock.owns_lock()) {  // another thread's job is running: do this one here
      InsideJob inside;
      for (int64_t i = 0; i < n_chunks; ++i) chunk.run(i);
      return;
    }
    error_ = nullptr;
    job_.store(&chunk, std::memory_order_relaxed);
    job_chunks_.store(n_chunks, std::memory_order_relaxed);
    unfinished_.store(n_chunks, std::memory_order_relaxed);
    const uint32_t generation = generation_.load(std::memory_order_relaxed) + 1;
    ticket_.store(uint64_t(generation) << 32, std::memory_order_release);
    generation_.store(generation, std::memory_order_release);
    generation_.notify_all();
    {
      InsideJob inside;
      claim_chunks(generation);
    }
    for (int spins = 0; unfinished_.load(std::memory_order_acquire) > 0; ++spins) {
      if (spins < kSpinsBeforeSleep)
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
      const int64_t index = int64_t(ticket & 0xFFFFFFFFu);
      if (index >= job_chunks_.load(std::memory_order_relaxed)) return;
      // Succeeds only while the ticket still belongs to this job, so the job is alive until the
      // claimed chunk is counted finished below.
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
  std::atomic<int64_t> job_chunks_{0};
  std::atomic<bool> stop_{false};
  std::mutex busy_;  // one job at a time
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

void parallel_for(int64_t n, const std::function<void(int64_t begin, int64_t end)>& fn, int64_t grain) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  Pool& p = pool();
  const int64_t n_chunks =
      p.size() == 1 ? 1 : std::min<int64_t>(p.size() * kChunksPerThread, std::max<int64_t>(1, n / grain));
  if (n_chunks <= 1) {
    fn(0, n);
    return;
  }
  if (t_inside_job) {  // a kernel inside another kernel's chunk: this thread's share stays here
    InsideJob inside;
    fn(0, n);
    return;
  }
  p.run(n_chunks, Chunk{&fn, n, n_chunks});
}

}  // namespace tunekit
