// Limits while the server keeps serving: a request past --request-timeout ends with 504 (or an
// error event and [DONE] when streamed); bad JSON, unknown models, bad max_tokens, a 100 MB
// body, a chunked upload, out-of-range logprobs and a non-boolean echo each get their error while
// a long stream from another client runs on and ends with exactly the text generate() gives.
#include <gtest/gtest.h>

#include <future>

#include "paced_engine.h"
#include "raw_http.h"
#include "server_fixture.h"

using namespace tunekit;
using nlohmann::json;

namespace {

// stories260K behind an engine that takes 10 ms per piece of text.
class PacedServer : public test::StoriesServer {
 protected:
  void SetUp() override {
    TUNEKIT_REQUIRE_SHARED(test::kStoriesModel);
    engine_ = std::make_unique<server::SerialEngine>(*model_, *tok_);
    paced_ = std::make_unique<test::PacedEngine>(*engine_, std::chrono::milliseconds(10));
    server_ = std::make_unique<test::RunningServer>(*served_, *paced_, options_);
  }
  void TearDown() override {
    server_.reset();
    paced_.reset();
    engine_.reset();
  }
  std::unique_ptr<test::PacedEngine> paced_;
};

class Timeout : public PacedServer {
 protected:
  void SetUp() override {
    options_.request_timeout_s = 0.3;
    PacedServer::SetUp();
  }
};

TEST_F(Timeout, ALongRequestIs504AndAShortOneIsNot) {
  const auto started = std::chrono::steady_clock::now();
  auto res = server_->post("/v1/completions", {{"prompt", "Once upon a time"}, {"max_tokens", 300}, {"temperature", 0}});
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ASSERT_TRUE(res);
  if (expected("Once upon a time", 300).tokens.size() < 60) GTEST_SKIP() << "the story ends too soon to time out";
  EXPECT_EQ(res->status, 504) << res->body;
  const json e = json::parse(res->body)["error"];
  EXPECT_EQ(e["code"], "timeout");
  EXPECT_NE(e["message"].get<std::string>().find("--request-timeout"), std::string::npos);
  EXPECT_LT(took, 2.0);  // 300 pieces at 10 ms would take 3 s
  auto quick = server_->post("/v1/completions", {{"prompt", "Once upon a time"}, {"max_tokens", 5}, {"temperature", 0}});
  ASSERT_TRUE(quick);
  EXPECT_EQ(quick->status, 200) << quick->body;
  EXPECT_EQ(json::parse(quick->body)["choices"][0]["text"], expected("Once upon a time", 5).text);
}

TEST_F(Timeout, AStreamEndsWithAnErrorEventThenDone) {
  auto res = server_->post("/v1/completions",
                           {{"prompt", "Once upon a time"}, {"max_tokens", 300}, {"temperature", 0}, {"stream", true}});
  ASSERT_TRUE(res);
  if (expected("Once upon a time", 300).tokens.size() < 60) GTEST_SKIP() << "the story ends too soon to time out";
  EXPECT_EQ(res->status, 200);
  const auto events = test::sse_payloads(res->body);
  ASSERT_GE(events.size(), 3u) << res->body;
  EXPECT_EQ(events.back(), "[DONE]");
  const json error = json::parse(events[events.size() - 2]);
  EXPECT_EQ(error["error"]["code"], "timeout") << error;
  std::string text;
  for (size_t i = 0; i + 2 < events.size(); ++i) {
    const json chunk = json::parse(events[i]);
    EXPECT_TRUE(chunk["choices"][0]["finish_reason"].is_null());  // no finish chunk before the error
    text += chunk["choices"][0]["text"].get<std::string>();
  }
  EXPECT_EQ(expected("Once upon a time", 300).text.rfind(text, 0), 0u);  // what came is the start of the story
}

class KeepsServing : public PacedServer {
 protected:
  void SetUp() override {
    options_.max_tokens_limit = 1000;
    PacedServer::SetUp();
  }
  void expect_status(const httplib::Result& res, int status) {
    ASSERT_TRUE(res) << "no answer (status " << status << " expected): " << httplib::to_string(res.error());
    EXPECT_EQ(res->status, status) << res->body;
    if (status >= 400) {
      EXPECT_TRUE(json::parse(res->body, nullptr, false).contains("error")) << res->body;
    }
  }
};

TEST_F(KeepsServing, BadRequestsGetTheirErrorsWhileAStreamRuns) {
  const std::string prompt = "Once upon a time";
  // 300 tokens at 10 ms each: the stream outlasts the bad requests below (a 100 MB upload among
  // them) even on a loaded machine or under a sanitizer (120 tokens did not under ThreadSanitizer).
  const int64_t stream_tokens = 300;
  auto long_stream = std::async(std::launch::async, [&] {
    return server_->post("/v1/completions", {{"prompt", prompt}, {"max_tokens", stream_tokens}, {"temperature", 0}, {"stream", true}});
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // it is generating now

  auto client = server_->client();
  expect_status(client.Post("/v1/completions", "{\"prompt\": ", "application/json"), 400);
  expect_status(server_->post("/v1/completions", {{"model", "gpt-4"}, {"prompt", "x"}}), 404);
  expect_status(server_->post("/v1/completions", {{"prompt", "x"}, {"max_tokens", -5}}), 400);
  expect_status(server_->post("/v1/completions", {{"prompt", "x"}, {"max_tokens", int64_t(1) << 40}}), 400);
  expect_status(server_->post("/v1/completions", {{"prompt", "x"}, {"logprobs", 21}}), 400);
  expect_status(server_->post("/v1/completions", {{"prompt", "x"}, {"logprobs", -1}}), 400);
  expect_status(server_->post("/v1/completions", {{"prompt", "x"}, {"echo", "yes"}}), 400);
  auto no_logprobs = server_->post("/v1/chat/completions", {{"messages", {{{"role", "user"}, {"content", "x"}}}},
                                                           {"top_logprobs", 2}});  // without "logprobs": true
  ASSERT_TRUE(no_logprobs);
  EXPECT_EQ(no_logprobs->status, 400);
  EXPECT_EQ(nlohmann::json::parse(no_logprobs->body)["error"]["param"], "top_logprobs");
  const std::string huge(size_t(100) << 20, 'a');  // 100 MB: skipped unread by the server (413)
  expect_status(client.Post("/v1/completions", huge, "application/json"), 413);
  // A chunked upload (no Content-Length) is refused before any of it is read: httplib would read
  // one whole into memory whatever its size. Sent in one write so the answer is not lost to a reset.
  EXPECT_EQ(test::raw_status(server_->port(), "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                        "Transfer-Encoding: chunked\r\n\r\nf\r\n{\"prompt\": \"x\"}\r\n0\r\n\r\n"),
            411);
  EXPECT_EQ(long_stream.wait_for(std::chrono::seconds(0)), std::future_status::timeout);  // still running

  const httplib::Result streamed = long_stream.get();
  ASSERT_TRUE(streamed);
  ASSERT_EQ(streamed->status, 200);
  const auto events = test::sse_payloads(streamed->body);
  std::string text;
  for (const std::string& e : events)
    if (e != "[DONE]") text += json::parse(e)["choices"][0]["text"].get<std::string>();
  EXPECT_EQ(text, expected(prompt, stream_tokens).text);
  EXPECT_EQ(events.back(), "[DONE]");
  expect_status(client.Get("/health"), 200);
}

}  // namespace
