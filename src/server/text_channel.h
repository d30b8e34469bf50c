// TextChannel: hands text pieces (with their tokens' log-probabilities) from the engine's thread
// (producer) to the HTTP thread that streams them to the client (consumer).
#pragma once
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>

#include "openai_api.h"

namespace tunekit::server {

class TextChannel {
 public:
  void push(StreamPiece piece) {
    {
      std::lock_guard lock(mutex_);
      pieces_.push_back(std::move(piece));
    }
    ready_.notify_one();
  }
  // Waits up to `timeout` for a piece; false when none came.
  bool pop(StreamPiece& piece, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    if (!ready_.wait_for(lock, timeout, [this] { return !pieces_.empty(); })) return false;
    piece = std::move(pieces_.front());
    pieces_.pop_front();
    return true;
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<StreamPiece> pieces_;
};

}  // namespace tunekit::server
