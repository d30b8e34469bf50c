// An Engine decorator for tests that need a generation to take a while: each piece of text is
// delayed by `delay` on the engine's thread before it is passed on.
#pragma once
#include <chrono>
#include <thread>

#include "tunekit/server/engine.h"

namespace tunekit::test {

class PacedEngine final : public server::Engine {
 public:
  PacedEngine(server::Engine& inner, std::chrono::milliseconds delay) : inner_(inner), delay_(delay) {}
  std::future<GenerateResult> submit(server::EngineRequest request) override {
    request.options.on_text = [delay = delay_, next = std::move(request.options.on_text)](const std::string& text) {
      std::this_thread::sleep_for(delay);
      return !next || next(text);
    };
    return inner_.submit(std::move(request));
  }
  void shutdown() override { inner_.shutdown(); }
  server::EngineStats stats() const override { return inner_.stats(); }

 private:
  server::Engine& inner_;
  std::chrono::milliseconds delay_;
};

}  // namespace tunekit::test
