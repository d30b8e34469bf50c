#include "tunekit/rag/retriever.h"

#include <gtest/gtest.h>

#include "rag_fakes.h"
#include "test_paths.h"
#include "tunekit/error.h"
#include "tunekit/rag/vector_index.h"

namespace tunekit::rag {
namespace {

using test::BagOfWordsEncoder;
using test::FakeKnowledgeBase;

std::vector<Hit> ranked(std::initializer_list<int64_t> ids) {
  std::vector<Hit> hits;
  double score = 100;
  for (int64_t id : ids) hits.push_back({id, score--});  // the scores do not matter to RRF, only the order
  return hits;
}

std::vector<int64_t> ids_of(const std::vector<Hit>& hits) {
  std::vector<int64_t> ids;
  for (auto& h : hits) ids.push_back(h.chunk_id);
  return ids;
}

TEST(FuseRrf, SumsReciprocalRanksAcrossLists) {
  // id 1: ranks 1 and 2; id 3: ranks 3 and 1; id 2: rank 2 once; id 4: rank 3 once (rrf_k 60).
  auto fused = fuse_rrf({ranked({1, 2, 3}), ranked({3, 1, 4})}, 10, 60);
  ASSERT_EQ(fused.size(), 4u);
  EXPECT_EQ(ids_of(fused), (std::vector<int64_t>{1, 3, 2, 4}));
  EXPECT_DOUBLE_EQ(fused[0].score, 1.0 / 61 + 1.0 / 62);  // 0.0325225
  EXPECT_DOUBLE_EQ(fused[1].score, 1.0 / 63 + 1.0 / 61);  // 0.0322665
  EXPECT_DOUBLE_EQ(fused[2].score, 1.0 / 62);
  EXPECT_DOUBLE_EQ(fused[3].score, 1.0 / 63);
}

TEST(FuseRrf, KeepsTheBestKAndBreaksTiesBySmallerId) {
  auto fused = fuse_rrf({ranked({7, 1}), ranked({5, 1})}, 2, 0);
  // 7 and 5: 1/1 each (a tie: 5 first); 1: 1/2 + 1/2 = 1, also tied, and the smallest id.
  EXPECT_EQ(ids_of(fused), (std::vector<int64_t>{1, 5}));
  EXPECT_DOUBLE_EQ(fused[0].score, 1.0);
  EXPECT_DOUBLE_EQ(fused[1].score, 1.0);
}

TEST(FuseRrf, RepeatCountsAtItsFirstPositionOnly) {
  auto fused = fuse_rrf({ranked({2, 2, 9})}, 10, 0);
  ASSERT_EQ(fused.size(), 2u);
  EXPECT_DOUBLE_EQ(fused[0].score, 1.0);      // id 2 at position 1 (not 1 + 1/2)
  EXPECT_DOUBLE_EQ(fused[1].score, 1.0 / 3);  // id 9 at position 3
}

TEST(FuseRrf, EmptyListsAndBadArguments) {
  EXPECT_TRUE(fuse_rrf({}, 5).empty());
  EXPECT_TRUE(fuse_rrf({{}, {}}, 5).empty());
  EXPECT_THROW(fuse_rrf({ranked({1})}, -1), Error);
  EXPECT_THROW(fuse_rrf({ranked({1})}, 5, -3), Error);
}

TEST(RetrievalMode, ParsesNamesAndRejectsOthers) {
  EXPECT_EQ(parse_retrieval_mode("bm25"), RetrievalMode::Bm25);
  EXPECT_EQ(parse_retrieval_mode("dense"), RetrievalMode::Dense);
  EXPECT_EQ(parse_retrieval_mode("hybrid"), RetrievalMode::Hybrid);
  EXPECT_STREQ(retrieval_mode_name(RetrievalMode::Hybrid), "hybrid");
  try {
    parse_retrieval_mode("BM-25");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'BM-25'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("bm25, dense or hybrid"), std::string::npos) << e.what();
  }
  EXPECT_EQ(parse_retrieval_modes("bm25,hybrid"), (std::vector<RetrievalMode>{RetrievalMode::Bm25, RetrievalMode::Hybrid}));
  EXPECT_THROW(parse_retrieval_modes("bm25,,dense"), Error);
  EXPECT_THROW(parse_retrieval_modes(""), Error);
  EXPECT_THROW(parse_retrieval_modes("bm25,sparse"), Error);
}

class RetrieverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kb.put_texts("animals.txt", {"the cat sat on the mat", "dogs chase cats in the park", "a bird sings at dawn",
                                 "insulin lowers blood sugar", "the mat was red"});
    index.add(kb.chunk_ids(), encoder.encode(texts(), EncodeRole::Passage).data());
  }
  std::vector<std::string> texts() const {
    std::vector<std::string> out;
    for (auto& c : kb.chunks(kb.chunk_ids())) out.push_back(c.text);
    return out;
  }
  FakeKnowledgeBase kb{test::temp_dir("retriever")};
  BagOfWordsEncoder encoder{64};
  VectorIndex index{64, "bag-of-words"};
};

