#include "tunekit/rag/query_llm.h"

#include <gtest/gtest.h>

#include <set>

#include "rag_fakes.h"
#include "test_paths.h"
#include "tunekit/error.h"

namespace tunekit::rag {
namespace {

TEST(ParseRephrasings, StripsMarkersQuotesRepeatsAndTheQuestion) {
  std::string reply =
      "1. How is blood sugar measured?\n"
      "2) what is a normal glucose level\n"
      "- What is a normal GLUCOSE level\n"  // a repeat, ignoring case
      "\n"
      "* \"insulin dose for adults\"\n"
      "Q4: What is the target blood glucose?\n"  // the question itself
      "\xE2\x80\xA2 glucose meter accuracy\n"
      "x\n"
      "one more line past n";
  auto lines = parse_rephrasings(reply, "what is the target blood glucose?", 4);
  EXPECT_EQ(lines, (std::vector<std::string>{"How is blood sugar measured?", "what is a normal glucose level",
                                             "insulin dose for adults", "glucose meter accuracy"}));
}

TEST(ParseRephrasings, EmptyOrBlankReplyGivesNothing) {
  EXPECT_TRUE(parse_rephrasings("", "q", 3).empty());
  EXPECT_TRUE(parse_rephrasings("\n \n\t\n-\n1.\n", "q", 3).empty());
  EXPECT_TRUE(parse_rephrasings("a useful line", "q", 0).empty());
}

TEST(ParseRanking, TakesNumbersInOrderAndAppendsTheUnnamed) {
  auto r = parse_ranking("3, 1, 2", 3);
  EXPECT_EQ(r.order, (std::vector<int64_t>{2, 0, 1}));
  EXPECT_EQ(r.n_named, 3);
  r = parse_ranking("Passage [4] is best; then 4 again, 9, 0 and 2.", 5);  // 9 and 0 are out of range
  EXPECT_EQ(r.order, (std::vector<int64_t>{3, 1, 0, 2, 4}));
  EXPECT_EQ(r.n_named, 2);
}

TEST(ParseRanking, MalformedRepliesKeepTheOriginalOrder) {
  for (const char* reply : {"", "none of them", "99999999999999999999999999, -1", "[0]"}) {
    auto r = parse_ranking(reply, 3);
    EXPECT_EQ(r.order, (std::vector<int64_t>{0, 1, 2})) << reply;
    EXPECT_EQ(r.n_named, 0) << reply;
  }
  EXPECT_TRUE(parse_ranking("1, 2", 0).order.empty());
}

TEST(RerankPrompt, NumbersPassagesAndCutsOnCharacterBoundaries) {
  std::string p = rerank_prompt("why?", {"first passage", "caf\xC3\xA9 au lait"}, 4);
  EXPECT_NE(p.find("Question: why?"), std::string::npos);
  EXPECT_NE(p.find("[1] firs\n"), std::string::npos) << p;
  EXPECT_NE(p.find("[2] caf\n"), std::string::npos) << p;  // "caf" + half of é would be 4 bytes: cut before é
}

// Plumbing with a real (tiny, story-telling) model: its replies are poor, but whatever they are, the
// helpers must return well-formed results.
class LlmHelperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TUNEKIT_REQUIRE_SHARED("models/stories260K/stories260K.bin");
    model = std::make_unique<Model>(load_model(test::shared_dir() / "models/stories260K/stories260K.bin"));
    tokenizer = load_tokenizer(test::shared_dir() / "models/stories260K/tok512.bin");
  }
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tokenizer;
};

TEST_F(LlmHelperTest, RephraseQueriesStartsWithTheQuestionAndParsesTheReply) {
  LlmHelper llm{*model, *tokenizer, nullptr, LlmHelper::greedy(48)};
  const std::string question = "Where did the little dog go?";
  std::string reply = llm.ask(rephrase_prompt(question, 3));
  auto queries = rephrase_queries(llm, question, 3);
  ASSERT_GE(queries.size(), 1u);
  EXPECT_EQ(queries[0], question);
  EXPECT_LE(queries.size(), 4u);
  std::vector<std::string> parsed(queries.begin() + 1, queries.end());
  EXPECT_EQ(parsed, parse_rephrasings(reply, question, 3)) << "greedy decoding must give the same reply twice";
}

TEST_F(LlmHelperTest, RerankReturnsAPermutationOfTheCandidates) {
  test::FakeKnowledgeBase kb(test::temp_dir("rerank"));
  kb.put_texts("story.txt", {"The dog ran to the park.", "Lily had a red ball.", "The sun was hot.", "Tom ate a cake."});
  std::vector<Hit> candidates{{1, 0.9}, {2, 0.8}, {3, 0.7}, {4, 0.6}, {99, 0.5}};  // 99 is not in the base
  LlmHelper llm{*model, *tokenizer, nullptr, LlmHelper::greedy(16)};
  RerankResult r = rerank(llm, kb, "Where did the dog run?", candidates, 3);
  ASSERT_EQ(r.hits.size(), 3u);
  std::set<int64_t> ids;
  for (size_t i = 0; i < r.hits.size(); ++i) {
    EXPECT_TRUE(r.hits[i].chunk_id >= 1 && r.hits[i].chunk_id <= 4) << r.hits[i].chunk_id;
    EXPECT_DOUBLE_EQ(r.hits[i].score, 1.0 / double(i + 1));
    ids.insert(r.hits[i].chunk_id);
  }
  EXPECT_EQ(ids.size(), 3u);
  EXPECT_LE(r.n_named, 4);
  EXPECT_TRUE(rerank(llm, kb, "q", {}, 3).hits.empty());
}

}  // namespace
}  // namespace tunekit::rag
