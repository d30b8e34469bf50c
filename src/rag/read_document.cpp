// read_document: dispatch on the extension, the checks every format shares (empty file, UTF-8),
// the content hash, and the pages' joined text.
#include <algorithm>
#include <cctype>
#include <cstdio>

#include "rag/readers.h"
#include "tunekit/error.h"
#include "tunekit/io/file_util.h"

namespace tunekit::rag {

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return s;
}

std::string kind_of(const std::filesystem::path& path) {
  const std::string ext = lower(path.extension().string());
  if (ext == ".pdf") return "pdf";
  if (ext == ".md" || ext == ".markdown") return "markdown";
  if (ext == ".json" || ext == ".jsonl") return "json";
  if (ext == ".txt") return "text";
  std::string list;
  for (const auto& e : supported_extensions()) list += (list.empty() ? "" : ", ") + e;
  fail(path.string(), ": unsupported file type '", ext, "' (supported: ", list, ")");
}

bool is_blank(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isspace(c); });
}

void join_pages(ParsedDocument& doc) {
  for (const PageRecord& p : doc.pages) {
    if (!doc.page_begin.empty()) doc.text += '\n';
    doc.page_begin.push_back(doc.text.size());
    doc.text += p.text;
  }
}

}  // namespace

const std::vector<std::string>& supported_extensions() {
  static const std::vector<std::string> exts = {".pdf", ".md", ".markdown", ".json", ".jsonl", ".txt"};
  return exts;
}

std::string content_hash(std::string_view bytes) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a 64 offset basis
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ull;  // FNV 64 prime
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return hex;
}

void check_utf8(std::string_view text, const std::string& what) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  for (size_t i = 0; i < n;) {
    const unsigned char c = s[i];
    size_t len = 0;
    uint32_t cp = 0, min = 0;
    if (c < 0x80) len = 1, cp = c;
    else if ((c & 0xE0) == 0xC0) len = 2, cp = c & 0x1F, min = 0x80;
    else if ((c & 0xF0) == 0xE0) len = 3, cp = c & 0x0F, min = 0x800;
    else if ((c & 0xF8) == 0xF0) len = 4, cp = c & 0x07, min = 0x10000;
    bool ok = len > 0 && i + len <= n;
    for (size_t k = 1; ok && k < len; ++k) {
      ok = (s[i + k] & 0xC0) == 0x80;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    ok = ok && cp >= min && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
    check(ok, what, ": invalid UTF-8 at byte offset ", i, " (save the file as UTF-8)");
    i += len;
  }
}

ParsedDocument read_document(const std::filesystem::path& path, const ReadOptions& options) {
  kind_of(path);  // an unsupported extension fails before the file is read
  check(!std::filesystem::is_directory(path), path.string(), ": is a folder, not a document");
  return parse_document(path, read_text_file(path), options);
}

ParsedDocument parse_document(const std::filesystem::path& path, const std::string& bytes,
                              const ReadOptions& options) {
  const std::string kind = kind_of(path);
  check(!bytes.empty(), path.string(), ": empty file");

  ParsedDocument doc;
  doc.record.name = path.filename().string();
  doc.record.path = path.string();
  doc.record.kind = kind;
  doc.record.content_hash = content_hash(bytes);
  doc.record.metadata_json = "{}";
  if (kind == "pdf") {
    read_pdf(path, bytes, doc);
  } else {
    check_utf8(bytes, path.string());
    const bool bom = bytes.starts_with("\xEF\xBB\xBF");  // a UTF-8 byte-order mark is not text
    const std::string text = bom ? bytes.substr(3) : bytes;
    const std::string ext = lower(path.extension().string());
    if (kind == "markdown") read_markdown(path, text, doc);
    else if (kind == "json") read_json_records(path, text, ext == ".jsonl", options, doc);
    else doc.pages.push_back({1, text});
    check(!is_blank(doc.pages.front().text), path.string(), ": no text (only white space)");
  }
  if (doc.record.title.empty()) doc.record.title = path.stem().string();
  doc.record.n_pages = static_cast<int64_t>(doc.pages.size());
  join_pages(doc);
  return doc;
}

}  // namespace tunekit::rag
