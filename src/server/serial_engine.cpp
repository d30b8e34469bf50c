// SerialEngine: a queue and one worker thread that runs generate() for each request in turn.
#include "tunekit/error.h"
#include "tunekit/server/engine.h"

namespace tunekit::server {

SerialEngine::SerialEngine(const Model& model, const Tokenizer& tokenizer)
    : model_(model), tokenizer_(tokenizer), worker_([this] { work(); }) {}

SerialEngine::~SerialEngine() { shutdown(); }

std::future<GenerateResult> SerialEngine::submit(EngineRequest request) {
  std::lock_guard lock(mutex_);
  check(!stopping_, "the server is shutting down; no new requests are accepted");
  queue_.push_back(Job{std::move(request), {}});
  std::future<GenerateResult> result = queue_.back().result.get_future();
  wake_.notify_one();
  return result;
}

void SerialEngine::shutdown() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (worker_.joinable()) worker_.join();
}

void SerialEngine::work() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything submitted is done
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    try {
      job.result.set_value(run(job.request));
    } catch (...) {
      job.result.set_exception(std::current_exception());
    }
  }
}

GenerateResult SerialEngine::run(EngineRequest& request) const {
  const auto& cancelled = request.cancelled;
  if (cancelled && cancelled->load()) {
    GenerateResult skipped;
    skipped.finish_reason = "cancelled";
    skipped.n_prompt = int64_t(request.prompt.size());
    return skipped;
  }
  GenerateOptions options = request.options;
  options.on_text = [&](const std::string& text) {
    if (cancelled && cancelled->load()) return false;
    return !request.options.on_text || request.options.on_text(text);
  };
  return generate(model_, tokenizer_, request.prompt, options);
}

}  // namespace tunekit::server
