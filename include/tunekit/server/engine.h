// The server's generation engine: HTTP handlers hand it requests (prompt tokens, options, an
// adapter, a text callback, a cancellation flag) and wait on the result. The HTTP layer only sees
// this interface, so a continuous-batching engine can replace the serial one without changing it.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "tunekit/infer/generate.h"

namespace tunekit::server {

struct EngineRequest {
  std::vector<int32_t> prompt;  // token ids, special tokens included
  // max_tokens, sampling, stop strings and the adapter (not owned; must outlive the request).
  // options.on_text is called on the engine's thread with each piece of final text; returning
  // false cancels the request.
  GenerateOptions options;
  // Set by the caller (e.g. a client went away) to cancel; checked before the request starts
  // and at every piece of text. May be null.
  std::shared_ptr<std::atomic<bool>> cancelled;
  // Keeps options.adapter alive until the request has ended (the server may unload it meanwhile).
  std::shared_ptr<const LoraAdapter> adapter_owner;
  // Past it the request ends with finish_reason "timeout" (checked at every step). None: no limit.
  std::optional<std::chrono::steady_clock::time_point> deadline;
};

// What an engine has done since it started and holds now (for GET /metrics).
struct EngineStats {
  int64_t running = 0;             // requests in the running batch
  int64_t waiting = 0;             // requests queued (not yet started, or pre-empted)
  int64_t kv_blocks_total = 0;     // KV-cache blocks in the pool (0 for an engine without one)
  int64_t kv_blocks_used = 0;      // blocks held by running requests
  int64_t kv_block_size = 0;       // positions per block
  int64_t requests_finished = 0;   // completed, cancelled or timed out
  int64_t prompt_tokens = 0;       // prompt tokens run through the model
  int64_t prefix_cached_tokens = 0;  // prompt tokens served from shared prefix blocks instead
  int64_t generated_tokens = 0;
  int64_t preemptions = 0;         // requests pre-empted for KV blocks (recomputed later)
  int64_t steps = 0;               // forward passes
};

class Engine {
 public:
  virtual ~Engine() = default;
  // Queues a request; the future holds its result (finish_reason "cancelled" when cancelled) or
  // the Error generation threw. Throws Error once shutdown() has begun.
  virtual std::future<GenerateResult> submit(EngineRequest request) = 0;
  // Refuses new requests, finishes those already submitted, then returns.
  virtual void shutdown() = 0;
  virtual EngineStats stats() const = 0;
};

// The first engine: one worker thread runs the queued requests one at a time, in arrival order.
class SerialEngine final : public Engine {
 public:
  SerialEngine(const Model& model, const Tokenizer& tokenizer);  // both must outlive the engine
  ~SerialEngine() override;
  std::future<GenerateResult> submit(EngineRequest request) override;
  void shutdown() override;
  EngineStats stats() const override;

 private:
  struct Job {
    EngineRequest request;
    std::promise<GenerateResult> result;
  };
  void work();
  GenerateResult run(EngineRequest& request) const;

  const Model& model_;
  const Tokenizer& tokenizer_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> queue_;
  EngineStats stats_;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace tunekit::server
