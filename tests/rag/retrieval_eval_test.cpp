#include "tunekit/rag/retrieval_eval.h"

#include <gtest/gtest.h>

#include <fstream>

#include "rag_fakes.h"
#include "test_paths.h"
#include "tunekit/error.h"

namespace tunekit::rag {
namespace {

using test::FakeKnowledgeBase;

class RetrievalEvalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Chunk i of each document is page i (the fake's "BM25" counts query words in the chunk).
    kb.put_texts("doc.pdf", {"apples oranges", "bananas", "bananas bananas cherries", "cherries"});
    kb.put_texts("other.pdf", {"apples apples apples"});
  }
  FakeKnowledgeBase kb{test::temp_dir("retrieval_eval")};
  Retriever retriever{kb, nullptr, nullptr};
  // Ranks by hand: "bananas" -> doc p3, doc p2 (rank 2); "oranges" -> doc p1 (rank 1);
  // "apples" -> other p1, doc p1 (rank 2: same page number, other document first); "grapes" -> none.
  std::vector<QaPage> qa{{"bananas", "doc.pdf", 2}, {"oranges", "doc.pdf", 1}, {"apples", "doc.pdf", 1},
                         {"grapes", "doc.pdf", 4}};
};

TEST_F(RetrievalEvalTest, RecallAndMrrAtPageLevel) {
  RetrievalScores s = evaluate_retrieval(kb, retriever, qa, RetrieveOptions{RetrievalMode::Bm25}, 10);
  EXPECT_EQ(s.first_relevant_rank, (std::vector<int64_t>{2, 1, 2, 0}));
  ASSERT_EQ(s.recall.size(), 3u);
  EXPECT_EQ(s.recall[0], (std::pair<int64_t, double>{1, 0.25}));
  EXPECT_EQ(s.recall[1], (std::pair<int64_t, double>{5, 0.75}));
  EXPECT_EQ(s.recall[2], (std::pair<int64_t, double>{10, 0.75}));
  EXPECT_DOUBLE_EQ(s.mrr, (0.5 + 1 + 0.5 + 0) / 4);
}

TEST_F(RetrievalEvalTest, KMaxCutsTheListAndAddsItsOwnCutoff) {
  RetrievalScores one = evaluate_retrieval(kb, retriever, qa, RetrieveOptions{RetrievalMode::Bm25}, 1);
  EXPECT_EQ(one.first_relevant_rank, (std::vector<int64_t>{0, 1, 0, 0}));
  ASSERT_EQ(one.recall.size(), 1u);
  EXPECT_DOUBLE_EQ(one.mrr, 0.25);
  RetrievalScores seven = evaluate_retrieval(kb, retriever, qa, RetrieveOptions{RetrievalMode::Bm25}, 7);
  ASSERT_EQ(seven.recall.size(), 3u);
  EXPECT_EQ(seven.recall[2].first, 7);
}

TEST_F(RetrievalEvalTest, AChunkSpanningPagesCountsForEachOfThem) {
  kb.put_document(DocumentRecord{0, "span.pdf", "span.pdf", "pdf", "", "", 6, "{}"}, {},
                  {ChunkInput{5, 6, "", "zebra stripes"}});
  RetrievalScores s = evaluate_retrieval(kb, retriever, {{"zebra", "span.pdf", 6}, {"zebra", "span.pdf", 7}},
                                         RetrieveOptions{RetrievalMode::Bm25}, 5);
  EXPECT_EQ(s.first_relevant_rank, (std::vector<int64_t>{1, 0}));
}

TEST_F(RetrievalEvalTest, HybridFallbackIsReported) {
  RetrievalScores s = evaluate_retrieval(kb, retriever, qa, RetrieveOptions{RetrievalMode::Hybrid}, 10);
  EXPECT_EQ(s.mode, RetrievalMode::Hybrid);
  EXPECT_EQ(s.mode_used, RetrievalMode::Bm25);
  EXPECT_FALSE(s.warning.empty());
}

TEST(LoadQaPages, RealFileKeepsTheEntriesWithPages) {
  TUNEKIT_REQUIRE_SHARED("data/qa/medical-docs-qa.json");
  auto qa = load_qa_pages(test::shared_dir() / "data/qa/medical-docs-qa.json");
  ASSERT_EQ(qa.size(), 8u);  // 11 entries, 3 of them with a source snippet instead of a page
  EXPECT_EQ(qa[0].document, "niddk-eating-and-diabetes.pdf");
  EXPECT_EQ(qa[0].page, 8);
}

TEST(LoadQaPages, MalformedEntriesAreErrorsNamingFileAndEntry) {
  auto dir = test::temp_dir("qa_pages");
  auto write = [&](const std::string& text) {
    std::ofstream(dir / "qa.json") << text;
    return dir / "qa.json";
  };
  EXPECT_EQ(load_qa_pages(write(R"([{"question": "q", "document": "d.pdf", "page": 3}, {"question": "no page"}])")).size(), 1u);
  for (const char* bad : {R"({"question": "q"})", R"([{"question": "q", "document": "d", "page": "three"}])",
                          R"([{"question": "q", "page": 3}])", R"([{"question": "q", "document": "d", "page": 0}])",
                          "[{"}) {
    try {
      load_qa_pages(write(bad));
      ADD_FAILURE() << "no error for " << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("qa.json"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace tunekit::rag
