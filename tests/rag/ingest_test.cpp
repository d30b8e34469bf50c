// The ingest pipeline: folders expanded, unchanged files skipped with the same chunk ids, changed
// ones replaced, failures reported by name while the rest go in, the chunking kept in meta, and the
// vector-sync hook called only when something changed.
#include <gtest/gtest.h>

#include "rag_test_util.h"
#include "test_paths.h"
#include "tunekit/rag/ingest.h"

using namespace tunekit;
using namespace tunekit::rag;
using tunekit::test::write_file;

namespace {

std::vector<std::string> failed_paths(const IngestReport& r) {
  std::vector<std::string> out;
  for (const auto& f : r.failed) out.push_back(f.path);
  return out;
}

}  // namespace

TEST(Ingest, ExpandsFoldersRecursivelyInSortedOrder) {
  const auto dir = test::temp_dir("ingest-expand");
  write_file(dir / "docs/b.md", "# B\nbee");
  write_file(dir / "docs/a.txt", "a");
  write_file(dir / "docs/sub/c.json", R"([{"text": "c"}])");
  write_file(dir / "docs/image.png", "not a document");
  write_file(dir / "single.pptx", "named directly: tried (and fails later)");
  const auto files = expand_inputs({dir / "docs", dir / "single.pptx", dir / "docs/a.txt"});
  const std::vector<std::filesystem::path> want = {dir / "docs/a.txt", dir / "docs/b.md", dir / "docs/sub/c.json",
                                                   dir / "single.pptx"};
  EXPECT_EQ(files, want);
  const std::string msg = test::error_of([&] { expand_inputs({dir / "nope"}); });
  EXPECT_NE(msg.find((dir / "nope").string() + ": no such file or folder"), std::string::npos) << msg;
}

TEST(Ingest, UnchangedIsANoOpAndChangedReplaces) {
  const auto dir = test::temp_dir("ingest-reingest");
  write_file(dir / "docs/a.md", "# Apples\nRed fruit.\n# Pears\nGreen fruit.");
  write_file(dir / "docs/b.txt", "Bananas are yellow.");
  auto kb = KnowledgeBase::open(dir / "kb", true);
  IngestOptions options;
  options.chunking.mode = ChunkMode::Section;
  int synced = 0;
  options.on_documents_changed = [&](KnowledgeBase& base) {
    EXPECT_EQ(&base, kb.get());
    ++synced;
  };
  std::vector<FileEvent> events;
  const IngestReport first = ingest(*kb, {dir / "docs"}, options, [&](const FileEvent& e) { events.push_back(e); });
  EXPECT_EQ(first.added, (std::vector<std::string>{"a.md", "b.txt"}));
  EXPECT_TRUE(first.replaced.empty() && first.unchanged.empty() && first.failed.empty());
  EXPECT_EQ(first.pages, 2);
  EXPECT_EQ(first.chunks, 3);
  EXPECT_GE(first.seconds, 0);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].outcome, FileOutcome::Added);
  EXPECT_EQ(events[1].index, 1u);
  EXPECT_EQ(events[1].total, 2u);
  EXPECT_EQ(synced, 1);
  EXPECT_EQ(kb->meta("chunking"), "section 256/32 words");
  const auto ids = kb->chunk_ids();

  const IngestReport again = ingest(*kb, {dir / "docs"}, options);
  EXPECT_EQ(again.unchanged, (std::vector<std::string>{"a.md", "b.txt"}));
  EXPECT_TRUE(again.added.empty() && again.replaced.empty());
  EXPECT_EQ(kb->chunk_ids(), ids);
  EXPECT_EQ(synced, 1);  // nothing changed: no sync

  write_file(dir / "docs/a.md", "# Apples\nRed or green fruit.");
  const IngestReport changed = ingest(*kb, {dir / "docs"}, options);
  EXPECT_EQ(changed.replaced, std::vector<std::string>{"a.md"});
  EXPECT_EQ(changed.unchanged, std::vector<std::string>{"b.txt"});
  EXPECT_EQ(synced, 2);
  const auto after = kb->chunk_ids();
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[0], ids[2]);   // b.txt's chunk kept its id
  EXPECT_GT(after[1], ids[2]);   // a.md's new chunk has a new id
  EXPECT_EQ(kb->chunk(after[1])->text, "# Apples\nRed or green fruit.");
  EXPECT_TRUE(kb->search_bm25("pears", 5).empty());
  EXPECT_EQ(kb->find_document("a.md")->content_hash, content_hash("# Apples\nRed or green fruit."));
}

TEST(Ingest, ReportsBadFilesByNameAndIngestsTheRest) {
  TUNEKIT_REQUIRE_SHARED("data/docs/niddk-eating-and-diabetes.pdf");
  const auto dir = test::temp_dir("ingest-bad");
  const std::string pdf = test::read_bytes(test::shared_dir() / "data/docs/niddk-eating-and-diabetes.pdf");
  const auto corrupt = write_file(dir / "docs/corrupt.pdf", pdf.substr(0, pdf.size() / 2));
  const auto encrypted = dir / "docs/encrypted.pdf";
  std::filesystem::copy_file(test::source_dir() / "tests/data/rag/encrypted.pdf", encrypted);
  const auto empty = write_file(dir / "docs/empty.md", "");
  const auto latin1 = write_file(dir / "docs/latin1.txt", "na\xefve caf\xe9");
  write_file(dir / "docs/good.md", "# Good\nThis one goes in.");
  auto kb = KnowledgeBase::open(dir / "kb", true);
  const IngestReport r = ingest(*kb, {dir / "docs"}, {});
  EXPECT_EQ(r.added, std::vector<std::string>{"good.md"});
  const std::vector<std::string> want = {corrupt.string(), empty.string(), encrypted.string(), latin1.string()};
  EXPECT_EQ(failed_paths(r), want);
  const char* reasons[] = {"not a PDF or corrupt", "empty file", "encrypted PDF", "invalid UTF-8 at byte offset 2"};
  for (size_t i = 0; i < r.failed.size() && i < 4; ++i) {
    EXPECT_NE(r.failed[i].reason.find(want[i]), std::string::npos) << r.failed[i].reason;
    EXPECT_NE(r.failed[i].reason.find(reasons[i]), std::string::npos) << r.failed[i].reason;
  }
  EXPECT_EQ(kb->documents().size(), 1u);
}

TEST(Ingest, RefusesMixedChunkingAndDuplicateNames) {
  const auto dir = test::temp_dir("ingest-refuse");
  write_file(dir / "one/notes.txt", "first");
  write_file(dir / "two/notes.txt", "second");
  auto kb = KnowledgeBase::open(dir / "kb", true);
  const IngestReport r = ingest(*kb, {dir / "one", dir / "two"}, {});
  EXPECT_EQ(r.added, std::vector<std::string>{"notes.txt"});
  ASSERT_EQ(r.failed.size(), 1u);
  EXPECT_NE(r.failed[0].reason.find("already ingested from " + (dir / "one/notes.txt").string()), std::string::npos)
      << r.failed[0].reason;

  IngestOptions page;
  page.chunking.mode = ChunkMode::Page;
  const std::string msg = test::error_of([&] { ingest(*kb, {dir / "one"}, page); });
  EXPECT_NE(msg.find("chunked as 'tokens 256/32 words', not 'page 256/32 words'"), std::string::npos) << msg;
}
