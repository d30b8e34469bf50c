// /v1/chat/completions: the messages go through the model's chat template. A tiny random Llama
// with TinyLlama-chat's 32000-token vocabulary stands in for a chat model; the expected text is
// the template rendered directly, tokenized without extra BOS and generated with generate().
#include <gtest/gtest.h>

#include "server_fixture.h"

using namespace tunekit;
using nlohmann::json;

namespace {

const char* kChatTokenizer = "tokenizers/tinyllama-1.1b-chat";

class Chat : public ::testing::Test {
 protected:
  void SetUp() override {
    TUNEKIT_REQUIRE_SHARED(std::string(kChatTokenizer) + "/tokenizer.json");
    const auto tok_dir = test::shared_dir() / kChatTokenizer;
    ModelConfig c;
    c.n_vocab = 32000, c.d_model = 32, c.d_ff = 64, c.n_layer = 1, c.n_head = 2, c.n_head_kv = 2, c.d_head = 16;
    model_ = init_random_model(c, 3);
    tok_ = load_tokenizer_for_model(tok_dir, tok_dir);
    served_.name = "tiny-chat";
    served_.model = &model_;
    served_.tokenizer = tok_.get();
    served_.chat_template = load_chat_template_for_model(tok_dir, tok_dir);
    ASSERT_TRUE(served_.chat_template.has_value());
    engine_ = std::make_unique<server::SerialEngine>(model_, *tok_);
    server_ = std::make_unique<test::RunningServer>(served_, *engine_);
  }
  void TearDown() override {
    server_.reset();
    engine_.reset();
  }
  GenerateResult expected(const std::vector<ChatMessage>& messages, int64_t max_tokens) const {
    const std::string text = served_.chat_template->apply(messages, true, tok_->bos_token(), tok_->eos_token());
    return test::reference_generate(model_, *tok_, tok_->encode(text, false), max_tokens);
  }

  Model model_;
  std::unique_ptr<Tokenizer> tok_;
  server::ServedModel served_;
  std::unique_ptr<server::SerialEngine> engine_;
  std::unique_ptr<test::RunningServer> server_;
};

const json kMessages = {{{"role", "system"}, {"content", "You are an anatomy tutor."}},
                        {{"role", "user"}, {"content", "What is the femur?"}}};
const std::vector<ChatMessage> kChatMessages = {{"system", "You are an anatomy tutor."},
                                                {"user", "What is the femur?"}};

TEST_F(Chat, CompletionIsTheTemplatedPromptsGeneration) {
  const GenerateResult want = expected(kChatMessages, 12);
  auto res = server_->post("/v1/chat/completions", {{"model", "tiny-chat"}, {"messages", kMessages},
                                                     {"max_tokens", 12}, {"temperature", 0}});
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  json j = json::parse(res->body);
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(j["choices"][0]["message"]["content"], want.text);
  EXPECT_EQ(j["choices"][0]["finish_reason"], want.finish_reason);
  EXPECT_EQ(j["usage"]["prompt_tokens"], want.n_prompt);
  EXPECT_EQ(j["usage"]["completion_tokens"], want.tokens.size());
}

TEST_F(Chat, StreamStartsWithTheRoleAndEndsWithFinishThenDone) {
  const GenerateResult want = expected(kChatMessages, 12);
  auto res = server_->post("/v1/chat/completions",
                           {{"messages", kMessages}, {"max_tokens", 12}, {"temperature", 0}, {"stream", true}});
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  std::vector<std::string> events = test::sse_payloads(res->body);
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.back(), "[DONE]");
  json first = json::parse(events.front());
  EXPECT_EQ(first["object"], "chat.completion.chunk");
  EXPECT_EQ(first["choices"][0]["delta"]["role"], "assistant");
  json last = json::parse(events[events.size() - 2]);
  EXPECT_EQ(last["choices"][0]["finish_reason"], want.finish_reason);
  EXPECT_TRUE(last["choices"][0]["delta"].empty());
  std::string text;
  for (size_t i = 0; i + 2 < events.size(); ++i)
    text += json::parse(events[i])["choices"][0]["delta"].value("content", "");
  EXPECT_EQ(text, want.text);
}

TEST_F(Chat, LogprobsListEachTokenWithItsBytesAndAlternatives) {
  const std::string text = served_.chat_template->apply(kChatMessages, true, tok_->bos_token(), tok_->eos_token());
  GenerateOptions opt;
  opt.max_tokens = 12;
  opt.sampling.temperature = 0;
  opt.top_logprobs = 3;
  const GenerateResult want = generate(model_, *tok_, tok_->encode(text, false), opt);
  ASSERT_FALSE(want.logprobs.empty());
  auto res = server_->post("/v1/chat/completions", {{"messages", kMessages}, {"max_tokens", 12}, {"temperature", 0},
                                                     {"logprobs", true}, {"top_logprobs", 3}});
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const json content = json::parse(res->body)["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(content.size(), want.logprobs.size());
  std::string joined;
  for (size_t i = 0; i < content.size(); ++i) {
    const json& entry = content[i];
    const TokenLogprob& w = want.logprobs[i];
    std::string bytes;
    for (const json& b : entry["bytes"]) bytes += char(b.get<int>());
    EXPECT_EQ(bytes, w.text);
    joined += bytes;
    EXPECT_NEAR(entry["logprob"].get<double>(), w.logprob, 1e-6);
    ASSERT_EQ(entry["top_logprobs"].size(), 3u);
    for (size_t j = 0; j < 3; ++j) {
      EXPECT_NEAR(entry["top_logprobs"][j]["logprob"].get<double>(), w.top[j].logprob, 1e-6);
      EXPECT_EQ(entry["top_logprobs"][j]["bytes"].size(), w.top[j].text.size());
    }
    EXPECT_NEAR(entry["top_logprobs"][0]["logprob"].get<double>(), w.logprob, 1e-6);  // greedy: the likeliest
  }
  EXPECT_EQ(joined, want.text);
  // Streamed, the entries come in the chunks and add up to the same list.
  auto stream = server_->post("/v1/chat/completions", {{"messages", kMessages}, {"max_tokens", 12}, {"temperature", 0},
                                                        {"logprobs", true}, {"stream", true}});
  ASSERT_TRUE(stream);
  std::vector<double> streamed;
  for (const std::string& event : test::sse_payloads(stream->body)) {
    if (event == "[DONE]") break;
    const json lp = json::parse(event)["choices"][0]["logprobs"];
    if (lp.is_null()) continue;
    for (const json& entry : lp["content"]) {
      EXPECT_TRUE(entry["top_logprobs"].empty());  // top_logprobs not given: 0 alternatives
      streamed.push_back(entry["logprob"].get<double>());
    }
  }
  ASSERT_EQ(streamed.size(), want.logprobs.size());
  for (size_t i = 0; i < streamed.size(); ++i) EXPECT_NEAR(streamed[i], want.logprobs[i].logprob, 1e-6);
}

TEST_F(Chat, ContentPartsAreJoined) {
  const GenerateResult want = expected({{"user", "What is the femur?"}}, 6);
  json parts = {{{"type", "text"}, {"text", "What is "}}, {{"type", "text"}, {"text", "the femur?"}}};
  auto res = server_->post("/v1/chat/completions", {{"messages", {{{"role", "user"}, {"content", parts}}}},
                                                     {"max_tokens", 6}, {"temperature", 0}});
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(json::parse(res->body)["choices"][0]["message"]["content"], want.text);
}

}  // namespace
