// A streaming client that goes away cancels its generation: the server's next SSE write fails and
// the engine sees on_text return false. A decorator engine records each result and slows the
// text down (5 ms a piece) so the disconnect lands mid-generation.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>

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

// Sends a streaming request on a raw socket, reads the first bytes of the answer, and closes.
void start_stream_and_hang_up(int port, const std::string& body) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(uint16_t(port));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const std::string request = "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                              "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  ASSERT_EQ(write(fd, request.data(), request.size()), ssize_t(request.size()));
  char buf[256];
  ASSERT_GT(read(fd, buf, sizeof buf), 0);  // the headers (and maybe a chunk) arrived
  close(fd);
}

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
  start_stream_and_hang_up(server.port(), body.dump());
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