TEST_F(RetrieverTest, Bm25ReturnsTheStoresRanking) {
  Retriever retriever(kb, nullptr, nullptr);
  RetrieveOptions options{RetrievalMode::Bm25, 2};
  auto result = retriever.retrieve("cat mat", options);
  EXPECT_EQ(result.mode_used, RetrievalMode::Bm25);
  EXPECT_TRUE(result.warning.empty());
  EXPECT_EQ(ids_of(result.hits), ids_of(kb.search_bm25("cat mat", 2)));
}

TEST_F(RetrieverTest, HybridWithoutEncoderFallsBackToBm25AndSaysSo) {
  Retriever retriever(kb, nullptr, nullptr);
  auto result = retriever.retrieve("insulin", RetrieveOptions{RetrievalMode::Hybrid, 3});
  EXPECT_EQ(result.mode_used, RetrievalMode::Bm25);
  EXPECT_NE(result.warning.find("fell back to BM25"), std::string::npos) << result.warning;
  EXPECT_EQ(ids_of(result.hits), ids_of(kb.search_bm25("insulin", 3)));
}

TEST_F(RetrieverTest, DenseWithoutEncoderIsAnError) {
  Retriever retriever(kb, nullptr, nullptr);
  EXPECT_THROW(retriever.retrieve("cat", RetrieveOptions{RetrievalMode::Dense, 3}), Error);
}

TEST_F(RetrieverTest, EncoderAndIndexMustComeTogetherWithOneDimension) {
  EXPECT_THROW(Retriever(kb, &encoder, nullptr), Error);
  EXPECT_THROW(Retriever(kb, nullptr, &index), Error);
  BagOfWordsEncoder other(32);
  EXPECT_THROW(Retriever(kb, &other, &index), Error);
}

TEST_F(RetrieverTest, DenseFindsTheExactTextFirst) {
  Retriever retriever(kb, &encoder, &index);
  auto hits = retriever.search("insulin lowers blood sugar", RetrieveOptions{RetrievalMode::Dense, 2});
  ASSERT_FALSE(hits.empty());
  EXPECT_EQ(kb.chunk(hits[0].chunk_id)->text, "insulin lowers blood sugar");
  EXPECT_NEAR(hits[0].score, 1.0, 1e-5);  // cosine of a vector with itself
}

TEST_F(RetrieverTest, HybridIsTheRrfOfBothLists) {
  Retriever retriever(kb, &encoder, &index);
  RetrieveOptions options{RetrievalMode::Hybrid, 3, 4, 60};
  auto result = retriever.retrieve("the cat on the mat", options);
  EXPECT_EQ(result.mode_used, RetrievalMode::Hybrid);
  EXPECT_TRUE(result.warning.empty());
  auto query_vector = encoder.encode({"the cat on the mat"}, EncodeRole::Query);
  auto expected = fuse_rrf({kb.search_bm25("the cat on the mat", 4), index.search(query_vector.data(), 4)}, 3, 60);
  ASSERT_EQ(result.hits.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(result.hits[i].chunk_id, expected[i].chunk_id);
    EXPECT_DOUBLE_EQ(result.hits[i].score, expected[i].score);
  }
}

TEST_F(RetrieverTest, MultiQueryFusesEachPhrasingAndSkipsBlankOnes) {
  Retriever retriever(kb, nullptr, nullptr);
  RetrieveOptions options{RetrievalMode::Bm25, 3, 5, 60};
  auto result = retriever.retrieve_multi({"cat", "  ", "", "bird dawn"}, options);
  auto expected = fuse_rrf({kb.search_bm25("cat", 5), kb.search_bm25("bird dawn", 5)}, 3, 60);
  EXPECT_EQ(ids_of(result.hits), ids_of(expected));
  EXPECT_TRUE(retriever.retrieve_multi({"", " \n"}, options).hits.empty());
}

TEST_F(RetrieverTest, RejectsBadOptions) {
  Retriever retriever(kb, nullptr, nullptr);
  EXPECT_THROW(retriever.retrieve("cat", RetrieveOptions{RetrievalMode::Bm25, 0}), Error);
  EXPECT_THROW(retriever.retrieve("cat", RetrieveOptions{RetrievalMode::Bm25, 3, 50, -1}), Error);
}

}  // namespace
}  // namespace tunekit::rag
