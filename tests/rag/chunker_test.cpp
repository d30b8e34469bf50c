// The chunker on constructed multi-page documents: window contents, overlaps and the page span
// and section of every chunk; with a real tokenizer, windows within the token budget and maximal.
#include <gtest/gtest.h>

#include "rag_test_util.h"
#include "test_paths.h"
#include "tunekit/rag/chunker.h"

using namespace tunekit;
using namespace tunekit::rag;

namespace {

// A document of these pages, joined as read_document joins them ("\n" between pages).
ParsedDocument doc_of(const std::vector<std::string>& pages) {
  ParsedDocument d;
  for (size_t i = 0; i < pages.size(); ++i) {
    if (i > 0) d.text += '\n';
    d.page_begin.push_back(d.text.size());
    d.text += pages[i];
    d.pages.push_back({static_cast<int64_t>(i + 1), pages[i]});
  }
  return d;
}

struct Expected {
  int64_t first, last;
  std::string section, text;
};

void expect_chunks(const std::vector<ChunkInput>& got, const std::vector<Expected>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got[i].page_first, want[i].first) << i;
    EXPECT_EQ(got[i].page_last, want[i].last) << i;
    EXPECT_EQ(got[i].section, want[i].section) << i;
    EXPECT_EQ(got[i].text, want[i].text) << i;
  }
}

ChunkOptions words(ChunkMode mode, int64_t n, int64_t overlap) { return {mode, n, overlap, nullptr, ""}; }

}  // namespace

TEST(Chunker, TokenWindowsCrossPagesWithOverlap) {
  const ParsedDocument d = doc_of({"alpha beta gamma", "delta  epsilon\nzeta", "eta theta iota"});
  expect_chunks(chunk_document(d, words(ChunkMode::Tokens, 4, 1)),
                {{1, 2, "", "alpha beta gamma\ndelta"},
                 {2, 3, "", "delta  epsilon\nzeta\neta"},  // the document's own white space is kept
                 {3, 3, "", "eta theta iota"}});
  expect_chunks(chunk_document(d, words(ChunkMode::Tokens, 3, 0)),
                {{1, 1, "", "alpha beta gamma"}, {2, 2, "", "delta  epsilon\nzeta"}, {3, 3, "", "eta theta iota"}});
  expect_chunks(chunk_document(d, words(ChunkMode::Tokens, 100, 10)),
                {{1, 3, "", d.text}});
  // Overlap of 2 out of 3: every window starts one word later.
  EXPECT_EQ(chunk_document(d, words(ChunkMode::Tokens, 3, 2)).size(), 7u);
}

TEST(Chunker, PageModeSplitsLongPagesAndNeverCrossesThem) {
  const ParsedDocument d = doc_of({"alpha beta gamma", "", "delta epsilon"});
  expect_chunks(chunk_document(d, words(ChunkMode::Page, 2, 0)),
                {{1, 1, "", "alpha beta"}, {1, 1, "", "gamma"}, {3, 3, "", "delta epsilon"}});  // blank page 2: none
}

TEST(Chunker, SectionsNameChunksAndSpanPages) {
  ParsedDocument d = doc_of({"# A\nintro words", "more of A\n# B\nbee", "bee two"});
  // Byte ranges: section A from 0 to the "# B" line on page 2, B from there to the end.
  const size_t b_start = d.text.find("# B");
  d.sections = {{"A", 0, b_start}, {"A > B", b_start, d.text.size()}};
  expect_chunks(chunk_document(d, words(ChunkMode::Section, 100, 0)),
                {{1, 2, "A", "# A\nintro words\nmore of A"}, {2, 3, "A > B", "# B\nbee\nbee two"}});
  expect_chunks(chunk_document(d, words(ChunkMode::Section, 3, 0)),
                {{1, 1, "A", "# A\nintro"}, {1, 2, "A", "words\nmore of"}, {2, 2, "A", "A"},
                 {2, 2, "A > B", "# B\nbee"}, {3, 3, "A > B", "bee two"}});
  // Token windows take the section their first byte is in; page mode likewise.
  expect_chunks(chunk_document(d, words(ChunkMode::Tokens, 5, 0)),
                {{1, 2, "A", "# A\nintro words\nmore"}, {2, 2, "A", "of A\n# B\nbee"}, {3, 3, "A > B", "bee two"}});
  expect_chunks(chunk_document(d, words(ChunkMode::Page, 100, 0)),
                {{1, 1, "A", "# A\nintro words"}, {2, 2, "A", "more of A\n# B\nbee"}, {3, 3, "A > B", "bee two"}});
}

