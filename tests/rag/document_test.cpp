// Document readers: Markdown sections, JSON/JSONL records, plain text, and every way a file can be
// refused (empty, not UTF-8, unsupported, corrupt or encrypted PDF), each naming the file.
#include <poppler-document.h>
#include <poppler-page.h>

#include <memory>

#include "rag_test_util.h"
#include "test_paths.h"
#include "tunekit/rag/document.h"

using namespace tunekit;
using namespace tunekit::rag;
using tunekit::test::error_of;
using tunekit::test::write_file;

namespace {

std::string section_text(const ParsedDocument& d, size_t i) {
  return d.text.substr(d.sections[i].begin, d.sections[i].end - d.sections[i].begin);
}

void expect_refused(const std::filesystem::path& path, const std::string& reason) {
  const std::string msg = error_of([&] { read_document(path); });
  EXPECT_NE(msg.find(path.string()), std::string::npos) << msg;
  EXPECT_NE(msg.find(reason), std::string::npos) << msg;
}

}  // namespace

TEST(ContentHash, Fnv1a64KnownVectors) {
  // The FNV-1a 64 test vectors of the algorithm's authors (Fowler/Noll/Vo).
  EXPECT_EQ(content_hash(""), "cbf29ce484222325");
  EXPECT_EQ(content_hash("a"), "af63dc4c8601ec8c");
  EXPECT_EQ(content_hash("foobar"), "85944171f73967e8");
}

TEST(Utf8, AcceptsValidAndNamesTheFirstBadByte) {
  EXPECT_NO_THROW(check_utf8("plain ascii", "x"));
  EXPECT_NO_THROW(check_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf", "x"));
  const std::pair<std::string, size_t> bad[] = {
      {"ab\xff" "cd", 2},               // never valid
      {"abc\xe2\x82", 3},               // truncated at the end
      {"a\xc0\xaf", 1},                 // overlong '/'
      {"xy\xed\xa0\x80", 2},            // surrogate
      {"\xf4\x90\x80\x80", 0},          // above U+10FFFF
      {"ok \xc3\xa9\x80", 5},           // stray continuation byte
  };
  for (const auto& [text, offset] : bad) {
    const std::string msg = error_of([&] { check_utf8(text, "f.txt"); });
    EXPECT_NE(msg.find("f.txt: invalid UTF-8 at byte offset " + std::to_string(offset)), std::string::npos) << msg;
  }
}

TEST(ReadDocument, MarkdownSectionsFollowHeadings) {
  const auto path = write_file(test::temp_dir("doc-md") / "notes.md",
                               "Intro line.\n"
                               "# Bones\n"
                               "About bones.\n"
                               "## Skull\n"
                               "The skull.\n"
                               "```\n"
                               "# not a heading (code)\n"
                               "```\n"
                               "### Mandible ###\n"
                               "Jaw.\n"
                               "## Spine\n"
                               "Vertebrae.\n"
                               "#hashtag is text\n"
                               "# Muscles\n"
                               "Biceps.");
  const ParsedDocument d = read_document(path);
  EXPECT_EQ(d.record.name, "notes.md");
  EXPECT_EQ(d.record.kind, "markdown");
  EXPECT_EQ(d.record.title, "Bones");
  EXPECT_EQ(d.record.n_pages, 1);
  ASSERT_EQ(d.pages.size(), 1u);
  EXPECT_EQ(d.text, d.pages[0].text);
  const std::vector<std::string> headings = {"", "Bones", "Bones > Skull", "Bones > Skull > Mandible", "Bones > Spine",
                                             "Muscles"};
  ASSERT_EQ(d.sections.size(), headings.size());
  for (size_t i = 0; i < headings.size(); ++i) EXPECT_EQ(d.sections[i].heading, headings[i]) << i;
  EXPECT_EQ(section_text(d, 0), "Intro line.\n");
  EXPECT_EQ(section_text(d, 2), "## Skull\nThe skull.\n```\n# not a heading (code)\n```\n");
  EXPECT_EQ(section_text(d, 4), "## Spine\nVertebrae.\n#hashtag is text\n");
  EXPECT_EQ(section_text(d, 5), "# Muscles\nBiceps.");
  EXPECT_EQ(d.record.content_hash, content_hash(test::read_bytes(path)));
}

TEST(ReadDocument, JsonAndJsonlRecordsBecomeSections) {
  const auto dir = test::temp_dir("doc-json");
  const auto json = write_file(dir / "faq.json", R"([{"title": "Fever", "text": "Drink water."},
                                                     {"id": 7, "content": "Rest."},
                                                     {"body": "Call a doctor.", "extra": [1]}])");
  const ParsedDocument d = read_document(json);
  EXPECT_EQ(d.record.kind, "json");
  ASSERT_EQ(d.sections.size(), 3u);
  EXPECT_EQ(d.sections[0].heading, "Fever");
  EXPECT_EQ(d.sections[1].heading, "7");
  EXPECT_EQ(d.sections[2].heading, "record 3");
  EXPECT_EQ(section_text(d, 0), "Drink water.");
  EXPECT_EQ(section_text(d, 1), "Rest.");
  EXPECT_EQ(section_text(d, 2), "Call a doctor.");
  EXPECT_EQ(d.record.metadata_json, R"({"records":3})");

  const auto jsonl = write_file(dir / "qa.jsonl", "{\"q\": \"Why?\", \"a\": \"Because.\", \"source\": \"s1\"}\n\n"
                                                  "{\"q\": \"How?\", \"a\": \"So.\"}\n");
  ReadOptions options;
  options.text_fields = {"q", "a"};
  const ParsedDocument l = read_document(jsonl, options);
  ASSERT_EQ(l.sections.size(), 2u);
  EXPECT_EQ(section_text(l, 0), "Why?\n\nBecause.");
  EXPECT_EQ(l.sections[0].heading, "s1");
  EXPECT_EQ(section_text(l, 1), "How?\n\nSo.");

  const std::string missing = error_of([&] { read_document(jsonl); });  // no text/content/body
  EXPECT_NE(missing.find(jsonl.string() + ": line 1: no text field"), std::string::npos) << missing;
  EXPECT_NE(missing.find("--text-field"), std::string::npos) << missing;
  expect_refused(write_file(dir / "bad.json", "{\"text\": \"not an array\"}"), "expected a JSON array");
  expect_refused(write_file(dir / "broken.json", "[{\"text\": \"a\"},"), "not valid JSON");
  expect_refused(write_file(dir / "broken.jsonl", "{\"text\": \"a\"}\n{oops}\n"), "not valid JSONL");
  expect_refused(write_file(dir / "nums.json", "[1, 2]"), "record 1: not a JSON object");
  expect_refused(write_file(dir / "none.json", "[]"), "no records");
}

