// BatchEngine: one worker thread drives a BatchScheduler: it takes submitted requests, applies
// cancellations and deadlines, runs a step, and hands each ended request's result to its future.
#include "tunekit/server/batch_engine.h"

#include <map>

#include "tunekit/error.h"
#include "tunekit/infer/scheduler.h"

namespace tunekit::server {

namespace {

SchedulerOptions scheduler_options(const ModelConfig& c, const BatchEngineOptions& o) {
  check(o.kv_block_size > 0, "KV block size must be positive, got ", o.kv_block_size);
  const int64_t blocks = int64_t(o.kv_memory_bytes / KvBlocks::block_bytes(c, o.kv_block_size));
  check(blocks > 0, "KV memory of ", o.kv_memory_bytes, " bytes holds no block of ", o.kv_block_size,
        " positions (one takes ", KvBlocks::block_bytes(c, o.kv_block_size), " bytes for this model)");
  return {o.max_batch_tokens, o.max_running, o.kv_block_size, blocks, o.prefix_sharing};
}

}  // namespace

struct BatchEngine::Impl {
  struct Pending {
    EngineRequest request;
    std::promise<GenerateResult> result;
  };

  BatchScheduler scheduler;
  mutable std::mutex mutex;
  std::condition_variable wake;
  std::deque<std::pair<uint64_t, Pending>> submitted;  // guarded by mutex
  std::map<uint64_t, Pending> active;                  // the worker's own
  uint64_t next_id = 1;
  bool stopping = false;
  EngineStats stats;  // guarded by mutex
  std::thread worker;

  Impl(const Model& model, const Tokenizer& tokenizer, const BatchEngineOptions& options)
      : scheduler(model, tokenizer, scheduler_options(model.config, options)) {
    stats.kv_blocks_total = scheduler.pool().n_blocks();
    stats.kv_block_size = scheduler.block_size();
    worker = std::thread([this] { work(); });
  }

  // Moves submitted requests into the scheduler; false when there is nothing to do and stopping.
  bool take_submitted() {
    std::unique_lock lock(mutex);
    wake.wait(lock, [this] { return stopping || !submitted.empty() || !scheduler.idle(); });
    if (stopping && submitted.empty() && scheduler.idle()) return false;
    while (!submitted.empty()) {
      auto [id, pending] = std::move(submitted.front());
      submitted.pop_front();
      GenerateOptions options = pending.request.options;
      const auto cancelled = pending.request.cancelled;
      options.on_text = [cancelled, on_text = pending.request.options.on_text](const std::string& text) {
        if (cancelled && cancelled->load()) return false;
        return !on_text || on_text(text);
      };
      try {
        scheduler.add(id, pending.request.prompt, options);
        active.emplace(id, std::move(pending));
      } catch (...) {
        pending.result.set_exception(std::current_exception());
        ++stats.requests_finished;
      }
    }
    return true;
  }

  void apply_cancellations() {
    const auto now = std::chrono::steady_clock::now();
    for (auto& [id, p] : active) {
      if (p.request.cancelled && p.request.cancelled->load())
        scheduler.cancel(id, "cancelled");
      else if (p.request.deadline && now > *p.request.deadline)
        scheduler.cancel(id, "timeout");
    }
  }

  void work() {
    while (take_submitted()) {
      apply_cancellations();
      std::vector<std::pair<uint64_t, GenerateResult>> ended;
      std::vector<uint64_t> dropped;
      std::exception_ptr error;
      try {
        ended = scheduler.step();
      } catch (...) {  // a step that throws fails every request it held, not the server
        error = std::current_exception();
        dropped = scheduler.drop_all();
      }
      publish_stats(int64_t(ended.size() + dropped.size()));  // before the results: a caller that got one sees the step's stats
      for (auto& [id, result] : ended) {
        active.at(id).result.set_value(std::move(result));
        active.erase(id);
      }
      for (uint64_t id : dropped) {
        active.at(id).result.set_exception(error);
        active.erase(id);
      }
    }
  }

  void publish_stats(int64_t n_ended) {
    std::lock_guard lock(mutex);
    const SchedulerCounters& c = scheduler.counters();
    stats.running = scheduler.running();
    stats.waiting = scheduler.waiting() + int64_t(submitted.size());
    stats.kv_blocks_used = scheduler.pool().used();
    stats.requests_finished += n_ended;
    stats.prompt_tokens = c.prompt_tokens;
    stats.prefix_cached_tokens = c.prefix_cached_tokens;
    stats.generated_tokens = c.generated_tokens;
    stats.preemptions = c.preemptions;
    stats.steps = c.steps;
  }
};

BatchEngine::BatchEngine(const Model& model, const Tokenizer& tokenizer, BatchEngineOptions options)
    : impl_(std::make_unique<Impl>(model, tokenizer, options)) {}

BatchEngine::~BatchEngine() { shutdown(); }

std::future<GenerateResult> BatchEngine::submit(EngineRequest request) {
  std::lock_guard lock(impl_->mutex);
  check(!impl_->stopping, "the server is shutting down; no new requests are accepted");
  Impl::Pending pending{std::move(request), {}};
  std::future<GenerateResult> result = pending.result.get_future();
  impl_->submitted.emplace_back(impl_->next_id++, std::move(pending));
  impl_->wake.notify_one();
  return result;
}

void BatchEngine::shutdown() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->wake.notify_one();
  if (impl_->worker.joinable()) impl_->worker.join();
}

EngineStats BatchEngine::stats() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->stats;
}

}  // namespace tunekit::server
