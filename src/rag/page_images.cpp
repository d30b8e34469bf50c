#include "tunekit/rag/page_images.h"

#include <poppler-document.h>
#include <poppler-image.h>
#include <poppler-page-renderer.h>
#include <poppler-page.h>
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "rag/readers.h"
#include "tunekit/error.h"

namespace tunekit::rag {

std::vector<std::filesystem::path> render_pdf_pages(const std::filesystem::path& pdf,
                                                    const std::filesystem::path& out_dir, double dpi) {
  check(dpi > 0 && dpi <= 1200, pdf.string(), ": render resolution ", dpi, " dpi is outside 1..1200");
  silence_poppler();
  check(poppler::page_renderer::can_render(), pdf.string(), ": this poppler cannot render pages (built without Splash)");
  std::unique_ptr<poppler::document> doc(poppler::document::load_from_file(pdf.string()));
  check(doc != nullptr, pdf.string(), ": not a PDF or corrupt (poppler cannot load it)");
  check(!doc->is_locked(), pdf.string(), ": encrypted PDF (it needs a password)");
  const auto dir = out_dir / pdf.filename();
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  check(!ec, dir.string(), ": cannot create the folder (", ec.message(), ")");

  poppler::page_renderer renderer;
  renderer.set_render_hints(poppler::page_renderer::antialiasing | poppler::page_renderer::text_antialiasing);
  std::vector<std::filesystem::path> written;
  for (int i = 0; i < doc->pages(); ++i) {
    std::unique_ptr<poppler::page> page(doc->create_page(i));
    check(page != nullptr, pdf.string(), ": page ", i + 1, " cannot be read");
    const poppler::image image = renderer.render_page(page.get(), dpi, dpi);
    check(image.is_valid(), pdf.string(), ": page ", i + 1, " could not be rendered");
    char name[32];
    std::snprintf(name, sizeof name, "page-%04d.png", i + 1);
    const auto path = dir / name;
    const auto temp = dir / (std::string(name) + ".tmp-" + std::to_string(::getpid()) + ".png");
    if (!image.save(temp.string(), "png", static_cast<int>(dpi))) {
      std::filesystem::remove(temp, ec);
      fail(path.string(), ": cannot write the page image");
    }
    std::filesystem::rename(temp, path, ec);
    if (ec) {
      std::filesystem::remove(temp, ec);
      fail(path.string(), ": cannot write the page image (", ec.message(), ")");
    }
    written.push_back(path);
  }
  return written;
}

}  // namespace tunekit::rag
