// Bad requests get OpenAI-shaped errors ({"error": {"message", "type", "param", "code"}}) with the
// right HTTP status, and the server keeps answering afterwards.
#include <gtest/gtest.h>

#include "server_fixture.h"

using namespace tunekit;
using nlohmann::json;

namespace {

class ApiErrors : public test::StoriesServer {
 protected:
  void SetUp() override {
    options_.max_tokens_limit = 1000;
    options_.max_body_bytes = 4096;
    StoriesServer::SetUp();
  }
  // Checks the status and the error shape; returns the error object.
  json expect_error(const httplib::Result& res, int status) {
    EXPECT_TRUE(res);
    if (!res) return {};
    EXPECT_EQ(res->status, status) << res->body;
    json j = json::parse(res->body, nullptr, false);
    EXPECT_TRUE(j.is_object() && j.contains("error")) << res->body;
    if (!j.is_object() || !j.contains("error")) return {};
    const json& e = j["error"];
    EXPECT_TRUE(e["message"].is_string() && !e["message"].get<std::string>().empty());
    EXPECT_TRUE(e["type"].is_string());
    EXPECT_TRUE(e.contains("param") && e.contains("code"));
    // ... and the server still serves
    auto health = server_->client().Get("/health");
    EXPECT_TRUE(health && health->status == 200);
    return e;
  }
  httplib::Result post_text(const std::string& path, const std::string& body) {
    return server_->client().Post(path.c_str(), body, "application/json");
  }
};

TEST_F(ApiErrors, MalformedJsonIs400) {
  json e = expect_error(post_text("/v1/completions", "{\"prompt\": \"Once"), 400);
  EXPECT_EQ(e["code"], "invalid_json");
  expect_error(post_text("/v1/completions", "[1, 2]"), 400);
  expect_error(post_text("/v1/completions", R"({"prompt": 42})"), 400);
  expect_error(post_text("/v1/chat/completions", R"({"messages": "hi"})"), 400);
}

TEST_F(ApiErrors, UnknownModelIs404) {
  json e = expect_error(server_->post("/v1/completions", {{"model", "gpt-4"}, {"prompt", "Hi"}}), 404);
  EXPECT_EQ(e["code"], "model_not_found");
  EXPECT_EQ(e["param"], "model");
  EXPECT_NE(e["message"].get<std::string>().find("gpt-4"), std::string::npos);
}

TEST_F(ApiErrors, NegativeOrHugeMaxTokensIs400) {
  for (json n : {json(-1), json(1001), json(int64_t(1) << 40), json(1.5), json("10")}) {
    json e = expect_error(server_->post("/v1/completions", {{"prompt", "Hi"}, {"max_tokens", n}}), 400);
    EXPECT_EQ(e["param"], "max_tokens") << n;
  }
  auto ok = server_->post("/v1/completions", {{"prompt", "Hi"}, {"max_tokens", 1000}, {"temperature", 0}});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);  // the limit itself is allowed
}

