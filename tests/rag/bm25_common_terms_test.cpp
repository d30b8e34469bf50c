// search_bm25 on a large base leaves out terms most chunks contain (their BM25 weight is small and
// ranking every chunk they match is what made queries slow); on a small base every term counts.
#include <gtest/gtest.h>

#include <set>

#include "rag/bm25_query.h"
#include "test_paths.h"
#include "tunekit/rag/store.h"

namespace tunekit::rag {
namespace {

std::set<int64_t> ids_of(const std::vector<Hit>& hits) {
  std::set<int64_t> ids;
  for (const auto& h : hits) ids.insert(h.chunk_id);
  return ids;
}

// n chunks that all contain "common"; every 100th also contains "zebra"; chunk 7 also "okapi".
std::unique_ptr<KnowledgeBase> base_of(const std::string& name, int64_t n) {
  auto kb = KnowledgeBase::open(test::temp_dir(name) / "kb", true);
  std::vector<ChunkInput> chunks;
  for (int64_t i = 0; i < n; ++i) {
    std::string text = "common words in chunk number " + std::to_string(i);
    if (i % 100 == 0) text += " zebra";
    if (i == 7) text += " okapi";
    chunks.push_back({1, 1, "", text});
  }
  kb->put_document(DocumentRecord{0, "d.txt", "d.txt", "text", "h", "", 1, "{}"}, {{1, "page"}}, chunks);
  return kb;
}

TEST(Bm25CommonTerms, LargeBaseLeavesOutTermsInMostChunks) {
  auto kb = base_of("bm25_common_large", 3000);  // "common": in 3000 of 3000 chunks, above 1/20 and 2000
  // "common" left out: exactly the zebra chunks match, as for "zebra" alone.
  auto both = kb->search_bm25("Common zebra?", 100);
  EXPECT_EQ(both.size(), 30u);
  EXPECT_EQ(ids_of(both), ids_of(kb->search_bm25("zebra", 100)));
  // Every term common: the rarest is kept, so there are still hits.
  EXPECT_EQ(kb->search_bm25("common words", 5).size(), 5u);
  // A rare term ranks first whatever common ones come with it.
  auto okapi = kb->search_bm25("common words chunk okapi", 3);
  ASSERT_FALSE(okapi.empty());
  EXPECT_EQ(kb->chunk(okapi[0].chunk_id)->text.find("okapi") != std::string::npos, true);
}

TEST(Bm25CommonTerms, SmallBaseKeepsEveryTerm) {
  auto kb = base_of("bm25_common_small", 500);  // below 2000 chunks: nothing is left out
  EXPECT_EQ(kb->search_bm25("common zebra", 1000).size(), 500u);
}

TEST(Bm25QueryTerms, SplitsOnSpaceAndNormalisesForTheVocabulary) {
  EXPECT_EQ(query_terms("  What is\tthe (target)?  -- 70-130 "),
            (std::vector<std::string>{"What", "is", "the", "(target)?", "70-130"}));
  EXPECT_EQ(vocabulary_form("(Target)?"), "target");
  EXPECT_EQ(vocabulary_form("GLUCOSE"), "glucose");
  EXPECT_EQ(vocabulary_form("70-130"), "70-130");
  EXPECT_EQ(fts5_or_query(std::vector<std::string>{"a\"b", "c"}), "\"a\"\"b\" OR \"c\"");
}

}  // namespace
}  // namespace tunekit::rag
