// RAG chat: a chat request that names a knowledge base ("kb" or the alias MODEL+kb:NAME) is
// answered from it. stories260K (no chat template: the rag layer's plain grounded prompt) serves a
// knowledge base of the NIDDK diabetes booklet. The expected answer comes from rag::ask, the path
// `tunekit ask` takes (the library's generate(), not the server's engine); the expected sources
// from the store itself.
#include <gtest/gtest.h>

#include <future>

#include "server/openai_api.h"
#include "server/rag_chat.h"
#include "server_fixture.h"
#include "../rag/encoder_test_util.h"
#include "tunekit/rag/ingest.h"

using namespace tunekit;
using nlohmann::json;

namespace {

const char* kNiddk = "niddk-eating-and-diabetes.pdf";
const char* kGlucoseQuestion = "What should my blood glucose be before meals?";

class RagChat : public test::StoriesServer {
 protected:
  static void SetUpTestSuite() {
    StoriesServer::SetUpTestSuite();
    const auto pdf = test::shared_dir() / "data/docs" / kNiddk;
    if (!served_ || !std::filesystem::exists(pdf)) return;
    const auto dir = test::temp_dir("rag_chat_kb");
    {
      auto kb = rag::KnowledgeBase::open(dir, true);
      rag::IngestReport report = rag::ingest(*kb, {pdf}, {});
      ASSERT_EQ(report.added.size(), 1u);
    }
    kb_ = std::make_shared<server::ServedKnowledgeBase>(dir);
    served_->knowledge_bases["docs"] = kb_;
  }
  static void TearDownTestSuite() {
    if (served_) served_->knowledge_bases.clear();
    kb_.reset();
    StoriesServer::TearDownTestSuite();
  }
  void SetUp() override {
    TUNEKIT_REQUIRE_SHARED(std::string("data/docs/") + kNiddk);
    StoriesServer::SetUp();
  }

  // What `tunekit ask` answers from kb (greedy; BM25 where the base has no vectors, else hybrid).
  rag::AskResult expected_answer(const std::string& question, int64_t max_tokens, const LoraAdapter* adapter = nullptr,
                                 const server::ServedKnowledgeBase* kb = nullptr) const {
    if (!kb) kb = kb_.get();
    rag::AskOptions o;
    o.retrieve.mode = kb->encoder() ? rag::RetrievalMode::Hybrid : rag::RetrievalMode::Bm25;
    o.prompt.context_tokens = model_->config.n_ctx;
    o.generate.max_tokens = max_tokens;
    o.generate.sampling.temperature = 0;
    o.generate.adapter = adapter;
    return rag::ask(*model_, *tok_, nullptr, kb->kb(), kb->retriever(), kb->encoder(), question, o);
  }

  static json ask_body(const std::string& question, int64_t max_tokens) {
    return {{"kb", "docs"},
            {"messages", {{{"role", "user"}, {"content", question}}}},
            {"max_tokens", max_tokens},
            {"temperature", 0}};
  }

  // Each source is the store's chunk, numbered from 1; returns the footer an uncited answer gets.
  std::string check_sources(const json& sources, const server::ServedKnowledgeBase* kb = nullptr) const {
    if (!kb) kb = kb_.get();
    EXPECT_TRUE(sources.is_array() && !sources.empty()) << sources;
    std::string footer = "\n\nSources:";
    for (size_t i = 0; i < sources.size(); ++i) {
      const json& s = sources[i];
      EXPECT_EQ(s["index"], i + 1);
      std::optional<rag::ChunkRecord> chunk = kb->kb().chunk(s["chunk_id"].get<int64_t>());
      EXPECT_TRUE(chunk.has_value()) << s;
      if (!chunk) continue;
      EXPECT_EQ(s["document"], chunk->document);
      EXPECT_EQ(s["page"], chunk->page_first);
      EXPECT_EQ(s["page_last"], chunk->page_last);
      EXPECT_EQ(s["text"], chunk->text);
      EXPECT_TRUE(s["score"].is_number());
      const std::string pages = chunk->page_last > chunk->page_first
                                    ? "pp. " + std::to_string(chunk->page_first) + "-" + std::to_string(chunk->page_last)
                                    : "p. " + std::to_string(chunk->page_first);
      footer += std::string(i == 0 ? " [" : "; [") + std::to_string(i + 1) + "] " + chunk->document + ", " + pages;
    }
    return footer;
  }

