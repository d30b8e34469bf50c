// SerialEngine: a queue and one worker thread that runs generate() for each request in turn.
#include "tunekit/error.h"
#include "tunekit/server/engine.h"

namespace tunekit::server {

SerialEngine::SerialEngine(const Model& model, const Tokenizer& tokenizer)
    : model_(model), tokenizer_(tokenizer), worker_([this] { work(); }) {}

SerialEngine::~SerialEngine() { shutdown(); }

EngineStats SerialEngine::stats() const {
  std::lock_guard lock(mutex_);
  EngineStats s = stats_;
  s.waiting = int64_t(queue_.size());
  return s;
}

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
    {
      std::lock_guard lock(mutex_);
      stats_.running = 1;
    }
    // The stats are updated before the result is handed out: a caller holding it sees them.
    auto finished = [this](const GenerateResult* result) {
      std::lock_guard lock(mutex_);
      if (result) {
        stats_.prompt_tokens += result->n_prompt;
        stats_.generated_tokens += int64_t(result->tokens.size());
        stats_.steps += int64_t(result->tokens.size()) + (result->n_prompt > 0 ? 1 : 0);
      }
      stats_.running = 0;
      ++stats_.requests_finished;
    };
    try {
      GenerateResult result = run(job.request);
      finished(&result);
      job.result.set_value(std::move(result));
    } catch (...) {
      finished(nullptr);
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
  bool timed_out = false;
  options.on_text = [&](const std::string& text) {
    if (cancelled && cancelled->load()) return false;
    if (request.deadline && std::chrono::steady_clock::now() > *request.deadline) {
      timed_out = true;
      return false;
    }
    return !request.options.on_text || request.options.on_text(text);
  };
  GenerateResult result = generate(model_, tokenizer_, request.prompt, options);
  if (timed_out) result.finish_reason = "timeout";
  return result;
}

}  // namespace tunekit::server
