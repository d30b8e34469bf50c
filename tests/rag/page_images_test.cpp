// PNG page images: one file per page, the PNG header's size matching the page at the asked
// resolution, nothing temporary left behind, refusals naming the file; and ingest's hook.
#include <gtest/gtest.h>

#include "rag_test_util.h"
#include "test_paths.h"
#include "tunekit/rag/ingest.h"
#include "tunekit/rag/page_images.h"

using namespace tunekit;
using namespace tunekit::rag;

namespace {

struct PngSize {
  uint32_t width = 0, height = 0;
};

// Width and height from the IHDR chunk, which a PNG file must start with (after its signature).
PngSize png_size(const std::filesystem::path& path) {
  const std::string b = test::read_bytes(path);
  EXPECT_GE(b.size(), 24u);
  EXPECT_EQ(b.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8)) << path;
  EXPECT_EQ(b.substr(12, 4), "IHDR") << path;
  auto be32 = [&](size_t at) {
    return uint32_t(uint8_t(b[at])) << 24 | uint32_t(uint8_t(b[at + 1])) << 16 | uint32_t(uint8_t(b[at + 2])) << 8 |
           uint32_t(uint8_t(b[at + 3]));
  };
  return b.size() >= 24 ? PngSize{be32(16), be32(20)} : PngSize{};
}

size_t files_in(const std::filesystem::path& dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++n;
  return n;
}

}  // namespace

TEST(PageImages, OnePngPerPageAtTheAskedResolution) {
  const auto pdf = test::source_dir() / "tests/data/rag/no_text.pdf";  // two US-letter pages (612 x 792 pt)
  const auto out = test::temp_dir("page-images");
  for (const auto& [dpi, width, height] : {std::tuple{72.0, 612u, 792u}, std::tuple{36.0, 306u, 396u}}) {
    const auto files = render_pdf_pages(pdf, out / std::to_string(int(dpi)), dpi);
    ASSERT_EQ(files.size(), 2u);
    EXPECT_EQ(files[0], out / std::to_string(int(dpi)) / "no_text.pdf" / "page-0001.png");
    EXPECT_EQ(files[1].filename(), "page-0002.png");
    for (const auto& f : files) {
      const PngSize size = png_size(f);
      EXPECT_EQ(size.width, width) << f;
      EXPECT_EQ(size.height, height) << f;
    }
    EXPECT_EQ(files_in(files[0].parent_path()), 2u);  // no temporary file left
  }
  const std::string encrypted = test::error_of(
      [&] { render_pdf_pages(test::source_dir() / "tests/data/rag/encrypted.pdf", out / "x"); });
  EXPECT_NE(encrypted.find("encrypted.pdf: encrypted PDF"), std::string::npos) << encrypted;
  const auto text = test::write_file(out / "text.pdf", "not a pdf");
  EXPECT_NE(test::error_of([&] { render_pdf_pages(text, out / "x"); }).find("text.pdf: not a PDF"), std::string::npos);
  EXPECT_THROW(render_pdf_pages(pdf, out / "x", 0), Error);
}

TEST(PageImages, IngestRendersAddedPdfs) {
  TUNEKIT_REQUIRE_SHARED("data/docs/niddk-eating-and-diabetes.pdf");
  const auto dir = test::temp_dir("page-images-ingest");
  test::write_file(dir / "docs/notes.md", "# Notes\nNo pages to render.");
  std::filesystem::copy_file(test::shared_dir() / "data/docs/niddk-eating-and-diabetes.pdf",
                             dir / "docs/niddk-eating-and-diabetes.pdf");
  auto kb = KnowledgeBase::open(dir / "kb", true);
  IngestOptions options;
  options.render_pages_dir = dir / "pages";
  options.render_dpi = 18;
  const IngestReport r = ingest(*kb, {dir / "docs"}, options);
  ASSERT_EQ(r.added.size(), 2u);
  EXPECT_EQ(files_in(dir / "pages"), 1u);  // the PDF only
  EXPECT_EQ(files_in(dir / "pages/niddk-eating-and-diabetes.pdf"), 52u);
  const PngSize first = png_size(dir / "pages/niddk-eating-and-diabetes.pdf/page-0001.png");
  EXPECT_GT(first.width, 50u);
  EXPECT_GT(first.height, 50u);
}