  static inline std::shared_ptr<server::ServedKnowledgeBase> kb_;
};

TEST_F(RagChat, AnswerCarriesSourcesAndCitesThem) {
  const rag::AskResult want = expected_answer(kGlucoseQuestion, 16);
  ASSERT_TRUE(want.grounded);
  auto res = server_->post("/v1/chat/completions", ask_body(kGlucoseQuestion, 16));
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  json j = json::parse(res->body);
  EXPECT_EQ(j["object"], "chat.completion");
  const std::string footer = check_sources(j["sources"]);
  // The booklet's answer ("Before meals 70 to 130") stands on page 8: a source spans it.
  bool page_8 = false;
  for (const json& s : j["sources"]) page_8 |= s["document"] == kNiddk && s["page"] <= 8 && s["page_last"] >= 8;
  EXPECT_TRUE(page_8) << j["sources"];
  // Every source `tunekit ask` lists is a server source under the same [n].
  for (const rag::Citation& c : want.sources) {
    ASSERT_LE(size_t(c.number), j["sources"].size());
    EXPECT_EQ(j["sources"][c.number - 1]["chunk_id"], c.chunk_id);
  }
  // stories260K never writes [n]: the server appends the markers of the sources.
  ASSERT_TRUE(rag::cited_numbers(want.answer, j["sources"].size()).empty()) << want.answer;
  EXPECT_EQ(j["choices"][0]["message"]["content"], want.answer + footer);
  EXPECT_EQ(j["choices"][0]["finish_reason"], want.finish_reason);
  EXPECT_EQ(j["usage"]["prompt_tokens"], want.prompt_tokens);
  EXPECT_EQ(j["usage"]["completion_tokens"], want.answer_tokens);
}

TEST_F(RagChat, StreamSendsSourcesFirstThenTheSameText) {
  auto plain = server_->post("/v1/chat/completions", ask_body(kGlucoseQuestion, 16));
  json body = ask_body(kGlucoseQuestion, 16);
  body["stream"] = true;
  auto res = server_->post("/v1/chat/completions", body);
  ASSERT_TRUE(plain && res);
  ASSERT_EQ(res->status, 200) << res->body;
  const json want = json::parse(plain->body);
  std::vector<std::string> events = test::sse_payloads(res->body);
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.back(), "[DONE]");
  json first = json::parse(events.front());
  EXPECT_EQ(first["sources"], want["sources"]);
  EXPECT_EQ(first["choices"][0]["delta"]["role"], "assistant");
  EXPECT_EQ(first["choices"][0]["delta"]["content"], "");  // no text before the sources
  std::string text;
  for (size_t i = 1; i + 1 < events.size(); ++i) {
    json e = json::parse(events[i]);
    EXPECT_FALSE(e.contains("sources"));
    if (e["choices"][0]["delta"].contains("content")) text += e["choices"][0]["delta"]["content"].get<std::string>();
  }
  EXPECT_EQ(text, want["choices"][0]["message"]["content"]);
  EXPECT_EQ(json::parse(events[events.size() - 2])["choices"][0]["finish_reason"], want["choices"][0]["finish_reason"]);
}