TEST(ReadDocument, PlainTextIsOnePage) {
  const auto path = write_file(test::temp_dir("doc-txt") / "a.txt", "Line one.\nLine two.\n");
  const ParsedDocument d = read_document(path);
  EXPECT_EQ(d.record.kind, "text");
  EXPECT_EQ(d.record.title, "a");
  EXPECT_EQ(d.record.metadata_json, "{}");
  ASSERT_EQ(d.pages.size(), 1u);
  EXPECT_EQ(d.pages[0].page, 1);
  EXPECT_EQ(d.pages[0].text, "Line one.\nLine two.\n");
  EXPECT_TRUE(d.sections.empty());

  // A byte-order mark is dropped (the hash still covers the file's bytes); CRLF headings work.
  const auto bom = write_file(test::temp_dir("doc-bom") / "bom.md", "\xEF\xBB\xBF# Title\r\nText.\r\n");
  const ParsedDocument b = read_document(bom);
  EXPECT_EQ(b.pages[0].text, "# Title\r\nText.\r\n");
  EXPECT_EQ(b.record.title, "Title");
  ASSERT_EQ(b.sections.size(), 1u);
  EXPECT_EQ(b.sections[0].heading, "Title");
  EXPECT_EQ(b.record.content_hash, content_hash(test::read_bytes(bom)));
}

TEST(ReadDocument, RefusesBadFilesNamingThem) {
  const auto dir = test::temp_dir("doc-bad");
  expect_refused(write_file(dir / "empty.txt", ""), "empty file");
  expect_refused(write_file(dir / "empty.pdf", ""), "empty file");
  expect_refused(write_file(dir / "blank.md", " \n\t\n"), "no text");
  expect_refused(write_file(dir / "latin1.txt", "caf\xe9 au lait"), "invalid UTF-8 at byte offset 3");
  expect_refused(write_file(dir / "latin1.md", "# T\n\xff"), "invalid UTF-8 at byte offset 4");
  expect_refused(write_file(dir / "slides.pptx", "x"), "unsupported file type '.pptx' (supported: .pdf, .md");
  expect_refused(dir / "absent.txt", "cannot open");
  expect_refused(write_file(dir / "text.pdf", "this is not a PDF at all\n"), "not a PDF or corrupt");
}

TEST(ReadDocument, RefusesCorruptAndEncryptedPdfs) {
  TUNEKIT_REQUIRE_SHARED("data/docs/niddk-eating-and-diabetes.pdf");
  const std::string real = test::read_bytes(test::shared_dir() / "data/docs/niddk-eating-and-diabetes.pdf");
  const auto dir = test::temp_dir("doc-pdf-bad");
  expect_refused(write_file(dir / "truncated.pdf", real.substr(0, real.size() / 3)), "not a PDF or corrupt");
  expect_refused(write_file(dir / "head.pdf", real.substr(0, 1000)), "not a PDF or corrupt");

  // tests/data/rag/encrypted.pdf (scripts/make_test_pdfs.py): RC4-encrypted, user password
  // "secret". poppler itself opens it with the password, so it is a real encrypted PDF, not a
  // corrupt one.
  const auto encrypted = test::source_dir() / "tests/data/rag/encrypted.pdf";
  std::unique_ptr<poppler::document> unlocked(poppler::document::load_from_file(encrypted.string(), "", "secret"));
  ASSERT_TRUE(unlocked && !unlocked->is_locked());
  std::unique_ptr<poppler::page> page(unlocked->create_page(0));
  const auto utf8 = page->text().to_utf8();
  EXPECT_NE(std::string(utf8.begin(), utf8.end()).find("Secret text on page one"), std::string::npos);
  expect_refused(encrypted, "encrypted PDF");

  // Two valid pages that only draw a rectangle (scripts/make_test_pdfs.py): poppler loads them.
  const auto no_text = test::source_dir() / "tests/data/rag/no_text.pdf";
  std::unique_ptr<poppler::document> blank(poppler::document::load_from_file(no_text.string()));
  ASSERT_TRUE(blank && blank->pages() == 2);
  expect_refused(no_text, "no extractable text (scanned? OCR it first)");
}
