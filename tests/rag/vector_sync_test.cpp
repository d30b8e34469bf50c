#include <gtest/gtest.h>

#include <fstream>

#include "rag_fakes.h"
#include "test_paths.h"
#include "tunekit/error.h"
#include "tunekit/rag/vector_index.h"

namespace tunekit::rag {
namespace {
namespace fs = std::filesystem;

using test::BagOfWordsEncoder;
using test::FakeKnowledgeBase;

TEST(SyncVectors, EmbedsNewChunksAndDropsRemovedOnes) {
  FakeKnowledgeBase kb(test::temp_dir("sync_vectors"));
  kb.put_texts("a.txt", {"alpha one", "alpha two", "alpha three"});
  kb.put_texts("b.txt", {"beta one", "beta two"});
  BagOfWordsEncoder encoder(32);
  VectorIndex index(32, encoder.name());

  SyncOptions options;
  options.batch_size = 2;
  SyncStats first = sync_vectors(kb, encoder, index, options);
  EXPECT_EQ(first.added, 5);
  EXPECT_EQ(first.removed, 0);
  EXPECT_EQ(first.total, 5);
  EXPECT_EQ(encoder.calls, 3);  // 5 chunks in batches of 2
  EXPECT_EQ(index.ids(), kb.chunk_ids());

  // Nothing changed: nothing embedded.
  SyncStats again = sync_vectors(kb, encoder, index, options);
  EXPECT_EQ(again.added + again.removed, 0);
  EXPECT_EQ(encoder.calls, 3);

  // Replacing a document gives its chunks new ids: the old vectors go, the new ones come.
  auto old_ids = kb.chunk_ids();
  kb.put_texts("a.txt", {"alpha revised"});
  SyncStats replaced = sync_vectors(kb, encoder, index, options);
  EXPECT_EQ(replaced.added, 1);
  EXPECT_EQ(replaced.removed, 3);
  EXPECT_EQ(replaced.total, 3);
  EXPECT_EQ(index.ids(), kb.chunk_ids());
  auto query = encoder.encode({"alpha revised"}, EncodeRole::Query);
  auto hits = index.search(query.data(), 3);
  EXPECT_EQ(kb.chunk(hits.at(0).chunk_id)->text, "alpha revised");
  for (auto& h : hits) EXPECT_TRUE(kb.chunk(h.chunk_id).has_value()) << "a removed chunk came back: " << h.chunk_id;

  kb.remove_document("b.txt");
  SyncStats removed = sync_vectors(kb, encoder, index, options);
  EXPECT_EQ(removed.removed, 2);
  EXPECT_EQ(index.ids(), kb.chunk_ids());
  EXPECT_EQ(index.size(), 1);
}

TEST(SyncVectors, DimensionMismatchIsAnError) {
  FakeKnowledgeBase kb(test::temp_dir("sync_vectors_dim"));
  BagOfWordsEncoder encoder(32);
  VectorIndex index(16, "other");
  EXPECT_THROW(sync_vectors(kb, encoder, index), Error);
}

TEST(EmbedKnowledgeBase, SavesTheIndexAndRecordsTheEncoder) {
  FakeKnowledgeBase kb(test::temp_dir("embed_kb"));
  kb.put_texts("a.txt", {"alpha one", "alpha two"});
  BagOfWordsEncoder encoder(32, "bow-32");
  SyncStats stats = embed_knowledge_base(kb, encoder, kb.dir() / "encoder-folder");
  EXPECT_EQ(stats.added, 2);
  EXPECT_TRUE(stats.rebuilt_because.empty());
  EXPECT_EQ(kb.meta("encoder_dim").value_or(""), "32");
  EXPECT_EQ(kb.meta("encoder").value_or(""), (kb.dir() / "encoder-folder").string());
  auto index = VectorIndex::load(kb.vector_index_path());
  EXPECT_EQ(index->encoder_name(), "bow-32");
  EXPECT_EQ(index->ids(), kb.chunk_ids());

  // Incremental: one more document, only its chunk is embedded.
  kb.put_texts("b.txt", {"beta"});
  int64_t calls = encoder.calls;
  stats = embed_knowledge_base(kb, encoder, kb.dir() / "encoder-folder");
  EXPECT_EQ(stats.added, 1);
  EXPECT_EQ(encoder.calls, calls + 1);
  EXPECT_EQ(VectorIndex::load(kb.vector_index_path())->size(), 3);
}

TEST(EmbedKnowledgeBase, RebuildsForAnotherEncoderOrACorruptIndex) {
  FakeKnowledgeBase kb(test::temp_dir("embed_kb_rebuild"));
  kb.put_texts("a.txt", {"alpha one", "alpha two"});
  BagOfWordsEncoder first(32, "bow-32"), second(16, "bow-16");
  embed_knowledge_base(kb, first, "enc1");
  SyncStats stats = embed_knowledge_base(kb, second, "enc2");
  EXPECT_NE(stats.rebuilt_because.find("bow-32"), std::string::npos) << stats.rebuilt_because;
  EXPECT_EQ(stats.added, 2);
  EXPECT_EQ(VectorIndex::load(kb.vector_index_path())->dim(), 16);
  EXPECT_EQ(kb.meta("encoder_dim").value_or(""), "16");

  std::ofstream(kb.vector_index_path(), std::ios::trunc) << "garbage";
  stats = embed_knowledge_base(kb, second, "enc2");
  EXPECT_NE(stats.rebuilt_because.find("could not be read"), std::string::npos) << stats.rebuilt_because;
  EXPECT_EQ(VectorIndex::load(kb.vector_index_path())->size(), 2);
}

}  // namespace
}  // namespace tunekit::rag

namespace tunekit::rag {
namespace {

// The same on the real SQLite store: a replaced document's chunks get new ids (AUTOINCREMENT).
TEST(EmbedKnowledgeBase, FollowsTheRealStoreThroughReplaceAndRemove) {
  auto kb = KnowledgeBase::open(test::temp_dir("embed_real_store") / "kb", true);
  auto put = [&](const std::string& name, const std::vector<std::string>& texts) {
    std::vector<ChunkInput> chunks;
    for (const auto& t : texts) chunks.push_back({1, 1, "", t});
    kb->put_document(DocumentRecord{0, name, name, "text", name + std::to_string(texts.size()), "", 1, "{}"},
                     {{1, "page"}}, chunks);
  };
  test::BagOfWordsEncoder encoder(32, "bow-32");
  put("a.txt", {"alpha one", "alpha two"});
  put("b.txt", {"beta one"});
  EXPECT_EQ(embed_knowledge_base(*kb, encoder, "enc").added, 3);
  auto before = kb->chunk_ids();

  put("a.txt", {"alpha replaced"});
  SyncStats stats = embed_knowledge_base(*kb, encoder, "enc");
  EXPECT_EQ(stats.added, 1);
  EXPECT_EQ(stats.removed, 2);
  auto index = VectorIndex::load(kb->vector_index_path());
  EXPECT_EQ(index->ids(), kb->chunk_ids());
  EXPECT_GT(kb->chunk_ids().back(), before.back());  // new id, never reused

  kb->remove_document("b.txt");
  stats = embed_knowledge_base(*kb, encoder, "enc");
  EXPECT_EQ(stats.removed, 1);
  EXPECT_EQ(stats.total, 1);
  EXPECT_EQ(VectorIndex::load(kb->vector_index_path())->ids(), kb->chunk_ids());
  EXPECT_EQ(kb->meta("encoder_dim").value_or(""), "32");
}

}  // namespace
}  // namespace tunekit::rag