TEST_F(RagChat, ModelAliasNamesTheKnowledgeBaseAndTheAdapter) {
  const std::shared_ptr<const LoraAdapter> held = adapters_->acquire("tiny-lora");
  const LoraAdapter* adapter = held.get();
  const rag::AskResult want = expected_answer(kGlucoseQuestion, 12, adapter);
  json body = ask_body(kGlucoseQuestion, 12);
  body.erase("kb");
  body["model"] = "tiny-lora+kb:docs";
  auto res = server_->post("/v1/chat/completions", body);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  json j = json::parse(res->body);
  EXPECT_EQ(j["model"], "tiny-lora+kb:docs");
  const std::string footer = check_sources(j["sources"]);
  EXPECT_EQ(j["choices"][0]["message"]["content"], want.answer + footer);

  body["model"] = "stories260K+kb:docs";  // the base by name
  auto base = server_->post("/v1/chat/completions", body);
  ASSERT_TRUE(base);
  ASSERT_EQ(base->status, 200) << base->body;
  EXPECT_EQ(json::parse(base->body)["choices"][0]["message"]["content"],
            expected_answer(kGlucoseQuestion, 12).answer + footer);
}

TEST_F(RagChat, UnknownKnowledgeBaseIs404) {
  json body = ask_body(kGlucoseQuestion, 4);
  body["kb"] = "recipes";
  auto res = server_->post("/v1/chat/completions", body);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  json e = json::parse(res->body)["error"];
  EXPECT_EQ(e["code"], "knowledge_base_not_found");
  EXPECT_EQ(e["param"], "kb");
  EXPECT_NE(e["message"].get<std::string>().find("recipes"), std::string::npos);

  body.erase("kb");
  body["model"] = "stories260K+kb:recipes";
  auto alias = server_->post("/v1/chat/completions", body);
  ASSERT_TRUE(alias);
  EXPECT_EQ(alias->status, 404);
  body["model"] = "gpt-4+kb:docs";  // the model part is checked too
  auto model = server_->post("/v1/chat/completions", body);
  ASSERT_TRUE(model);
  EXPECT_EQ(model->status, 404);
  EXPECT_EQ(json::parse(model->body)["error"]["code"], "model_not_found");
}

TEST_F(RagChat, BadKnowledgeBaseRequestsAre400) {
  json body = ask_body(kGlucoseQuestion, 4);
  body["model"] = "stories260K+kb:other";  // the alias and "kb" disagree
  auto mixed = server_->post("/v1/chat/completions", body);
  ASSERT_TRUE(mixed);
  EXPECT_EQ(mixed->status, 400) << mixed->body;
  auto completion = server_->post("/v1/completions", {{"prompt", "Once"}, {"kb", "docs"}});
  ASSERT_TRUE(completion);
  EXPECT_EQ(completion->status, 400) << completion->body;
  EXPECT_EQ(json::parse(completion->body)["error"]["param"], "kb");
  auto no_question = server_->post("/v1/chat/completions",
                                   {{"kb", "docs"}, {"messages", {{{"role", "system"}, {"content", "Be brief."}}}}});
  ASSERT_TRUE(no_question);
  EXPECT_EQ(no_question->status, 400) << no_question->body;
  json plain = ask_body(kGlucoseQuestion, 4);
  plain.erase("kb");  // stories260K has no chat template: only a knowledge-base chat can answer
  auto no_template = server_->post("/v1/chat/completions", plain);
  ASSERT_TRUE(no_template);
  EXPECT_EQ(no_template->status, 400);
  json e = json::parse(no_template->body)["error"];
  EXPECT_EQ(e["code"], "no_chat_template");
  EXPECT_NE(e["message"].get<std::string>().find("knowledge base"), std::string::npos) << e;
  auto no_room = server_->post("/v1/chat/completions", ask_body(kGlucoseQuestion, model_->config.n_ctx));
  ASSERT_TRUE(no_room);
  EXPECT_EQ(no_room->status, 400) << no_room->body;
  EXPECT_EQ(json::parse(no_room->body)["error"]["code"], "context_length_exceeded");
  // A question that alone fills the context beside the answer.
  std::string long_question = "What about blood glucose";
  for (int i = 0; i < 200; ++i) long_question += " and blood glucose";
  auto too_long = server_->post("/v1/chat/completions", ask_body(long_question + "?", 64));
  ASSERT_TRUE(too_long);
  EXPECT_EQ(too_long->status, 400) << too_long->body;
  EXPECT_EQ(json::parse(too_long->body)["error"]["code"], "context_length_exceeded");
  // The question fits, but beside 256 answer tokens no relevant passage does: an error naming
  // max_tokens, not the "nothing relevant" answer (which would be false).
  rag::PromptOptions whole_context;
  whole_context.context_tokens = model_->config.n_ctx;
  whole_context.answer_tokens = 0;
  const int64_t question_only =
      int64_t(rag::build_grounded_prompt(kGlucoseQuestion, {}, *tok_, nullptr, whole_context).tokens.size());
  const int64_t squeezed = model_->config.n_ctx - question_only - 8;  // room for the question, not for a passage
  auto no_passage_fits = server_->post("/v1/chat/completions", ask_body(kGlucoseQuestion, squeezed));
  ASSERT_TRUE(no_passage_fits);
  EXPECT_EQ(no_passage_fits->status, 400) << no_passage_fits->body;
  const json squeezed_error = json::parse(no_passage_fits->body)["error"];
  EXPECT_EQ(squeezed_error["code"], "context_length_exceeded");
  EXPECT_EQ(squeezed_error["param"], "max_tokens");
}