TEST_F(ApiErrors, BadFieldsAre400) {
  expect_error(server_->post("/v1/completions", {{"prompt", "Hi"}, {"stream_options", {{"include_usage", "yes"}}}}), 400);
  expect_error(post_text("/v1/chat/completions", R"({"messages": [{"role": "user", "content": [{"type": 5}]}]})"), 400);
  expect_error(post_text("/v1/chat/completions", R"({"messages": [{"content": "no role"}]})"), 400);
  expect_error(server_->post("/v1/completions", {{"prompt", "Hi"}, {"seed", "abc"}}), 400);
  expect_error(server_->post("/v1/completions", {{"prompt", "Hi"}, {"temperature", -0.5}}), 400);
  expect_error(server_->post("/v1/completions", {{"prompt", "Hi"}, {"top_p", 0}}), 400);
  expect_error(server_->post("/v1/completions", {{"prompt", "Hi"}, {"n", 2}}), 400);
  expect_error(server_->post("/v1/completions", {{"prompt", "Hi"}, {"stop", {1, 2}}}), 400);
  for (const char* key : {"frequency_penalty", "presence_penalty"})
    for (json v : {json(-2.5), json(2.01), json("1")})
      EXPECT_EQ(expect_error(server_->post("/v1/completions", {{"prompt", "Hi"}, {key, v}}), 400)["param"], key) << v;
  // what the server cannot do is refused by name, not ignored
  const std::pair<const char*, json> unsupported[] = {
      {"tools", json::array({{{"type", "function"}, {"function", {{"name", "f"}}}}})},
      {"functions", json::array({{{"name", "f"}}})},
      {"response_format", {{"type", "json_object"}}},
      {"best_of", 2},
      {"suffix", "and they lived"},
  };
  for (const auto& [key, value] : unsupported) {
    json e = expect_error(server_->post("/v1/completions", {{"prompt", "Hi"}, {key, value}}), 400);
    EXPECT_EQ(e["param"], key);
  }
  for (const auto& [key, value] : {std::pair<const char*, json>{"tools", json::array()},
                                   {"response_format", {{"type", "text"}}}, {"best_of", 1}, {"suffix", ""}}) {
    auto ok = server_->post("/v1/completions", {{"prompt", "Hi"}, {"max_tokens", 2}, {key, value}});
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->status, 200) << key << ": " << ok->body;  // asking for nothing is fine
  }
  // logit_bias: an object of token ids (decimal strings below the vocabulary's 512) to -100..100
  for (json bias : {json({{"512", 1}}), json({{"-1", 1}}), json({{"x", 1}}), json({{"", 1}}), json({{"3", 101}}),
                    json({{"3", "1"}}), json({1, 2}), json("3:1")}) {
    json e = expect_error(server_->post("/v1/completions", {{"prompt", "Hi"}, {"logit_bias", bias}}), 400);
    EXPECT_EQ(e["param"], "logit_bias") << bias;
  }
}

// A message's content parts other than text (an image here) are refused, naming the part.
TEST_F(ApiErrors, AnImagePartIs400NamingThePart) {
  json content = {{{"type", "text"}, {"text", "What is this?"}},
                  {{"type", "image_url"}, {"image_url", {{"url", "data:image/png;base64,AAAA"}}}}};
  json e = expect_error(server_->post("/v1/chat/completions", {{"messages", {{{"role", "user"}, {"content", content}}}}}), 400);
  EXPECT_EQ(e["param"], "messages[0].content");
  EXPECT_EQ(e["message"], "messages[0].content[1] is a \"image_url\" part; only text parts are supported");
}

TEST_F(ApiErrors, BodyOverTheLimitIs413) {
  json e = expect_error(server_->post("/v1/completions", {{"prompt", std::string(5000, 'a')}}), 413);
  EXPECT_NE(e["message"].get<std::string>().find("4096"), std::string::npos);
}

TEST_F(ApiErrors, UnknownRouteIs404) {
  expect_error(server_->client().Get("/v1/engines"), 404);
  expect_error(server_->post("/v1/audio/speech", {{"input", "x"}}), 404);
}

TEST_F(ApiErrors, ChatWithoutATemplateIs400) {
  json e = expect_error(server_->post("/v1/chat/completions", {{"messages", {{{"role", "user"}, {"content", "Hi"}}}}}), 400);
  EXPECT_EQ(e["code"], "no_chat_template");
}

TEST_F(ApiErrors, PromptLongerThanTheContextIs400) {
  std::string prompt;
  for (int i = 0; i < 700; ++i) prompt += " cat";  // stories260K's context is 512 tokens
  json e = expect_error(server_->post("/v1/completions", {{"prompt", prompt}}), 400);
  EXPECT_EQ(e["code"], "context_length_exceeded");
}

class ApiKey : public ApiErrors {
 protected:
  void SetUp() override {
    options_.api_key = "sk-test";
    ApiErrors::SetUp();
  }
};

TEST_F(ApiKey, MissingOrWrongKeyIs401AndTheRightKeyPasses) {
  const json body = {{"prompt", "Hi"}, {"max_tokens", 2}};
  json missing = expect_error(server_->post("/v1/completions", body), 401);
  EXPECT_EQ(missing["code"], "invalid_api_key");
  auto client = server_->client();
  client.set_bearer_token_auth("sk-wrong");
  expect_error(client.Post("/v1/completions", body.dump(), "application/json"), 401);
  expect_error(client.Get("/v1/models"), 401);
  client.set_bearer_token_auth("sk-test");
  auto ok = client.Post("/v1/completions", body.dump(), "application/json");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
  EXPECT_EQ(server_->client().Get("/health")->status, 200);  // health needs no key
}

}  // namespace