TEST(Chunker, SectionModeWithoutSectionsChunksByPage) {
  const ParsedDocument d = doc_of({"one two", "three"});
  expect_chunks(chunk_document(d, words(ChunkMode::Section, 10, 0)), {{1, 1, "", "one two"}, {2, 2, "", "three"}});
}

TEST(Chunker, OptionsAndModeNames) {
  const ParsedDocument d = doc_of({"a b c"});
  EXPECT_THROW(chunk_document(d, words(ChunkMode::Tokens, 0, 0)), Error);
  EXPECT_THROW(chunk_document(d, words(ChunkMode::Tokens, 4, 4)), Error);
  EXPECT_THROW(chunk_document(d, words(ChunkMode::Tokens, 4, -1)), Error);
  for (auto mode : {ChunkMode::Page, ChunkMode::Section, ChunkMode::Tokens})
    EXPECT_EQ(chunk_mode_from_name(chunk_mode_name(mode)), mode);
  const std::string msg = test::error_of([] { chunk_mode_from_name("sentences"); });
  EXPECT_NE(msg.find("choose page, section or tokens"), std::string::npos) << msg;
  EXPECT_EQ(describe(words(ChunkMode::Tokens, 256, 32)), "tokens 256/32 words");
  EXPECT_TRUE(chunk_document(doc_of({" \n "}), words(ChunkMode::Tokens, 4, 1)).empty());
}

TEST(Chunker, TokenizerWindowsStayWithinTheBudgetAndAreMaximal) {
  TUNEKIT_REQUIRE_SHARED("tokenizers/tinyllama-1.1b-chat/tokenizer.json");
  TUNEKIT_REQUIRE_SHARED("data/docs/grays-anatomy-1918-osteology.txt");
  const auto tok = load_tokenizer(test::shared_dir() / "tokenizers/tinyllama-1.1b-chat/tokenizer.json");
  const std::string gray = test::read_bytes(test::shared_dir() / "data/docs/grays-anatomy-1918-osteology.txt");
  const ParsedDocument d = doc_of({gray.substr(0, 6000), gray.substr(6000, 6000)});
  const int64_t n = 64, m = 16;
  const ChunkOptions options = {ChunkMode::Tokens, n, m, tok.get(), "tinyllama"};
  EXPECT_EQ(describe(options), "tokens 64/16 tokenizer tinyllama");
  const auto chunks = chunk_document(d, options);
  ASSERT_GT(chunks.size(), 10u);
  auto tokens = [&](std::string_view s) { return static_cast<int64_t>(tok->encode(s, false).size()); };
  size_t previous_end = 0, previous_begin = 0;
  for (size_t i = 0; i < chunks.size(); ++i) {
    const size_t begin = d.text.find(chunks[i].text, i == 0 ? 0 : previous_begin + 1);
    ASSERT_NE(begin, std::string::npos) << i;
    const size_t end = begin + chunks[i].text.size();
    EXPECT_LE(tokens(chunks[i].text), n) << i;
    if (i > 0) {
      EXPECT_LT(begin, previous_end) << i;  // overlaps the previous window...
      EXPECT_LE(tokens(std::string_view(d.text).substr(begin, previous_end - begin)), m) << i;  // ...by at most m
    }
    if (i + 1 < chunks.size()) {  // one more word would not fit
      size_t next_end = end;
      while (next_end < d.text.size() && std::isspace(static_cast<unsigned char>(d.text[next_end]))) ++next_end;
      while (next_end < d.text.size() && !std::isspace(static_cast<unsigned char>(d.text[next_end]))) ++next_end;
      EXPECT_GT(tokens(std::string_view(d.text).substr(begin, next_end - begin)), n) << i;
    }
    EXPECT_EQ(chunks[i].page_first, begin < d.page_begin[1] ? 1 : 2) << i;
    EXPECT_EQ(chunks[i].page_last, end - 1 < d.page_begin[1] ? 1 : 2) << i;
    previous_begin = begin;
    previous_end = end;
  }
  EXPECT_EQ(previous_end, d.text.find_last_not_of(" \n\r\t") + 1);  // the last window reaches the end
}