TEST_F(RagChat, NothingRelevantSaysSoWithoutSources) {
  const std::string question = "Which xylophone quartets toured Zanzibar?";
  ASSERT_FALSE(expected_answer(question, 8).grounded);  // the rag layer finds nothing relevant either
  auto res = server_->post("/v1/chat/completions", ask_body(question, 8));
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  json j = json::parse(res->body);
  EXPECT_EQ(j["sources"], json::array());
  EXPECT_EQ(j["choices"][0]["message"]["content"], rag::kNothingRelevantAnswer);
  EXPECT_EQ(j["usage"]["completion_tokens"], 0);

  json body = ask_body(question, 8);
  body["stream"] = true;
  auto stream = server_->post("/v1/chat/completions", body);
  ASSERT_TRUE(stream);
  std::vector<std::string> events = test::sse_payloads(stream->body);
  ASSERT_EQ(events.size(), 4u) << stream->body;  // sources + role, the answer, finish, [DONE]
  EXPECT_EQ(json::parse(events[0])["sources"], json::array());
  EXPECT_EQ(json::parse(events[1])["choices"][0]["delta"]["content"], rag::kNothingRelevantAnswer);
  EXPECT_EQ(json::parse(events[2])["choices"][0]["finish_reason"], "stop");
}

TEST_F(RagChat, ConcurrentRequestsRetrieveSafely) {
  auto want = server_->post("/v1/chat/completions", ask_body(kGlucoseQuestion, 4));
  ASSERT_TRUE(want);
  std::vector<std::future<std::string>> bodies;
  for (int i = 0; i < 6; ++i)
    bodies.push_back(std::async(std::launch::async, [&] {
      auto res = server_->post("/v1/chat/completions", ask_body(kGlucoseQuestion, 4));
      return res && res->status == 200 ? res->body : std::string("failed");
    }));
  const json expected = json::parse(want->body);
  for (auto& b : bodies) {
    json j = json::parse(b.get(), nullptr, false);
    ASSERT_FALSE(j.is_discarded());
    EXPECT_EQ(j["sources"], expected["sources"]);
    EXPECT_EQ(j["choices"][0]["message"]["content"], expected["choices"][0]["message"]["content"]);
  }
}

TEST_F(RagChat, KnowledgeBasesAreListed) {
  auto res = server_->client().Get("/v1/knowledge_bases");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  json j = json::parse(res->body);
  EXPECT_EQ(j["object"], "list");
  ASSERT_EQ(j["data"].size(), 1u);
  EXPECT_EQ(j["data"][0]["id"], "docs");
  EXPECT_EQ(j["data"][0]["object"], "knowledge_base");
  EXPECT_EQ(j["data"][0]["documents"], 1);
  EXPECT_EQ(j["data"][0]["chunks"], kb_->kb().chunk_count());
  EXPECT_EQ(j["data"][0]["retrieval"], "bm25");
}

