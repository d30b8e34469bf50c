// PDF through poppler-cpp: every physical page's text in reading order, the info dictionary as
// metadata. Password-protected, corrupt and text-less (scanned) PDFs are Errors naming the file.
#include <poppler-document.h>
#include <poppler-global.h>
#include <poppler-page.h>
#include <poppler-rectangle.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <mutex>

#include <nlohmann/json.hpp>

#include "rag/readers.h"
#include "tunekit/error.h"

namespace tunekit::rag {

namespace {

std::string utf8(const poppler::ustring& s) {
  const poppler::byte_array bytes = s.to_utf8();
  return std::string(bytes.begin(), bytes.end());
}

bool has_visible_text(const std::string& s) {
  return std::any_of(s.begin(), s.end(), [](unsigned char c) { return !std::isspace(c); });
}

}  // namespace

void silence_poppler() {
  static std::once_flag once;
  std::call_once(once, [] { poppler::set_debug_error_function([](const std::string&, void*) {}, nullptr); });
}

void read_pdf(const std::filesystem::path& path, const std::string& bytes, ParsedDocument& doc) {
  silence_poppler();
  check(bytes.size() < (size_t(1) << 31), path.string(), ": PDF larger than 2 GiB");
  std::unique_ptr<poppler::document> pdf(
      poppler::document::load_from_raw_data(bytes.data(), static_cast<int>(bytes.size())));
  check(pdf != nullptr, path.string(), ": not a PDF or corrupt (poppler cannot load it)");
  check(!pdf->is_locked(), path.string(), ": encrypted PDF (it needs a password: save a decrypted copy, e.g. qpdf --decrypt)");

  nlohmann::json info = nlohmann::json::object();
  for (const std::string& key : pdf->info_keys()) {
    const std::string value = utf8(pdf->info_key(key));
    if (!value.empty()) info[key] = value;
  }
  if (info.contains("Title")) doc.record.title = info["Title"].get<std::string>();
  doc.record.metadata_json = info.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);

  bool any_text = false;
  const int n_pages = pdf->pages();
  check(n_pages > 0, path.string(), ": not a PDF or corrupt (no pages)");
  for (int i = 0; i < n_pages; ++i) {
    std::unique_ptr<poppler::page> page(pdf->create_page(i));
    // Reading order (pdftotext's default): columns one after the other, not interleaved by line.
    std::string text = page ? utf8(page->text(poppler::rectf(), poppler::page::non_raw_non_physical_layout)) : std::string();
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();  // "\n\f" at the end
    any_text = any_text || has_visible_text(text);
    doc.pages.push_back({i + 1, std::move(text)});
  }
  check(any_text, path.string(), ": no extractable text (scanned? OCR it first)");
}

}  // namespace tunekit::rag
