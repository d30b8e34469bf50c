// The server's generation engine: HTTP handlers hand it requests (prompt tokens, options, an
// adapter, a text callback, a cancellation flag) and wait on the result. The HTTP layer only sees
// this interface, so a continuous-batching engine can replace the serial one without changing it.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
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
};

class Engine {
 public:
  virtual ~Engine() = default;
  // Queues a request; the future holds its result (finish_reason "cancelled" when cancelled) or
  // the Error generation threw. Throws Error once shutdown() has begun.
  virtual std::future<GenerateResult> submit(EngineRequest request) = 0;
  // Refuses new requests, finishes those already submitted, then returns.
  virtual void shutdown() = 0;
};

// The first engine: one worker thread runs the queued requests one at a time, in arrival order.
class SerialEngine final : public Engine {
 public:
  SerialEngine(const Model& model, const Tokenizer& tokenizer);  // both must outlive the engine
  ~SerialEngine() override;
  std::future<GenerateResult> submit(EngineRequest request) override;
  void shutdown() override;

 private:
  struct Job {
    EngineRequest request;
    std::promise<GenerateResult> result;
  };
  void work();
  GenerateResult run(EngineRequest& request) const;

  const Model& model_;
  const Tokenizer& tokenizer_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace tunekit::server