TEST_F(RagChat, ModelListOffersTheAliasOfEachKnowledgeBaseAndItAnswersWithSources) {
  auto res = server_->client().Get("/v1/models");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  const json models = json::parse(res->body);
  json alias;
  for (const json& m : models["data"])
    if (m["id"] == "stories260K+kb:docs") alias = m;
  ASSERT_FALSE(alias.is_null()) << res->body;
  EXPECT_EQ(alias["object"], "model");
  EXPECT_EQ(alias["parent"], "stories260K");
  EXPECT_EQ(alias["knowledge_base"], "docs");
  // What a client that can only pick a model from the list sends: no "kb" field, the alias as model.
  json body = ask_body(kGlucoseQuestion, 16);
  body.erase("kb");
  body["model"] = alias["id"];
  auto chat = server_->post("/v1/chat/completions", body);
  ASSERT_TRUE(chat);
  ASSERT_EQ(chat->status, 200) << chat->body;
  EXPECT_FALSE(json::parse(chat->body)["sources"].empty());
}

TEST_F(RagChat, HybridWhenTheBaseHasVectors) {
  const auto dir = test::temp_dir("rag_chat_dense_kb");
  {
    auto kb = rag::KnowledgeBase::open(dir, true);
    rag::ingest(*kb, {test::shared_dir() / "data/docs" / kNiddk}, {});
    auto encoder = rag::SentenceEncoder::load(test::golden_encoder_dir());
    rag::embed_knowledge_base(*kb, *encoder, test::golden_encoder_dir());
  }
  server::ServedModel served;
  served.name = "stories260K";
  served.model = model_.get();
  served.tokenizer = tok_.get();
  auto kb = std::make_shared<server::ServedKnowledgeBase>(dir);
  ASSERT_EQ(kb->mode(), rag::RetrievalMode::Hybrid) << kb->warning();
  served.knowledge_bases["dense"] = kb;
  server::SerialEngine engine(*model_, *tok_);
  test::RunningServer server(served, engine);

  auto list = server.client().Get("/v1/knowledge_bases");
  ASSERT_TRUE(list);
  EXPECT_EQ(json::parse(list->body)["data"][0]["retrieval"], "hybrid");
  const rag::AskResult want = expected_answer(kGlucoseQuestion, 16, nullptr, kb.get());
  ASSERT_TRUE(want.grounded);
  ASSERT_EQ(want.retrieval_mode, "hybrid");
  json body = ask_body(kGlucoseQuestion, 16);
  body["kb"] = "dense";
  auto res = server.post("/v1/chat/completions", body);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  json j = json::parse(res->body);
  const std::string footer = check_sources(j["sources"], kb.get());
  for (const rag::Citation& c : want.sources) {
    ASSERT_LE(size_t(c.number), j["sources"].size());
    EXPECT_EQ(j["sources"][c.number - 1]["chunk_id"], c.chunk_id);
    EXPECT_DOUBLE_EQ(j["sources"][c.number - 1]["score"].get<double>(), c.score);  // a fused (RRF) score
  }
  EXPECT_EQ(j["choices"][0]["message"]["content"], want.answer + footer);
  // Concurrent requests encode their questions and search the index at once: the same answers.
  std::vector<std::future<std::string>> bodies;
  for (int i = 0; i < 4; ++i)
    bodies.push_back(std::async(std::launch::async, [&] {
      auto r = server.post("/v1/chat/completions", body);
      return r && r->status == 200 ? r->body : std::string("failed");
    }));
  for (auto& b : bodies) {
    json other = json::parse(b.get(), nullptr, false);
    ASSERT_FALSE(other.is_discarded());
    EXPECT_EQ(other["sources"], j["sources"]);
    EXPECT_EQ(other["choices"][0]["message"]["content"], j["choices"][0]["message"]["content"]);
  }
}

