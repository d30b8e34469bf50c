// /v1/completions and /v1/models on stories260K: the served text is what generate() gives for the
// same prompt (greedy, called directly here), streamed or not, with the base model or an adapter,
// for one client or several at once.
#include <gtest/gtest.h>

#include <algorithm>
#include <future>

#include "server_fixture.h"

using namespace tunekit;
using nlohmann::json;

namespace {

using Completions = test::StoriesServer;

TEST_F(Completions, HealthAndModelList) {
  auto health = server_->client().Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto models = server_->client().Get("/v1/models");
  ASSERT_TRUE(models);
  ASSERT_EQ(models->status, 200);
  json j = json::parse(models->body);
  EXPECT_EQ(j["object"], "list");
  ASSERT_EQ(j["data"].size(), 2u);
  EXPECT_EQ(j["data"][0]["id"], "stories260K");
  EXPECT_EQ(j["data"][1]["id"], "tiny-lora");
  EXPECT_EQ(j["data"][1]["object"], "model");
}

TEST_F(Completions, NonStreamingTextAndUsageEqualGenerate) {
  const GenerateResult want = expected("Once upon a time", 40);
  ASSERT_FALSE(want.text.empty());
  auto res = server_->post("/v1/completions", {{"model", "stories260K"}, {"prompt", "Once upon a time"},
                                                {"max_tokens", 40}, {"temperature", 0}});
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  json j = json::parse(res->body);
  EXPECT_EQ(j["object"], "text_completion");
  EXPECT_EQ(j["model"], "stories260K");
  EXPECT_EQ(j["choices"][0]["text"], want.text);
  EXPECT_EQ(j["choices"][0]["finish_reason"], want.finish_reason);
  EXPECT_EQ(j["usage"]["prompt_tokens"], want.n_prompt);
  EXPECT_EQ(j["usage"]["completion_tokens"], want.tokens.size());
  EXPECT_EQ(j["usage"]["total_tokens"], want.n_prompt + int64_t(want.tokens.size()));
}

TEST_F(Completions, StreamedChunksConcatenateToTheSameTextThenDone) {
  const GenerateResult want = expected("The cat", 60);
  auto res = server_->post("/v1/completions", {{"prompt", "The cat"}, {"max_tokens", 60}, {"temperature", 0},
                                                {"stream", true}, {"stream_options", {{"include_usage", true}}}});
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/event-stream");
  std::vector<std::string> events = test::sse_payloads(res->body);
  ASSERT_GE(events.size(), 4u) << res->body;  // pieces, finish, usage, [DONE]
  EXPECT_EQ(events.back(), "[DONE]");
  std::string text;
  for (size_t i = 0; i + 3 < events.size(); ++i) {
    json chunk = json::parse(events[i]);
    EXPECT_EQ(chunk["object"], "text_completion");
    EXPECT_TRUE(chunk["choices"][0]["finish_reason"].is_null());
    text += chunk["choices"][0]["text"].get<std::string>();
  }
  EXPECT_EQ(text, want.text);
  json finish = json::parse(events[events.size() - 3]);
  EXPECT_EQ(finish["choices"][0]["finish_reason"], want.finish_reason);
  json usage = json::parse(events[events.size() - 2]);
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"]["completion_tokens"], want.tokens.size());
}

// generate() with top_logprobs: the reference the server's logprobs must equal.
GenerateResult with_logprobs(const Model& model, const Tokenizer& tok, const std::string& prompt, int64_t max_tokens,
                             int top) {
  GenerateOptions opt;
  opt.max_tokens = max_tokens;
  opt.sampling.temperature = 0;
  opt.top_logprobs = top;
  opt.continues_prompt = true;  // as /v1/completions decodes
  return generate(model, tok, tok.encode(prompt, true), opt);
}

TEST_F(Completions, LogprobsAreParallelListsOfTheGeneratedTokens) {
  const GenerateResult want = with_logprobs(*model_, *tok_, "Once upon a time", 30, 2);
  auto res = server_->post("/v1/completions", {{"prompt", "Once upon a time"}, {"max_tokens", 30},
                                                {"temperature", 0}, {"logprobs", 2}});
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const json choice = json::parse(res->body)["choices"][0];
  EXPECT_EQ(choice["text"], want.text);
  const json& lp = choice["logprobs"];
  ASSERT_EQ(lp["tokens"].size(), want.tokens.size());
  ASSERT_EQ(lp["token_logprobs"].size(), want.tokens.size());
  ASSERT_EQ(lp["top_logprobs"].size(), want.tokens.size());
  ASSERT_EQ(lp["text_offset"].size(), want.tokens.size());
  std::string joined;
  for (size_t i = 0; i < want.tokens.size(); ++i) {
    EXPECT_EQ(lp["text_offset"][i], joined.size());
    joined += lp["tokens"][i].get<std::string>();
    EXPECT_NEAR(lp["token_logprobs"][i].get<double>(), want.logprobs[i].logprob, 1e-6);
    const json& top = lp["top_logprobs"][i];  // {text: logprob}; greedy: the chosen token is the likeliest
    ASSERT_TRUE(top.is_object());
    ASSERT_GE(top.size(), 1u);
    EXPECT_NEAR(top[want.logprobs[i].text].get<double>(), want.logprobs[i].logprob, 1e-6);
    for (const auto& [text, value] : top.items()) EXPECT_LE(value.get<double>(), want.logprobs[i].logprob + 1e-6);
  }
  EXPECT_EQ(joined, want.text);
  // Not asked: null, as OpenAI sends it.
  auto plain = server_->post("/v1/completions", {{"prompt", "Once upon a time"}, {"max_tokens", 5}});
  ASSERT_TRUE(plain);
  EXPECT_TRUE(json::parse(plain->body)["choices"][0]["logprobs"].is_null());
}

TEST_F(Completions, StreamedLogprobsTravelWithTheirTextAndAddUpToTheWholeList) {
  const GenerateResult want = with_logprobs(*model_, *tok_, "The cat", 40, 0);
  auto res = server_->post("/v1/completions", {{"prompt", "The cat"}, {"max_tokens", 40}, {"temperature", 0},
                                                {"logprobs", 0}, {"stream", true}});
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  std::vector<std::string> tokens;
  std::vector<double> logprobs;
  std::string text;
  for (const std::string& event : test::sse_payloads(res->body)) {
    if (event == "[DONE]") break;
    const json choice = json::parse(event)["choices"][0];
    text += choice["text"].get<std::string>();
    if (choice["logprobs"].is_null()) continue;
    EXPECT_TRUE(choice["logprobs"]["top_logprobs"].is_null());  // logprobs 0: no alternatives
    for (const json& t : choice["logprobs"]["tokens"]) tokens.push_back(t);
    for (const json& v : choice["logprobs"]["token_logprobs"]) logprobs.push_back(v);
    // every piece's tokens start where the text streamed so far ends, at most
    EXPECT_LE(choice["logprobs"]["text_offset"][0].get<size_t>(), text.size());
  }
  EXPECT_EQ(text, want.text);
  ASSERT_EQ(tokens.size(), want.logprobs.size());
  for (size_t i = 0; i < tokens.size(); ++i) {
    EXPECT_EQ(tokens[i], want.logprobs[i].text);
    EXPECT_NEAR(logprobs[i], want.logprobs[i].logprob, 1e-6);
  }
}

TEST_F(Completions, EchoReturnsThePromptFirstWithItsTokensScored) {
  const std::string prompt = "Once upon a time";
  const GenerateResult want = with_logprobs(*model_, *tok_, prompt, 6, 1);
  const std::vector<TokenLogprob> scored = prompt_logprobs(*model_, *tok_, tok_->encode(prompt, true), 1);
  auto res = server_->post("/v1/completions", {{"prompt", prompt}, {"max_tokens", 6}, {"temperature", 0},
                                                {"echo", true}, {"logprobs", 1}});
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const json choice = json::parse(res->body)["choices"][0];
  EXPECT_EQ(choice["text"], prompt + want.text);
  const json& lp = choice["logprobs"];
  ASSERT_EQ(lp["tokens"].size(), scored.size() + want.tokens.size());
  EXPECT_TRUE(lp["token_logprobs"][0].is_null());  // the first prompt token has no context
  EXPECT_TRUE(lp["top_logprobs"][0].is_null());
  for (size_t i = 1; i < scored.size(); ++i) EXPECT_NEAR(lp["token_logprobs"][i].get<double>(), scored[i].logprob, 1e-6);
  for (size_t i = 0; i < want.tokens.size(); ++i) {
    const size_t at = scored.size() + i;
    EXPECT_NEAR(lp["token_logprobs"][at].get<double>(), want.logprobs[i].logprob, 1e-6);
    EXPECT_EQ(lp["text_offset"][at], prompt.size() + want.logprobs[i].text_offset);  // into the returned text
  }
  // max_tokens 0: the prompt alone, scored (an evaluation harness's loglikelihood request).
  auto only = server_->post("/v1/completions", {{"prompt", prompt}, {"max_tokens", 0}, {"echo", true}, {"logprobs", 0}});
  ASSERT_TRUE(only);
  ASSERT_EQ(only->status, 200) << only->body;
  const json only_choice = json::parse(only->body)["choices"][0];
  EXPECT_EQ(only_choice["text"], prompt);
  EXPECT_EQ(only_choice["logprobs"]["tokens"].size(), scored.size());
  // Streamed: the first chunk is the prompt, then the completion; without logprobs, text only.
  auto stream = server_->post("/v1/completions", {{"prompt", prompt}, {"max_tokens", 6}, {"temperature", 0},
                                                   {"echo", true}, {"stream", true}});
  ASSERT_TRUE(stream);
  const std::vector<std::string> events = test::sse_payloads(stream->body);
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(json::parse(events[0])["choices"][0]["text"], prompt);
  std::string text;
  for (const std::string& event : events)
    if (event != "[DONE]") text += json::parse(event)["choices"][0]["text"].get<std::string>();
  EXPECT_EQ(text, prompt + want.text);
}

TEST_F(Completions, StopStringCutsTheText) {
  const GenerateResult full = expected("Once upon a time", 60);
  ASSERT_GT(full.text.size(), 20u);
  const std::string stop = full.text.substr(12, 5);  // a piece from the middle of the greedy text
  auto res = server_->post("/v1/completions", {{"prompt", "Once upon a time"}, {"max_tokens", 60},
                                                {"temperature", 0}, {"stop", stop}});
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  json j = json::parse(res->body);
  EXPECT_EQ(j["choices"][0]["text"], full.text.substr(0, full.text.find(stop)));
  EXPECT_EQ(j["choices"][0]["finish_reason"], "stop");
}

TEST_F(Completions, MaxTokensGivesLengthFinish) {
  auto res = server_->post("/v1/completions", {{"prompt", "Once upon a time"}, {"max_tokens", 5}, {"temperature", 0}});
  ASSERT_TRUE(res);
  json j = json::parse(res->body);
  EXPECT_EQ(j["usage"]["completion_tokens"], 5);
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
}

// Seeded sampling: the server maps temperature/top_p/seed onto the sampler (top-k and min-p off,
// OpenAI's defaults), so the text equals generate() with the same parameters.
TEST_F(Completions, SeededSamplingEqualsGenerateWithTheSameParameters) {
  GenerateOptions opt;
  opt.max_tokens = 40;
  opt.sampling.temperature = 0.9f;
  opt.sampling.top_p = 0.8f;
  opt.sampling.top_k = 0;
  opt.sampling.min_p = 0;
  opt.sampling.seed = 1234;
  const GenerateResult want = generate(*model_, *tok_, tok_->encode("A dog", true), opt);
  const json body = {{"prompt", "A dog"}, {"max_tokens", 40}, {"temperature", 0.9}, {"top_p", 0.8}, {"seed", 1234}};
  for (int i = 0; i < 2; ++i) {
    auto res = server_->post("/v1/completions", body);
    ASSERT_TRUE(res);
    EXPECT_EQ(json::parse(res->body)["choices"][0]["text"], want.text);
  }
}

// OpenAI's penalties and logit_bias reach the sampler: the text equals generate() with the same
// parameters, and a logit_bias of 100 on one token makes every greedy token that one (OpenAI:
// "values like 100 should result in exclusive selection of the relevant token").
TEST_F(Completions, PenaltiesAndLogitBiasEqualGenerateWithTheSameParameters) {
  GenerateOptions opt;
  opt.max_tokens = 40;
  opt.sampling.temperature = 0;
  opt.sampling.frequency_penalty = 1.5f;
  opt.sampling.presence_penalty = 0.5f;
  opt.sampling.logit_bias = {{261, -100.0f}};
  const GenerateResult want = generate(*model_, *tok_, tok_->encode("Once upon a time", true), opt);
  const GenerateResult plain = expected("Once upon a time", 40);
  ASSERT_NE(want.text, plain.text);  // the parameters change this greedy text
  EXPECT_EQ(std::count(want.tokens.begin(), want.tokens.end(), 261), 0);
  auto res = server_->post("/v1/completions", {{"prompt", "Once upon a time"}, {"max_tokens", 40}, {"temperature", 0},
                                                {"frequency_penalty", 1.5}, {"presence_penalty", 0.5},
                                                {"logit_bias", {{"261", -100}}}});
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(json::parse(res->body)["choices"][0]["text"], want.text);

  res = server_->post("/v1/completions", {{"prompt", "Once upon a time"}, {"max_tokens", 5}, {"temperature", 0},
                                           {"logit_bias", {{"300", 100}}}, {"logprobs", 0}});
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const json tokens = json::parse(res->body)["choices"][0]["logprobs"]["tokens"];
  ASSERT_EQ(tokens.size(), 5u);
  const std::string piece = tok_->decode({300, 300}).substr(tok_->decode({300}).size());  // token 300 after another
  for (const json& t : tokens) EXPECT_EQ(t, piece) << res->body;
}

TEST_F(Completions, AdapterModelGivesTheAdaptersTextAndBaseTheBaseText) {
  const LoraAdapter& lora = *adapters_->acquire("tiny-lora");
  const GenerateResult base = expected("Once upon a time", 30);
  const GenerateResult adapted = expected("Once upon a time", 30, &lora);
  ASSERT_NE(base.text, adapted.text) << "the test adapter must change the text";
  for (auto [model, want] : {std::pair{"tiny-lora", &adapted}, std::pair{"stories260K", &base}}) {
    auto res = server_->post("/v1/completions", {{"model", model}, {"prompt", "Once upon a time"},
                                                  {"max_tokens", 30}, {"temperature", 0}});
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    json j = json::parse(res->body);
    EXPECT_EQ(j["model"], model);
    EXPECT_EQ(j["choices"][0]["text"], want->text) << model;
  }
}

// Four clients at once (two streaming, one with the adapter): each gets its own right text.
TEST_F(Completions, ConcurrentClientsEachGetTheirText) {
  const LoraAdapter* lora = adapters_->acquire("tiny-lora").get();
  struct Case {
    std::string prompt, model;
    bool stream;
    const LoraAdapter* adapter;
  };
  const std::vector<Case> cases = {{"Once upon a time", "stories260K", false, nullptr},
                                   {"The little girl", "stories260K", true, nullptr},
                                   {"Tom had a ball", "tiny-lora", false, lora},
                                   {"One day", "tiny-lora", true, lora}};
  std::vector<std::future<std::string>> texts;
  for (const Case& c : cases)
    texts.push_back(std::async(std::launch::async, [&, c] {
      auto res = server_->post("/v1/completions", {{"model", c.model}, {"prompt", c.prompt}, {"max_tokens", 50},
                                                    {"temperature", 0}, {"stream", c.stream}});
      if (!res || res->status != 200) return std::string("<request failed>");
      if (!c.stream) return json::parse(res->body)["choices"][0]["text"].get<std::string>();
      std::string text;
      for (const std::string& e : test::sse_payloads(res->body))
        if (e != "[DONE]") text += json::parse(e)["choices"][0]["text"].get<std::string>();
      return text;
    }));
  for (size_t i = 0; i < cases.size(); ++i)
    EXPECT_EQ(texts[i].get(), expected(cases[i].prompt, 50, cases[i].adapter).text) << cases[i].prompt;
}

}  // namespace
