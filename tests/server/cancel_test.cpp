// A streaming client that goes away cancels its generation: the server's next SSE write fails and
// the engine sees on_text return false. A decorator engine records each result and slows the
// text down (5 ms a piece) so the disconnect lands mid-generation.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "raw_http.h"
#include "server_fixture.h"

using namespace tunekit;
using nlohmann::json;

namespace {

class RecordingEngine final : public server::Engine {
 public:
  explicit RecordingEngine(server::Engine& inner) : inner_(inner) {}
  std::future<GenerateResult> submit(server::EngineRequest request) override {
    auto on_text = request.options.on_text;
    request.options.on_text = [on_text](const std::string& text) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      return !on_text || on_text(text);
    };
    std::shared_future<GenerateResult> result = inner_.submit(std::move(request)).share();
    {
      std::lock_guard lock(mutex_);
      results_.push_back(result);
    }
    submitted_.notify_all();
    return std::async(std::launch::async, [result] { return result.get(); });
  }
  void shutdown() override { inner_.shutdown(); }
  server::EngineStats stats() const override { return inner_.stats(); }
  // The result of the i-th submitted request (waits for the submission and the result).
  GenerateResult result(size_t i) {
    std::shared_future<GenerateResult> r;
    {
      std::unique_lock lock(mutex_);
      submitted_.wait(lock, [&] { return results_.size() > i; });
      r = results_[i];
    }
    return r.get();
  }

 private:
  server::Engine& inner_;
  std::mutex mutex_;
  std::condition_variable submitted_;
  std::vector<std::shared_future<GenerateResult>> results_;
};

TEST(ServerCancel, ClientDisconnectCancelsTheGeneration) {
  TUNEKIT_REQUIRE_SHARED(test::kStoriesModel);
  const auto path = test::shared_dir() / test::kStoriesModel;
  const Model model = load_model(path);
  auto tok = load_tokenizer_for_model(path, test::shared_dir() / "models/stories260K/tok512.bin");
  server::ServedModel served;
  served.name = "stories260K";
  served.model = &model;
  served.tokenizer = tok.get();
  server::SerialEngine serial(model, *tok);
  RecordingEngine engine(serial);
  test::RunningServer server(served, engine);

  const json body = {{"prompt", "Once upon a time"}, {"max_tokens", 400}, {"temperature", 0}, {"stream", true}};
  ASSERT_TRUE(test::start_stream_and_hang_up(server.port(), body.dump()));
  const GenerateResult cancelled = engine.result(0);
  EXPECT_EQ(cancelled.finish_reason, "cancelled");
  EXPECT_LT(cancelled.tokens.size(), 100u);

  // The same request from a client that stays runs to its end.
  auto res = server.post("/v1/completions", {{"prompt", "Once upon a time"}, {"max_tokens", 400}, {"temperature", 0}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_NE(engine.result(1).finish_reason, "cancelled");
}

}  // namespace