// An engine whose "model" writes a fixed answer that cites [1]: what a real instruction-tuned
// model does with the grounded prompt's instructions.
class CitingEngine final : public server::Engine {
 public:
  std::future<GenerateResult> submit(server::EngineRequest request) override {
    GenerateResult r;
    for (const char* piece : {"Before meals, ", "aim for 80 to 130 mg/dL ", "[1]."}) {
      r.text += piece;
      if (request.options.on_text) request.options.on_text(piece);
    }
    r.finish_reason = "stop";
    r.n_prompt = int64_t(request.prompt.size());
    std::promise<GenerateResult> done;
    done.set_value(r);
    return done.get_future();
  }
  void shutdown() override {}
  server::EngineStats stats() const override { return {}; }
};

TEST_F(RagChat, AnswerThatCitesGetsNoFooter) {
  CitingEngine engine;
  test::RunningServer server(*served_, engine);
  auto res = server.post("/v1/chat/completions", ask_body(kGlucoseQuestion, 16));
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  json j = json::parse(res->body);
  EXPECT_EQ(j["choices"][0]["message"]["content"], "Before meals, aim for 80 to 130 mg/dL [1].");
  check_sources(j["sources"]);

  json body = ask_body(kGlucoseQuestion, 16);
  body["stream"] = true;
  auto stream = server.post("/v1/chat/completions", body);
  ASSERT_TRUE(stream);
  std::string text;
  for (const std::string& e : test::sse_payloads(stream->body)) {
    if (e == "[DONE]") continue;
    const json delta = json::parse(e)["choices"][0]["delta"];
    if (delta.contains("content")) text += delta["content"].get<std::string>();
  }
  EXPECT_EQ(text, "Before meals, aim for 80 to 130 mg/dL [1].");
}

// The footer is only for answers that cite nothing.
TEST(RagChatFooter, OnlyForAnswersWithoutMarkers) {
  rag::GroundedQuestion g;
  g.prompt.sources = {{.id = 7, .document_id = 1, .document = "a.pdf", .page_first = 8, .page_last = 8, .section = "",
                       .text = "Eat at regular times."},
                      {.id = 9, .document_id = 2, .document = "b.md", .page_first = 2, .page_last = 3, .section = "",
                       .text = "Walk daily."}};
  g.scores = {1.5, 0.5};
  EXPECT_EQ(server::citation_footer(g, "Eat well."), "\n\nSources: [1] a.pdf, p. 8; [2] b.md, pp. 2-3");
  EXPECT_EQ(server::citation_footer(g, ""), "Sources: [1] a.pdf, p. 8; [2] b.md, pp. 2-3");
  EXPECT_EQ(server::citation_footer(g, "Eat well [2]."), "");
  EXPECT_EQ(server::citation_footer(g, "Eat well [3]."), "\n\nSources: [1] a.pdf, p. 8; [2] b.md, pp. 2-3");  // no such source
  EXPECT_EQ(server::citation_footer(rag::GroundedQuestion{}, "Nothing."), "");
  json s = server::sources_json(g);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[1], json({{"index", 2}, {"document", "b.md"}, {"page", 2}, {"page_last", 3}, {"chunk_id", 9},
                        {"score", 0.5}, {"text", "Walk daily."}}));
}

TEST(RagChatAlias, SplitsModelAndKnowledgeBase) {
  auto a = server::select_knowledge_base("tiny-lora+kb:docs", "");
  EXPECT_EQ(a.model, "tiny-lora");
  EXPECT_EQ(a.kb, "docs");
  auto b = server::select_knowledge_base("stories260K", "docs");
  EXPECT_EQ(b.model, "stories260K");
  EXPECT_EQ(b.kb, "docs");
  auto c = server::select_knowledge_base("+kb:docs", "docs");  // the base, by omission
  EXPECT_EQ(c.model, "");
  EXPECT_EQ(c.kb, "docs");
  EXPECT_THROW(server::select_knowledge_base("m+kb:docs", "other"), server::ApiError);
  EXPECT_THROW(server::select_knowledge_base("m+kb:", ""), server::ApiError);  // names none
}

}  // namespace
